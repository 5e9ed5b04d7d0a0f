import type { V1ObjectMeta } from '@kubernetes/client-node';
import { DownloaderSpecSchema, type DownloaderSpec } from './downloader-spec.js';
import type { DownloaderStatus } from './downloader-status.js';

/** API group, version and names of the Downloader resource: the user contract. */
export const GROUP = 'downloader.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Downloader';
export const PLURAL = 'downloaders';
export const SINGULAR = 'downloader';
export const SHORT_NAMES = ['dl'] as const;

/** Annotation whose every new value starts one execution at once. */
export const RUN_NOW_ANNOTATION = `${GROUP}/run-now`;
/** Finalizer that holds deletion until the operator has removed what it created in AWS. */
export const FINALIZER = `${GROUP}/cleanup`;

/** A Downloader as read from the API server (defaults applied by the server). */
export interface Downloader {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: DownloaderSpec;
  status?: DownloaderStatus;
}

export { DownloaderSpecSchema };
export type { DownloaderSpec, DownloaderStatus };

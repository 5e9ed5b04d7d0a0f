import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Downloader } from '../api/downloader.js';
import type { DownloaderStatus } from '../api/downloader-status.js';
import type { KubeClients } from './clients.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** Reads and writes Downloaders: status, finalizers. */
export class DownloaderClient {
  constructor(private readonly kube: KubeClients) {}

  async get(namespace: string, name: string): Promise<Downloader> {
    return (await this.kube.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      name,
    })) as Downloader;
  }

  /**
   * Replaces the status with a merge patch on the status subresource. Fields set to null are
   * removed; the spec is never touched.
   */
  async patchStatus(
    namespace: string,
    name: string,
    status: Partial<Record<keyof DownloaderStatus, unknown>>,
  ): Promise<Downloader> {
    return (await this.kube.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body: { status } },
      mergePatch,
    )) as Downloader;
  }

  /**
   * Sets the finalizer list, guarded by the resourceVersion it was computed from so that a
   * concurrent change to finalizers (by another controller) is never overwritten: the
   * API server answers 409 instead, and the reconcile is retried on fresh data.
   */
  async setFinalizers(downloader: Downloader, finalizers: string[]): Promise<Downloader> {
    const { namespace = '', name = '', resourceVersion } = downloader.metadata;
    return (await this.kube.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: resourceVersion },
          { op: 'replace', path: '/metadata/finalizers', value: finalizers },
        ],
      },
      jsonPatch,
    )) as Downloader;
  }
}

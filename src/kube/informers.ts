import {
  ListWatch,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION, type Downloader } from '../api/downloader.js';
import { BoundedWatch, DEFAULT_WATCH_TIMEOUT_S } from './bounded-watch.js';
import type { KubeClients } from './clients.js';

/** Delay before an informer whose watch failed lists and watches again. */
export const INFORMER_RESTART_DELAY_MS = 2_000;

export type CachedInformer<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/**
 * Keeps an informer running: client-node's informer stops on a watch error (a dropped
 * connection, an API server restart, 410 Gone); this lists and watches again after a short
 * delay, so no change is missed for long and the cache is rebuilt from a fresh list.
 */
export function keepRunning<T extends KubernetesObject>(
  informer: CachedInformer<T>,
  what: string,
  log: Logger,
  onRestart?: () => void,
): { stop(): Promise<void>; synced: Promise<void> } {
  let stopped = false;
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    log.warn({ err, informer: what }, 'watch failed; listing again shortly');
    setTimeout(() => {
      if (stopped) return;
      informer.start().then(onRestart, (startErr: unknown) => {
        log.warn({ err: startErr, informer: what }, 'list failed; will retry');
      });
    }, INFORMER_RESTART_DELAY_MS).unref();
  });
  const synced = startWithRetry(informer, what, log, () => stopped);
  return {
    synced,
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
  };
}

async function startWithRetry<T extends KubernetesObject>(
  informer: CachedInformer<T>,
  what: string,
  log: Logger,
  isStopped: () => boolean,
): Promise<void> {
  for (;;) {
    try {
      await informer.start();
      return;
    } catch (err) {
      if (isStopped()) return;
      log.warn({ err, informer: what }, 'initial list failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, INFORMER_RESTART_DELAY_MS));
    }
  }
}

/** An informer over Downloaders in one namespace, or all when `namespace` is undefined. */
export function downloaderInformer(
  kube: KubeClients,
  namespace: string | undefined,
  labelSelector: string | undefined,
  watchTimeoutS: number = DEFAULT_WATCH_TIMEOUT_S,
): CachedInformer<Downloader> {
  const path = namespace
    ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`
    : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
  const list = async () => {
    const body = namespace
      ? await kube.custom.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace,
          labelSelector,
        })
      : await kube.custom.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          labelSelector,
        });
    return body as { metadata: { resourceVersion?: string }; items: Downloader[] };
  };
  return new ListWatch<Downloader>(
    path,
    new BoundedWatch(kube.config, watchTimeoutS),
    list,
    false,
    labelSelector,
  );
}

/**
 * An informer over Secrets in one namespace or all. Service account tokens and Helm release
 * Secrets are left out by field selector: Downloaders never name them and they are the bulk of
 * a cluster's Secrets.
 */
export function secretInformer(
  kube: KubeClients,
  namespace: string | undefined,
  watchTimeoutS: number = DEFAULT_WATCH_TIMEOUT_S,
): CachedInformer<V1Secret> {
  const fieldSelector = 'type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1';
  const base = namespace ? `/api/v1/namespaces/${namespace}/secrets` : '/api/v1/secrets';
  const list = () =>
    namespace
      ? kube.core.listNamespacedSecret({ namespace, fieldSelector })
      : kube.core.listSecretForAllNamespaces({ fieldSelector });
  return new ListWatch<V1Secret>(
    base,
    new BoundedWatch(kube.config, watchTimeoutS),
    list,
    false,
    undefined,
    fieldSelector,
  );
}

import {
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Downloader } from '../api/downloader.js';
import { isKubeNotFound } from '../kube/clients.js';

/** What the plugin reads and writes of Downloaders. */
export interface DownloaderApi {
  /** Downloaders of `namespace`, or of every namespace when it is undefined. */
  list(namespace: string | undefined): Promise<Downloader[]>;
  /** The Downloader, or undefined when there is none of that name. */
  get(namespace: string, name: string): Promise<Downloader | undefined>;
  /** Sets one annotation with a merge patch, leaving every other field as it is. */
  annotate(namespace: string, name: string, key: string, value: string): Promise<Downloader>;
}

/** Where to find the cluster: kubectl's own flags. */
export interface KubeOptions {
  /** --kubeconfig: this file instead of KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** --context: this context instead of the current one. */
  context?: string;
}

/** A connection to the cluster, and the namespace kubectl would use without -n. */
export interface KubeConnection {
  downloaders: DownloaderApi;
  defaultNamespace: string;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * Loads the kubeconfig as kubectl does: --kubeconfig, else KUBECONFIG (a list of files), else
 * ~/.kube/config, else the in-cluster service account; --context picks another context. The
 * default namespace is the context's, else `default`.
 */
export function connectKube(options: KubeOptions = {}): KubeConnection {
  const config = new KubeConfig();
  if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
  else config.loadFromDefault();
  if (options.context) {
    if (!config.getContextObject(options.context)) {
      throw new Error(`context "${options.context}" does not exist in the kubeconfig`);
    }
    config.setCurrentContext(options.context);
  }
  const defaultNamespace =
    config.getContextObject(config.getCurrentContext())?.namespace || 'default';
  return { downloaders: new KubeDownloaderApi(config), defaultNamespace };
}

class KubeDownloaderApi implements DownloaderApi {
  private readonly custom: CustomObjectsApi;

  constructor(config: KubeConfig) {
    this.custom = config.makeApiClient(CustomObjectsApi);
  }

  async list(namespace: string | undefined): Promise<Downloader[]> {
    const resource = { group: GROUP, version: VERSION, plural: PLURAL };
    const list = (
      namespace === undefined
        ? await this.custom.listClusterCustomObject(resource)
        : await this.custom.listNamespacedCustomObject({ ...resource, namespace })
    ) as { items?: Downloader[] };
    return list.items ?? [];
  }

  async get(namespace: string, name: string): Promise<Downloader | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
      })) as Downloader;
    } catch (err) {
      if (isKubeNotFound(err)) return undefined;
      throw err;
    }
  }

  async annotate(namespace: string, name: string, key: string, value: string) {
    return (await this.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
        body: { metadata: { annotations: { [key]: value } } },
      },
      mergePatch,
    )) as Downloader;
  }
}

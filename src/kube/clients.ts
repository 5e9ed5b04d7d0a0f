import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from '@kubernetes/client-node';

/** The Kubernetes API clients the operator uses, made from one kubeconfig. */
export interface KubeClients {
  config: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
}

/** Loads KUBECONFIG, the default kubeconfig, or the in-cluster service account, in that order. */
export function createKubeClients(): KubeClients {
  const config = new KubeConfig();
  config.loadFromDefault();
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    coordination: config.makeApiClient(CoordinationV1Api),
  };
}

/** HTTP status of a client-node API error, if it has one. */
export function kubeErrorStatus(err: unknown): number | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'number') {
    return err.code;
  }
  return undefined;
}

export const isKubeNotFound = (err: unknown): boolean => kubeErrorStatus(err) === 404;
export const isKubeConflict = (err: unknown): boolean => kubeErrorStatus(err) === 409;

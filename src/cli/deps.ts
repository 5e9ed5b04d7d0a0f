import type { ExecutionApi } from './executions.js';
import type { DownloaderApi } from './kube.js';

/**
 * What the commands use of the world, injected so that tests control the cluster, Step
 * Functions, the clock and the output.
 */
export interface CliDeps {
  downloaders: DownloaderApi;
  executions: ExecutionApi;
  /** The namespace when -n is not given: the kubeconfig context's, else `default`. */
  defaultNamespace: string;
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** Writes one line to standard output. */
  out(line: string): void;
  /** Writes one line to standard error. */
  err(line: string): void;
  /** How often `run` looks at the Downloader and the execution; 1 s unless a test says less. */
  pollIntervalMs?: number;
}

/** Maps `items` with at most `limit` calls of `fn` under way at once, keeping the order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

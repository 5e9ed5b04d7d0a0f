import { Watch, type KubeConfig } from '@kubernetes/client-node';

/** Seconds the API server keeps one watch open before it ends it, by default. */
export const DEFAULT_WATCH_TIMEOUT_S = 300;
/** How long after that a watch still open is taken for dead. */
export const WATCH_GRACE_MS = 15_000;

type Params = Record<string, string | number | boolean | undefined>;

/**
 * A Watch that cannot hang forever on a silent connection. client-node's watch waits for data
 * with no timeout, so a connection a network partition left open but silent (no reset, no FIN)
 * would hide every change until TCP keepalive gave up, many minutes later. This asks the API
 * server to end each watch after `timeoutSeconds` (the informer then watches again from the
 * resourceVersion it has, missing nothing), with bookmarks so that resourceVersion stays recent,
 * and aborts a watch still open `graceMs` after that: the informer reports the error and lists
 * and watches again (see keepRunning).
 */
export class BoundedWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly timeoutSeconds: number = DEFAULT_WATCH_TIMEOUT_S,
    private readonly graceMs: number = WATCH_GRACE_MS,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Params,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    let timer: NodeJS.Timeout | undefined;
    const params = {
      ...queryParams,
      timeoutSeconds: this.timeoutSeconds,
      allowWatchBookmarks: true,
    };
    const controller = await super.watch(path, params, callback, (err: unknown) => {
      clearTimeout(timer);
      done(err);
    });
    if (!controller.signal.aborted) {
      timer = setTimeout(() => controller.abort(), this.timeoutSeconds * 1000 + this.graceMs);
      timer.unref();
    }
    return controller;
  }
}

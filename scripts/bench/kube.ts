import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Downloader } from '../../src/api/downloader.js';
import { parseMetrics, sumBy } from './prom.js';

const run = promisify(execFile);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The benchmark's Downloader number `i`: its own table, one of the source hosts. */
export function benchDownloader(
  i: number,
  hosts: string[],
  options: { suspend: boolean; namePrefix?: string },
): Downloader {
  const name = `${options.namePrefix ?? 'bench'}-${String(i).padStart(4, '0')}`;
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'Downloader',
    metadata: { name },
    spec: {
      source: { url: hosts[i % hosts.length] ?? '', path: '/v2/status', method: 'GET' },
      table: {
        name: `Bench-${name}`,
        partitionKey: { name: 'pk', type: 'S' },
        deletionPolicy: 'Retain',
      },
      item: { pk: { S: '$.Headers.Date[0]' }, count: { N: '$.ResponseBody.players' } },
      schedule: { expression: 'rate(1 minute)', timezone: 'UTC', suspend: options.suspend },
      workflow: { type: 'STANDARD' },
    },
  } as Downloader;
}

/** Runs `tasks` with at most `concurrency` at once. */
export async function pool<T>(
  items: T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      const item = items[index];
      if (index >= items.length || item === undefined) return;
      await task(item, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** JSON with object keys sorted, so that equal values compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** When one Downloader became Ready, and when each of its executions was first shown. */
export interface Observed {
  readyAt?: number;
  /** The latest generation seen Ready. */
  readyGeneration?: number;
  /** Execution name to the time status.lastExecution first showed it finished. */
  executionsShown: Map<string, number>;
  /** Execution names in the order status.lastExecution showed them (any status). */
  executionOrder: string[];
  stateMachineArn?: string;
}

/** The benchmark's view of the Kubernetes API of one cloud. */
export class BenchKube {
  readonly config = new KubeConfig();
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly observed = new Map<string, Observed>();
  /** How often each top-level status field changed, as watch events showed it. */
  readonly statusFieldChanges = new Map<string, number>();
  private readonly lastStatus = new Map<string, Record<string, string>>();
  private watching: AbortController | undefined;
  private stopped = false;

  constructor(
    kubeconfig: string,
    private readonly env: Record<string, string>,
  ) {
    this.config.loadFromFile(kubeconfig);
    this.custom = this.config.makeApiClient(CustomObjectsApi);
    this.core = this.config.makeApiClient(CoreV1Api);
  }

  async createNamespace(name: string): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name } } });
  }

  /** Creates the Downloaders, `concurrency` requests at a time. */
  async create(namespace: string, downloaders: Downloader[], concurrency = 16): Promise<void> {
    await pool(downloaders, concurrency, async (body) => {
      await this.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        body,
      });
    });
  }

  /** Sets spec.schedule.suspend of the named Downloaders. */
  async setSuspend(namespace: string, names: string[], suspend: boolean, concurrency = 16) {
    await pool(names, concurrency, async (name) => {
      await this.custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace,
          name,
          body: { spec: { schedule: { suspend } } },
        },
        mergePatch,
      );
    });
  }

  /**
   * Watches the namespace's Downloaders, timestamping (wall clock, as AWS stamps executions)
   * when each becomes Ready and when each finished execution first shows in its status.
   */
  async watch(namespace: string): Promise<void> {
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
    let resourceVersion: string | undefined;
    const start = async (): Promise<void> => {
      if (this.stopped) return;
      this.watching = await new Watch(this.config).watch(
        path,
        { allowWatchBookmarks: true, ...(resourceVersion ? { resourceVersion } : {}) },
        (type: string, object: Downloader) => {
          resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
          if (type === 'ADDED' || type === 'MODIFIED') this.see(object, Date.now());
        },
        (err: unknown) => {
          if (this.stopped) return;
          // A 410 Gone (or any failure) starts over from now: a gap only delays a timestamp.
          if (err) resourceVersion = undefined;
          setTimeout(() => void start().catch(() => undefined), 200);
        },
      );
    };
    await start();
  }

  stopWatch(): void {
    this.stopped = true;
    this.watching?.abort();
  }

  /** Waits until `count` Downloaders were seen Ready; returns the time the last one was. */
  async waitAllReady(count: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = [...this.observed.values()].filter((o) => o.readyAt !== undefined);
      if (ready.length >= count) return Math.max(...ready.map((o) => o.readyAt ?? 0));
      if (Date.now() > deadline) {
        throw new Error(`only ${ready.length} of ${count} Downloaders Ready after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Waits until `count` Downloaders are Ready at generation `generation` or later. */
  async waitAllReadyAt(generation: number, count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = [...this.observed.values()].filter(
        (o) => (o.readyGeneration ?? 0) >= generation,
      ).length;
      if (ready >= count) return;
      if (Date.now() > deadline) {
        throw new Error(`only ${ready} of ${count} Downloaders Ready at generation ${generation}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Requests the API server counted for the operator's resources, by verb and resource. */
  async apiserverRequests(): Promise<Map<string, number>> {
    const { stdout } = await run('kubectl', ['get', '--raw', '/metrics'], {
      env: { ...process.env, ...this.env },
      maxBuffer: 256 << 20,
    });
    const byVerb = sumBy(parseMetrics(stdout), 'apiserver_request_total', ['verb', 'resource']);
    // The operator's own resources; the API server's bookkeeping (its endpoints and leases)
    // and the benchmark's /metrics reads are left out.
    for (const key of [...byVerb.keys()]) {
      if (!/:(downloaders|events|secrets)$/.test(key)) byVerb.delete(key);
    }
    return byVerb;
  }

  private see(d: Downloader, at: number): void {
    const name = d.metadata.name ?? '';
    let o = this.observed.get(name);
    if (!o) {
      o = { executionsShown: new Map(), executionOrder: [] };
      this.observed.set(name, o);
    }
    const ready = d.status?.conditions?.find((c) => c.type === 'Ready');
    if (
      o.readyAt === undefined &&
      ready?.status === 'True' &&
      ready.observedGeneration === d.metadata.generation
    ) {
      o.readyAt = at;
    }
    if (ready?.status === 'True' && ready.observedGeneration === d.metadata.generation) {
      o.readyGeneration = d.metadata.generation;
    }
    o.stateMachineArn = d.status?.resources?.stateMachineArn ?? o.stateMachineArn;
    const fields = Object.fromEntries(
      Object.entries(d.status ?? {}).map(([key, value]) => [key, canonical(value)]),
    );
    const previous = this.lastStatus.get(name) ?? {};
    for (const key of new Set([...Object.keys(fields), ...Object.keys(previous)])) {
      if (fields[key] !== previous[key]) {
        this.statusFieldChanges.set(key, (this.statusFieldChanges.get(key) ?? 0) + 1);
      }
    }
    this.lastStatus.set(name, fields);
    const last = d.status?.lastExecution;
    if (last?.name) {
      if (o.executionOrder.at(-1) !== last.name) o.executionOrder.push(last.name);
      if (last.status !== 'RUNNING' && !o.executionsShown.has(last.name)) {
        o.executionsShown.set(last.name, at);
      }
    }
  }
}

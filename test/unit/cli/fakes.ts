import type { Downloader } from '../../../src/api/downloader.js';
import type { CliDeps } from '../../../src/cli/deps.js';
import type { ExecutionApi, ExecutionRecord } from '../../../src/cli/executions.js';
import type { DownloaderApi } from '../../../src/cli/kube.js';

export const SM_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:dl-u-1';

/** A Downloader the operator has made Ready, with no run yet; `edit` changes it. */
export function readyDownloader(
  name: string,
  edit: (d: Downloader) => void = () => undefined,
  namespace = 'eve',
): Downloader {
  const d = {
    apiVersion: 'downloader.dev/v1alpha1',
    kind: 'Downloader',
    metadata: { name, namespace, uid: `uid-${name}`, generation: 1 },
    spec: {
      source: { url: 'https://esi.evetech.net', path: '/v2/status', method: 'GET' },
      table: { name: 'T', partitionKey: { name: 'pk', type: 'S' }, deletionPolicy: 'Retain' },
      item: { pk: { S: '$.Headers.Date[0]' } },
      schedule: { expression: 'rate(1 minute)', timezone: 'UTC', suspend: false },
      workflow: { type: 'STANDARD' },
    },
    status: {
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Reconciled',
          message: 'All AWS resources match the spec',
          observedGeneration: 1,
          lastTransitionTime: '2026-05-01T11:00:00Z',
        },
      ],
      resources: { stateMachineArn: `${SM_ARN}-${name}` },
    },
  } as Downloader;
  edit(d);
  return d;
}

/** Downloaders in memory; `annotate` merges like the API server's merge patch. */
export class FakeDownloaders implements DownloaderApi {
  readonly items = new Map<string, Downloader>();
  readonly annotations: Array<{ key: string; value: string }> = [];

  constructor(downloaders: Downloader[] = []) {
    for (const d of downloaders) this.put(d);
  }

  put(d: Downloader): void {
    this.items.set(`${d.metadata.namespace}/${d.metadata.name}`, d);
  }

  find(namespace: string, name: string): Downloader | undefined {
    return this.items.get(`${namespace}/${name}`);
  }

  async list(namespace: string | undefined) {
    return [...this.items.values()]
      .filter((d) => namespace === undefined || d.metadata.namespace === namespace)
      .map((d) => structuredClone(d));
  }

  async get(namespace: string, name: string) {
    const d = this.find(namespace, name);
    return d && structuredClone(d);
  }

  async annotate(namespace: string, name: string, key: string, value: string) {
    const d = this.find(namespace, name);
    if (!d) throw Object.assign(new Error('not found'), { code: 404 });
    d.metadata.annotations = { ...d.metadata.annotations, [key]: value };
    this.annotations.push({ key, value });
    return structuredClone(d);
  }
}

/** Step Functions in memory: executions per state machine, newest first. */
export class FakeExecutions implements ExecutionApi {
  readonly byStateMachine = new Map<string, ExecutionRecord[]>();
  readonly described: string[] = [];
  /** Thrown by every call when set, as AWS would answer without access. */
  failWith: Error | undefined;
  closed = false;

  async recent(stateMachineArn: string, limit: number) {
    if (this.failWith) throw this.failWith;
    return (this.byStateMachine.get(stateMachineArn) ?? []).slice(0, limit);
  }

  async describe(executionArn: string) {
    this.described.push(executionArn);
    if (this.failWith) throw this.failWith;
    for (const executions of this.byStateMachine.values()) {
      const found = executions.find((e) => e.arn === executionArn);
      if (found) return { ...found };
    }
    return undefined;
  }

  close() {
    this.closed = true;
  }
}

/** Dependencies with a clock that only moves when the command sleeps. */
export function fakeDeps(
  downloaders: FakeDownloaders,
  executions: FakeExecutions,
  start = new Date('2026-05-01T12:00:00Z'),
  onSleep: () => void = () => undefined,
) {
  let nowMs = start.getTime();
  const out: string[] = [];
  const err: string[] = [];
  const deps: CliDeps = {
    downloaders,
    executions,
    defaultNamespace: 'eve',
    now: () => new Date(nowMs),
    sleep: async (ms) => {
      nowMs += ms;
      onSleep();
    },
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    pollIntervalMs: 1000,
  };
  return { deps, out, err, advance: (ms: number) => (nowMs += ms) };
}

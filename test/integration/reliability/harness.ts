import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Downloader } from '../../../src/api/downloader.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';

/**
 * Shared pieces of the reliability suites. Every kubectl call here is asynchronous: the fault
 * proxies run inside the Jest process, and a synchronous child process would stall them (and so
 * the operator's AWS calls) for as long as kubectl runs.
 */

const run = promisify(execFile);

export { PROFILE, recordFigures, scale } from '../../faults/figures.js';

/** What one kubectl run printed. */
export interface KubectlOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl without blocking the event loop; never throws. */
export async function kubectlAsync(
  args: string[],
  options: { input?: string; kubeconfig?: string; timeoutMs?: number } = {},
): Promise<KubectlOutput> {
  const env = options.kubeconfig ? { ...process.env, KUBECONFIG: options.kubeconfig } : undefined;
  const child = run('kubectl', args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
    ...(env ? { env } : {}),
  });
  if (options.input !== undefined) child.child.stdin?.end(options.input);
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(err),
    };
  }
}

/** Like kubectlAsync, but throws with kubectl's words when it fails. */
export async function kubectlOkAsync(
  args: string[],
  options: { input?: string; kubeconfig?: string; timeoutMs?: number } = {},
): Promise<string> {
  const result = await kubectlAsync(args, options);
  if (result.code !== 0) {
    throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  }
  return result.stdout;
}

/** Applies manifests (objects) in one kubectl call, as a JSON List. */
export async function applyAll(
  namespace: string,
  objects: unknown[],
  kubeconfig?: string,
): Promise<void> {
  // JSON rather than YAML: kubectl reads YAML as 1.1, where a key N is the boolean false.
  const input = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
  await kubectlOkAsync(['apply', '-n', namespace, '-f', '-'], {
    input,
    ...(kubeconfig ? { kubeconfig } : {}),
  });
}

/** Every Downloader of a namespace, by name. */
export async function listDownloaders(
  namespace: string,
  kubeconfig?: string,
): Promise<Map<string, Downloader>> {
  const out = await kubectlOkAsync(['get', 'downloaders', '-n', namespace, '-o', 'json'], {
    ...(kubeconfig ? { kubeconfig } : {}),
  });
  const list = JSON.parse(out) as { items: Downloader[] };
  return new Map(list.items.map((d) => [d.metadata.name ?? '', d]));
}

export function conditionOf(d: Downloader | undefined, type: string) {
  return d?.status?.conditions?.find((c) => c.type === type);
}

/** True when Ready is True for the Downloader's current generation. */
export function isReady(d: Downloader | undefined): boolean {
  const ready = conditionOf(d, 'Ready');
  return ready?.status === 'True' && ready.observedGeneration === d?.metadata.generation;
}

/** Waits until every named Downloader is Ready for its current generation; returns them. */
export async function allReady(
  namespace: string,
  names: readonly string[],
  timeoutMs: number,
  kubeconfig?: string,
): Promise<Map<string, Downloader>> {
  let missing: string[] = [...names];
  try {
    return await eventually(
      `${names.length} Downloaders Ready in ${namespace}`,
      async () => {
        const all = await listDownloaders(namespace, kubeconfig);
        missing = names.filter((n) => !isReady(all.get(n)));
        return missing.length === 0 ? all : undefined;
      },
      timeoutMs,
      1_000,
    );
  } catch (err) {
    throw new Error(`not Ready: ${missing.join(', ')}`, { cause: err });
  }
}

/** Waits until no Downloader is left in the namespace (finalizers done). */
export async function allGone(namespace: string, timeoutMs: number, kubeconfig?: string) {
  await eventually(
    `every Downloader of ${namespace} to be deleted`,
    async () => ((await listDownloaders(namespace, kubeconfig)).size === 0 ? true : undefined),
    timeoutMs,
    1_000,
  );
}

/**
 * Polls the Downloaders of a namespace and remembers every condition reason each showed, so a
 * test can tell what users saw while something was failing.
 */
export class ConditionWatcher {
  /** name -> condition type -> reasons seen. */
  readonly seen = new Map<string, Map<string, Set<string>>>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly namespace: string,
    private readonly intervalMs = 700,
    private readonly kubeconfig?: string,
  ) {}

  start(): this {
    const tick = async () => {
      if (this.running) return;
      this.running = true;
      try {
        const all = await listDownloaders(this.namespace, this.kubeconfig);
        for (const [name, d] of all) {
          let types = this.seen.get(name);
          if (!types) this.seen.set(name, (types = new Map()));
          for (const c of d.status?.conditions ?? []) {
            let reasons = types.get(c.type);
            if (!reasons) types.set(c.type, (reasons = new Set()));
            reasons.add(c.reason);
          }
        }
      } catch {
        // The API server may be down on purpose: look again at the next tick.
      } finally {
        this.running = false;
      }
    };
    this.timer = setInterval(() => void tick(), this.intervalMs);
    void tick();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Reasons of condition `type` seen on any Downloader, with how many Downloaders showed each. */
  reasons(type: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const types of this.seen.values()) {
      for (const reason of types.get(type) ?? []) out[reason] = (out[reason] ?? 0) + 1;
    }
    return out;
  }
}

/** A parsed pino line of the operator's log. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** The operator's log lines that are JSON, parsed; others (stack traces) are kept as text. */
export function parseLog(lines: readonly string[]): { json: LogLine[]; text: string[] } {
  const json: LogLine[] = [];
  const text: string[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      json.push(JSON.parse(line) as LogLine);
    } catch {
      text.push(line);
    }
  }
  return { json, text };
}

/** What the operator's log says about retries and trouble. */
export interface LogSummary {
  /** `requeued with backoff` lines: retries of failed reconciles. */
  retries: number;
  maxBackoffMs: number;
  /** reconcile failures by condition reason. */
  failuresByReason: Record<string, number>;
  /** AWS calls that failed after the SDK's own retries, by error kind. */
  awsCallFailures: Record<string, number>;
  /** Lines at error level or above, and lines mentioning "uncaught". */
  errors: string[];
  maxRequeueAfterMs: number;
}

export function summarizeLog(lines: readonly string[]): LogSummary {
  const { json, text } = parseLog(lines);
  const summary: LogSummary = {
    retries: 0,
    maxBackoffMs: 0,
    failuresByReason: {},
    awsCallFailures: {},
    errors: [],
    maxRequeueAfterMs: 0,
  };
  for (const line of json) {
    const requeue = typeof line.requeueAfterMs === 'number' ? line.requeueAfterMs : undefined;
    if (requeue !== undefined) {
      summary.maxRequeueAfterMs = Math.max(summary.maxRequeueAfterMs, requeue);
    }
    if (line.msg === 'requeued with backoff') {
      summary.retries += 1;
      summary.maxBackoffMs = Math.max(summary.maxBackoffMs, requeue ?? 0);
    }
    if (
      line.msg === 'reconcile failed; will retry with backoff' &&
      typeof line.reason === 'string'
    ) {
      summary.failuresByReason[line.reason] = (summary.failuresByReason[line.reason] ?? 0) + 1;
    }
    if (line.msg === 'aws call failed' && typeof line.errKind === 'string') {
      summary.awsCallFailures[line.errKind] = (summary.awsCallFailures[line.errKind] ?? 0) + 1;
    }
    if (line.level >= 50) summary.errors.push(JSON.stringify(line).slice(0, 500));
  }
  for (const line of [...text, ...json.map((l) => JSON.stringify(l))]) {
    if (/uncaught|unhandled/i.test(line)) summary.errors.push(line.slice(0, 500));
  }
  return summary;
}

/** Starts an operator for one namespace with its AWS calls sent to `awsEndpoint`. */
export function startOperatorFor(
  namespace: string,
  options: { awsEndpoint?: string; args?: string[]; env?: Record<string, string> } = {},
): OperatorProcess {
  // Pacing off: the documented quotas (DeleteRestApi once per 30 s) would make these tests
  // about waiting; faults are what they are about. Execution status by polling: the event
  // queue's name is one per installation, and operators of several test files would share it.
  return startOperator(
    [
      '--namespaces',
      namespace,
      '--aws-rate-limits',
      'off',
      '--execution-events',
      'false',
      ...(options.args ?? []),
    ],
    {
      ...(options.awsEndpoint ? { AWS_ENDPOINT_URL: options.awsEndpoint } : {}),
      ...options.env,
    },
  );
}

/** Waits until the operator's log has a line matching `pattern`. */
export async function logged(
  operator: OperatorProcess,
  pattern: RegExp,
  timeoutMs = 60_000,
  from = 0,
): Promise<void> {
  await eventually(
    `operator log line ${pattern}`,
    () =>
      operator
        .lines()
        .slice(from)
        .some((line) => pattern.test(line))
        ? true
        : undefined,
    timeoutMs,
    200,
  );
}

/** Events of a namespace: reason, type, message, count, and the object they are about. */
export async function events(
  namespace: string,
  kubeconfig?: string,
): Promise<Array<{ reason: string; type: string; message: string; count: number; name: string }>> {
  const out = await kubectlOkAsync(['get', 'events', '-n', namespace, '-o', 'json'], {
    ...(kubeconfig ? { kubeconfig } : {}),
  });
  const list = JSON.parse(out) as {
    items: Array<{
      reason?: string;
      type?: string;
      message?: string;
      count?: number;
      involvedObject?: { name?: string };
    }>;
  };
  return list.items.map((e) => ({
    reason: e.reason ?? '',
    type: e.type ?? '',
    message: e.message ?? '',
    count: e.count ?? 1,
    name: e.involvedObject?.name ?? '',
  }));
}

/** Milliseconds since `start`, rounded to 0.1 s, as seconds. */
export function secondsSince(start: number): number {
  return Math.round((Date.now() - start) / 100) / 10;
}

/** A fresh, unique table name. */
export function tableName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

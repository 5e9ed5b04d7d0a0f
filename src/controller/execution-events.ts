import { setTimeout as sleep } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { GROUP, PLURAL, VERSION, type Downloader } from '../api/downloader.js';
import type { DownloaderStatus } from '../api/downloader-status.js';
import { parseExecutionEvent, type ExecutionStatusEvent } from '../aws/execution-event.js';
import {
  isQueueMissing,
  RECEIVE_MAX_MESSAGES,
  type ExecutionEventsChannel,
  type ReceivedMessage,
} from '../aws/execution-events.js';
import { isKubeConflict, isKubeNotFound, type KubeClients } from '../kube/clients.js';
import type { EventRecorder } from '../kube/events.js';
import type { CachedInformer } from '../kube/informers.js';
import { stateMachineArn } from '../workflow/arn.js';
import { names, ownerOf, type AwsLocation } from './desired.js';
import {
  applyExecution,
  executionPatch,
  isFinalStatus,
  type ExecutionApplied,
  type ExecutionLedger,
} from './execution-status.js';
import { classifyFailure } from './failure.js';
import { credentialValues, type SecretReader } from './secrets.js';

/**
 * The operator side of execution status events: a consumer that long-polls the SQS queue the
 * EventBridge rule fills (see src/aws/execution-events.ts), finds the Downloader of each event's
 * state machine through the informer cache, and writes lastExecution, lastSuccessTime and
 * LastRunSucceeded exactly as the reconciler's ListExecutions poll does (applyExecution), so
 * that polling is needed only as a safety net on resync. Only the leader runs it.
 */

const keyOf = (d: Downloader) => `${d.metadata.namespace}/${d.metadata.name}`;

/**
 * Which Downloader a state machine ARN belongs to. Each Downloader is indexed under the ARN on
 * its status and under the ARN its state machine's deterministic name gives (they are the same
 * once reconciled), so that an event of an execution started before the status named the state
 * machine (a schedule fires as soon as it is created) still finds its Downloader.
 */
export class StateMachineIndex {
  private readonly byArn = new Map<string, string>();
  private readonly arnsByKey = new Map<string, string[]>();

  constructor(private readonly location: AwsLocation) {}

  /** Indexes (or re-indexes) a Downloader as added or updated. */
  set(downloader: Downloader): void {
    const key = keyOf(downloader);
    this.remove(downloader);
    const arns = new Set<string>();
    if (downloader.metadata.uid) {
      const { partition, region, accountId } = this.location;
      arns.add(
        stateMachineArn(partition, region, accountId, names.stateMachine(ownerOf(downloader))),
      );
    }
    const onStatus = downloader.status?.resources?.stateMachineArn;
    if (onStatus) arns.add(onStatus);
    for (const arn of arns) this.byArn.set(arn, key);
    this.arnsByKey.set(key, [...arns]);
  }

  /** Forgets a deleted Downloader. */
  remove(downloader: Downloader): void {
    const key = keyOf(downloader);
    for (const arn of this.arnsByKey.get(key) ?? []) {
      if (this.byArn.get(arn) === key) this.byArn.delete(arn);
    }
    this.arnsByKey.delete(key);
  }

  /** The `namespace/name` key of the Downloader of a state machine, if it is one of ours. */
  keyOf(stateMachineArn: string): string | undefined {
    return this.byArn.get(stateMachineArn);
  }

  get size(): number {
    return this.arnsByKey.size;
  }
}

/** Reads Downloaders from the informer cache the controller keeps. */
export interface DownloaderCache {
  get(namespace: string, name: string): Downloader | undefined;
}

/**
 * Shares the controller's Downloader informers: keeps `index` current from their add, update
 * and delete notifications (call before the caches sync, to hear the initial list too), and
 * returns a reader of their cache.
 */
export function shareDownloaderCache(
  informers: ReadonlyArray<CachedInformer<Downloader>>,
  index: StateMachineIndex,
): DownloaderCache {
  for (const informer of informers) {
    informer.on('add', (d) => index.set(d));
    informer.on('update', (d) => index.set(d));
    informer.on('delete', (d) => index.remove(d));
  }
  return {
    get(namespace, name) {
      for (const informer of informers) {
        const found = informer.get(name, namespace);
        if (found) return found;
      }
      return undefined;
    },
  };
}

/** The execution fields of a status the consumer writes. */
export type ExecutionStatusFields = Pick<
  DownloaderStatus,
  'lastExecution' | 'lastSuccessTime' | 'conditions'
>;

/** Writes a Downloader's execution fields, guarded against concurrent writers. */
export interface ExecutionStatusWriter {
  /**
   * Writes the fields only if the Downloader is still at `downloader`'s resourceVersion (a 409
   * otherwise), so that conditions another writer changed meanwhile are never overwritten.
   */
  write(downloader: Downloader, fields: ExecutionStatusFields): Promise<void>;
  /** The Downloader as the API server has it now. */
  read(namespace: string, name: string): Promise<Downloader>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * A merge patch of the status subresource carrying the resourceVersion it was computed from,
 * which the API server checks. Optional fields of lastExecution that are absent are sent as
 * null: a merge patch merges objects, and would otherwise keep the error and cause of a failed
 * execution on the successful one that replaces it.
 */
export class KubeExecutionStatusWriter implements ExecutionStatusWriter {
  constructor(private readonly kube: KubeClients) {}

  async write(downloader: Downloader, fields: ExecutionStatusFields): Promise<void> {
    const { namespace = '', name = '', resourceVersion } = downloader.metadata;
    await this.kube.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
        body: {
          metadata: { resourceVersion },
          status: { ...fields, lastExecution: executionPatch(fields.lastExecution) },
        },
      },
      mergePatch,
    );
  }

  async read(namespace: string, name: string): Promise<Downloader> {
    return (await this.kube.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      name,
    })) as Downloader;
  }
}

/** What became of one event. */
export type EventResult =
  /** It moved the Downloader's status forward. */
  | 'applied'
  /** The status already showed it, or something newer (a duplicate, a late RUNNING...). */
  | 'stale'
  /** No Downloader (of this installation) owns the state machine, or it is being deleted. */
  | 'unknown'
  /** Not an execution status change event. */
  | 'invalid'
  /** The status could not be written; the message comes back after the visibility timeout. */
  | 'failed';

/** The consumer's metrics. */
export interface ExecutionEventMetrics {
  consumed(status: string, result: EventResult): void;
  /** Seconds from an execution's end to its status being written. */
  lag(seconds: number): void;
  active(on: boolean): void;
}

/** Registers the consumer's Prometheus metrics in `registry`. */
export function executionEventMetrics(registry: Registry): ExecutionEventMetrics {
  const consumed = new Counter({
    name: 'downloader_execution_events_total',
    help:
      'Execution status change events taken from the queue, by execution status and result ' +
      '(applied, stale, unknown, invalid, failed).',
    labelNames: ['status', 'result'] as const,
    registers: [registry],
  });
  const lag = new Histogram({
    name: 'downloader_execution_event_lag_seconds',
    help: "Time from an execution's end (stopDate) to its status written from the event.",
    buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900],
    registers: [registry],
  });
  const active = new Gauge({
    name: 'downloader_execution_events_active',
    help: '1 while execution status comes from events (queue and rule in place, queue readable).',
    registers: [registry],
  });
  return {
    consumed: (status, result) => consumed.inc({ status, result }),
    lag: (seconds) => lag.observe(seconds),
    active: (on) => active.set(on ? 1 : 0),
  };
}

/** The queue operations the consumer uses (ExecutionEventQueue). */
export interface EventQueue {
  receive(signal?: AbortSignal): Promise<ReceivedMessage[]>;
  delete(receiptHandles: readonly string[]): Promise<number>;
}

export interface ExecutionEventConsumerDeps {
  /** Creates or corrects the queue and the rule (ExecutionEventsInfrastructure). */
  infrastructure: { ensure(): Promise<ExecutionEventsChannel> };
  openQueue: (queueUrl: string) => EventQueue;
  index: StateMachineIndex;
  cache: DownloaderCache;
  writer: ExecutionStatusWriter;
  ledger: ExecutionLedger;
  events: EventRecorder;
  /** Secrets of the Downloaders, to mask their credential in what is copied from executions. */
  secrets?: SecretReader;
  log: Logger;
  now: () => Date;
  metrics?: ExecutionEventMetrics;
  /** Told of each finished execution the first time it is seen (for metrics). */
  onExecutionSeen?: (status: string) => void;
  /** How often the queue and the rule are checked again, which corrects drift. */
  ensureIntervalMs: number;
  /** Most ReceiveMessage calls in flight at once; more start while batches come back full. */
  maxPollers?: number;
  /** Delay before the next attempt after `failures` failures in a row. */
  retryDelayMs?: (failures: number) => number;
}

/** Attempts to write one Downloader's status when the API server answers 409 Conflict. */
const WRITE_ATTEMPTS = 4;

/** Failed receives in a row after which events are reported inactive (the reconciler polls). */
const FAILURES_BEFORE_INACTIVE = 3;

const defaultRetryDelayMs = (failures: number) => Math.min(30_000, 1_000 * 2 ** (failures - 1));

type State = 'stopped' | 'pending' | 'active' | 'degraded';

/**
 * Consumes execution status change events. Lifecycle: `start` (the leader, as its workers
 * start) ensures the queue and the rule, then long-polls; `active` tells the reconciler whether
 * it may rely on events (poll only on resync) or must poll as without them; `stop` aborts the
 * polls and waits for batches being written.
 *
 * Each batch: messages are parsed, grouped by Downloader, applied in order to its status under
 * the ledger's lock for that Downloader, written once, then deleted. A message whose status
 * could not be written is not deleted: SQS makes it visible again after the visibility
 * timeout. Messages that are not events, or whose state machine no Downloader owns, are
 * deleted (with one queue per installation, another installation has its own copy).
 */
export class ExecutionEventConsumer {
  private state: State = 'stopped';
  private abort = new AbortController();
  private running: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private receiveFailures = 0;

  constructor(private readonly deps: ExecutionEventConsumerDeps) {}

  /**
   * Starts consuming. Resolves once the queue and the rule are in place, or after `waitMs` if
   * AWS has not answered by then (consuming starts later; until then `active` is false, so the
   * reconciler polls). Failures are retried in the background and logged.
   */
  async start(waitMs = 15_000): Promise<void> {
    if (this.running) return;
    this.abort = new AbortController();
    this.setState('pending');
    let ready: () => void = () => {};
    const first = new Promise<void>((resolve) => (ready = resolve));
    this.running = this.run(ready);
    await Promise.race([first, sleep(waitMs, undefined, { ref: false })]);
  }

  /** True while events are flowing, so the reconciler may poll ListExecutions only on resync. */
  active(): boolean {
    return this.state === 'active';
  }

  /** Stops polling and waits for batches being processed. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.abort.abort();
    await this.running;
    await Promise.all(this.inFlight);
    this.running = undefined;
    this.setState('stopped');
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private setState(state: State): void {
    if (state === this.state) return;
    const wasActive = this.state === 'active';
    this.state = state;
    this.deps.metrics?.active(state === 'active');
    if (state === 'active') this.deps.log.info('execution status from events');
    if (wasActive && state === 'degraded') {
      this.deps.log.warn('execution events unavailable; polling ListExecutions until they return');
    }
  }

  private retryDelay(failures: number): number {
    return (this.deps.retryDelayMs ?? defaultRetryDelayMs)(failures);
  }

  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.abort.signal });
    } catch {
      // Aborted: stopping.
    }
  }

  /** Ensures the channel, consumes until a re-check is due, again, until stopped. */
  private async run(ready: () => void): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let channel: ExecutionEventsChannel;
      try {
        channel = await this.deps.infrastructure.ensure();
      } catch (err) {
        failures += 1;
        const failure = classifyFailure(err);
        const delayMs = this.retryDelay(failures);
        this.deps.log.warn(
          { err, reason: failure.reason, retryInMs: delayMs },
          'could not set up the execution events queue and rule; polling ListExecutions meanwhile',
        );
        this.setState('degraded');
        ready();
        await this.pause(delayMs);
        continue;
      }
      failures = 0;
      this.receiveFailures = 0;
      this.setState('active');
      ready();
      await this.consume(this.deps.openQueue(channel.queueUrl));
    }
  }

  /**
   * Runs pollers until stopped, the queue disappears, or the channel is due for a re-check.
   * One poller runs while batches come back short; a full batch starts another, up to
   * maxPollers; an empty one ends an extra poller.
   */
  private async consume(queue: EventQueue): Promise<void> {
    const until = this.deps.now().getTime() + this.deps.ensureIntervalMs;
    const max = this.deps.maxPollers ?? 4;
    let pollers = 0;
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));

    const poll = async (): Promise<void> => {
      while (!this.stopped && this.deps.now().getTime() < until) {
        let messages: ReceivedMessage[];
        try {
          messages = await queue.receive(this.abort.signal);
        } catch (err) {
          if (this.stopped) break;
          if (isQueueMissing(err)) {
            this.deps.log.warn('execution events queue is gone; making it again');
            this.setState('degraded');
            break;
          }
          this.receiveFailures += 1;
          if (this.receiveFailures >= FAILURES_BEFORE_INACTIVE) this.setState('degraded');
          const delayMs = this.retryDelay(this.receiveFailures);
          this.deps.log.warn({ err, retryInMs: delayMs }, 'could not receive execution events');
          await this.pause(delayMs);
          continue;
        }
        this.receiveFailures = 0;
        this.setState('active');
        if (messages.length >= RECEIVE_MAX_MESSAGES && pollers < max) start();
        if (messages.length > 0) await this.track(this.handle(queue, messages));
        else if (pollers > 1) break;
      }
    };
    const start = () => {
      pollers += 1;
      void poll()
        .catch((err: unknown) => this.deps.log.error({ err }, 'execution events poller failed'))
        .finally(() => {
          pollers -= 1;
          if (pollers === 0) done();
        });
    };

    start();
    await finished;
  }

  private async track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    try {
      await work;
    } finally {
      this.inFlight.delete(work);
    }
  }

  /** Applies one batch and deletes the messages that need no second look. */
  private async handle(queue: EventQueue, messages: ReceivedMessage[]): Promise<void> {
    const { metrics, log, index, cache } = this.deps;
    const settled: string[] = [];
    const byKey = new Map<string, Array<{ event: ExecutionStatusEvent; handle: string }>>();

    for (const message of messages) {
      const parsed = parseExecutionEvent(message.body);
      if (!parsed.ok) {
        log.warn({ problem: parsed.problem }, 'dropped a message that is not an execution event');
        metrics?.consumed('none', 'invalid');
        settled.push(message.receiptHandle);
        continue;
      }
      const { event } = parsed;
      const key = index.keyOf(event.stateMachineArn);
      const [namespace = '', name = ''] = key?.split('/') ?? [];
      const downloader = key ? cache.get(namespace, name) : undefined;
      if (!key || !downloader || downloader.metadata.deletionTimestamp) {
        log.debug(
          { stateMachineArn: event.stateMachineArn, status: event.execution.status },
          'execution event of no Downloader here',
        );
        metrics?.consumed(event.execution.status, 'unknown');
        settled.push(message.receiptHandle);
        continue;
      }
      const group = byKey.get(key) ?? [];
      group.push({ event, handle: message.receiptHandle });
      byKey.set(key, group);
    }

    await Promise.all(
      [...byKey].map(async ([key, group]) => {
        try {
          await this.apply(
            key,
            group.map((g) => g.event),
          );
          settled.push(...group.map((g) => g.handle));
        } catch (err) {
          const [namespace, name] = key.split('/');
          log.warn(
            { namespace, name, err, reason: classifyFailure(err).reason },
            'could not write execution status from events; they come back after the visibility timeout',
          );
          for (const { event } of group) metrics?.consumed(event.execution.status, 'failed');
        }
      }),
    );

    try {
      const refused = await queue.delete(settled);
      if (refused > 0) log.debug({ refused }, 'some execution events were not deleted');
    } catch (err) {
      log.warn({ err }, 'could not delete execution events; they come back and are seen as stale');
    }
  }

  /**
   * Applies a Downloader's events, in the order received, to its current status and writes the
   * result once; a 409 Conflict reads the Downloader again and starts over.
   */
  private async apply(key: string, events: ExecutionStatusEvent[]): Promise<void> {
    const { cache, ledger, writer, metrics, log } = this.deps;
    const [namespace = '', name = ''] = key.split('/');
    await ledger.serialize(key, async () => {
      let downloader = cache.get(namespace, name);
      for (let attempt = 1; downloader; attempt++) {
        const stamp = { generation: downloader.metadata.generation ?? 0, now: this.deps.now() };
        const status = structuredClone(downloader.status ?? {});
        ledger.catchUp(key, status, stamp);
        const redact = this.deps.secrets ? credentialValues(downloader, this.deps.secrets) : [];
        const results = events.map((event) => ({
          event,
          applied: applyExecution(status, event.execution, stamp, redact),
        }));
        if (!results.some((r) => r.applied.changed)) {
          for (const { event } of results) metrics?.consumed(event.execution.status, 'stale');
          return;
        }

        try {
          await writer.write(downloader, {
            lastExecution: status.lastExecution,
            ...(status.lastSuccessTime ? { lastSuccessTime: status.lastSuccessTime } : {}),
            conditions: status.conditions,
          });
        } catch (err) {
          if (isKubeNotFound(err)) break;
          if (!isKubeConflict(err) || attempt >= WRITE_ATTEMPTS) throw err;
          downloader = await writer.read(namespace, name);
          continue;
        }
        ledger.remember(key, status);
        log.debug(
          {
            namespace,
            name,
            execution: status.lastExecution?.name,
            status: status.lastExecution?.status,
          },
          'wrote execution status from events',
        );
        this.report(downloader, results, log);
        return;
      }
      for (const event of events) metrics?.consumed(event.execution.status, 'unknown');
    });
  }

  private report(
    downloader: Downloader,
    results: Array<{ event: ExecutionStatusEvent; applied: ExecutionApplied }>,
    log: Logger,
  ): void {
    const { metrics, events, onExecutionSeen } = this.deps;
    const nowMs = this.deps.now().getTime();
    for (const { event, applied } of results) {
      const { execution } = event;
      metrics?.consumed(execution.status, applied.changed ? 'applied' : 'stale');
      if (!applied.changed) continue;
      if (isFinalStatus(execution.status) && execution.stopTime) {
        metrics?.lag(Math.max(0, nowMs - Date.parse(execution.stopTime)) / 1000);
      }
      if (applied.finished) onExecutionSeen?.(execution.status);
      if (applied.finished && applied.failure) {
        events.record(downloader, 'Warning', applied.failure.reason, applied.failure.message);
        log.warn(
          {
            namespace: downloader.metadata.namespace,
            name: downloader.metadata.name,
            execution: execution.name,
            reason: applied.failure.reason,
          },
          'execution failed',
        );
      }
    }
  }
}

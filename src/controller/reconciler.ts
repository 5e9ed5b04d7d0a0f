import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { FINALIZER, RUN_NOW_ANNOTATION, type Downloader } from '../api/downloader.js';
import { transportOf } from '../api/downloader-spec.js';
import type { Condition, DownloaderStatus } from '../api/downloader-status.js';
import type { OperatorConfig } from '../config.js';
import { isRequeueAfter, isTerminal } from '../errors.js';
import type { DownloaderClient } from '../kube/downloader-client.js';
import type { EventRecorder } from '../kube/events.js';
import type { AwsManagers } from './aws-managers.js';
import {
  CONDITION_TYPES,
  PART_CONDITIONS,
  REASONS,
  setCondition,
  type ConditionType,
} from './conditions.js';
import {
  ownerOf,
  scheduleDesired,
  schedulerRoleDesired,
  stateMachineDesired,
  stateMachineRoleDesired,
  tableDesired,
  type AwsLocation,
} from './desired.js';
import { classifyFailure } from './failure.js';
import { cleanUp } from './cleanup.js';
import { countTransitions, estimateMonthlyCost, type Prices } from './cost.js';
import {
  applyExecution,
  executionPatch,
  isFinalStatus,
  type ExecutionLedger,
} from './execution-status.js';
import { ensureResource } from './pipeline.js';
import { ProxyProvisioner, type ProxyTarget } from './shared-proxy.js';
import type { SecretReader } from './secrets.js';
import { credentialValues, resolveAuthValue } from './secrets.js';
import { runNowExecutionName } from './run-now.js';
import { checkSourceHost } from './source-hosts.js';
import {
  connectionName,
  ensureHttpTaskTransport,
  httpTaskRoleDesired,
  removeHttpTaskTransport,
} from './transport.js';

/**
 * What one reconcile decided about when to look again:
 * - `done`: the Downloader matches its spec (or is blocked by a terminal problem recorded in its
 *   conditions); reconcile again after `requeueAfterMs` (resync, or the next execution poll).
 * - `retry`: a transient failure; the controller retries with per-key exponential backoff.
 * - `forget`: the Downloader is gone; drop the key.
 */
export type ReconcileResult =
  { kind: 'done'; requeueAfterMs: number } | { kind: 'retry'; error: unknown } | { kind: 'forget' };

export interface ReconcilerDeps {
  config: OperatorConfig;
  location: AwsLocation;
  aws: AwsManagers;
  downloaders: DownloaderClient;
  secrets: SecretReader;
  events: EventRecorder;
  now: () => Date;
  /** Prices of the cost estimate on status. */
  prices?: Prices;
  /** Told of each finished execution the first time it is seen (for metrics). */
  onExecutionSeen?: (status: string) => void;
  /**
   * The execution status events consumer: while it is active, ListExecutions is read once per
   * recheck interval (a safety net for lost events) instead of every execution poll interval.
   */
  executionEvents?: { active(): boolean };
  /** Serializes status writes with the events consumer's (see ExecutionLedger). */
  executionLedger?: ExecutionLedger;
  /**
   * The proxy step, shared REST APIs included (see shared-proxy.ts). Default: one made from
   * `aws.proxy` and `config` that knows no other Downloader, so never deletes a shared API.
   */
  proxies?: ProxyProvisioner;
}

/** The part condition each step reports on. */
type Step = Exclude<ConditionType, 'Ready'>;

/**
 * Reconciles one Downloader: level-based, so it reads what exists in AWS, changes only what
 * differs from the spec, and writes conditions, identifiers and the last execution to status.
 * It never throws: every outcome is a ReconcileResult, and every failure is on the status.
 */
export class DownloaderReconciler {
  private readonly lastExecutionPoll = new Map<string, number>();
  private readonly proxies: ProxyProvisioner;

  constructor(private readonly deps: ReconcilerDeps) {
    this.proxies =
      deps.proxies ?? new ProxyProvisioner({ proxy: deps.aws.proxy, config: deps.config });
  }

  async reconcile(downloader: Downloader, log: Logger): Promise<ReconcileResult> {
    const key = `${downloader.metadata.namespace}/${downloader.metadata.name}`;
    if (downloader.metadata.deletionTimestamp) {
      return this.finalize(downloader, log, key);
    }
    if (!downloader.metadata.finalizers?.includes(FINALIZER)) {
      downloader = await this.deps.downloaders.setFinalizers(downloader, [
        ...(downloader.metadata.finalizers ?? []),
        FINALIZER,
      ]);
      log.debug('added finalizer');
    }

    const run = new StatusBuilder(downloader, this.deps.now());
    const outcome = await this.converge(downloader, run, log);
    if (outcome.kind === 'done') await this.observeExecutions(downloader, run, log, key, outcome);

    await this.commitStatus(downloader, run, log, key);
    return outcome;
  }

  /** Forgets in-memory state of a Downloader that no longer exists. */
  forget(key: string): void {
    this.lastExecutionPoll.delete(key);
    this.deps.executionLedger?.forget(key);
  }

  /**
   * Writes the status. With an events consumer beside, under the ledger's lock and after
   * catching up with what the consumer wrote since this reconcile's snapshot was taken, so that
   * an execution it recorded is never written back to an older one.
   */
  private async commitStatus(downloader: Downloader, run: StatusBuilder, log: Logger, key: string) {
    const ledger = this.deps.executionLedger;
    if (!ledger) return this.writeStatus(downloader, run.status, log);
    await ledger.serialize(key, async () => {
      ledger.catchUp(key, run.status, run.stamp);
      await this.writeStatus(downloader, run.status, log);
      ledger.remember(key, run.status);
    });
  }

  private async converge(
    downloader: Downloader,
    run: StatusBuilder,
    log: Logger,
  ): Promise<ReconcileResult> {
    const { config, location, aws, events } = this.deps;
    const owner = ownerOf(downloader);
    const context = { downloader, events, log };
    let step: Step = CONDITION_TYPES.proxy;
    try {
      checkSourceHost(downloader.spec.source.url, config.allowedSourceHosts);
      const authValue = await resolveAuthValue(downloader, this.deps.secrets);
      // Transport HttpTask: a connection instead of the proxy (see transport.ts).
      const httpTask =
        transportOf(downloader.spec) === 'HttpTask'
          ? await this.ensureHttpTask(downloader, run, context, authValue)
          : undefined;
      const proxy: ProxyTarget = httpTask
        ? { restApiId: '', pathPrefix: '', shared: false }
        : await this.proxies.ensure(downloader, authValue, context);
      if (!httpTask) {
        if (await removeHttpTaskTransport({ ...context, config, aws })) {
          run.set({ resources: withoutKeys(run.status.resources, ['connectionArn']) });
        }
        run.resources({ restApiId: proxy.restApiId, stageName: config.stageName });
        run.ok(
          step,
          `Proxy ${proxy.restApiId} ${proxy.shared ? '(shared) ' : ''}forwards to ` +
            downloader.spec.source.url,
        );
      }

      step = CONDITION_TYPES.table;
      const table = await ensureResource(aws.table, owner, tableDesired(downloader), context);
      run.resources({ tableArn: table.arn });
      run.ok(
        step,
        table.createdByOwner
          ? `Table ${table.name} is ACTIVE`
          : `Table ${table.name} is ACTIVE (adopted: it existed before and will be retained)`,
      );

      step = CONDITION_TYPES.stateMachine;
      let stateMachineRoleArn = config.stateMachineRoleArn;
      let stateMachineRoleCreatedAt: string | undefined;
      if (!stateMachineRoleArn) {
        const role = await ensureResource(
          aws.roles,
          owner,
          httpTask
            ? httpTaskRoleDesired(downloader, location, config, httpTask.connectionArn, table.arn)
            : stateMachineRoleDesired(
                downloader,
                location,
                config,
                proxy.restApiId,
                table.arn,
                proxy.pathPrefix,
              ),
          context,
        );
        stateMachineRoleArn = role.arn;
        stateMachineRoleCreatedAt = role.createdAt;
      }
      const stateMachineWanted = stateMachineDesired(
        downloader,
        location,
        config,
        proxy.restApiId,
        stateMachineRoleArn,
        httpTask?.connectionArn,
        proxy.pathPrefix,
      );
      run.set({
        estimatedMonthlyCost: estimateMonthlyCost(
          downloader.spec,
          countTransitions(stateMachineWanted.definition),
          this.deps.prices,
        ),
      });
      const stateMachine = await ensureResource(
        aws.stateMachine,
        owner,
        { ...stateMachineWanted, roleCreatedAt: stateMachineRoleCreatedAt },
        context,
      );
      run.resources({ stateMachineArn: stateMachine.arn, stateMachineRoleArn });
      run.ok(step, `State machine ${stateMachine.name} (${stateMachine.type})`);

      step = CONDITION_TYPES.schedule;
      let schedulerRoleArn = config.schedulerRoleArn;
      let schedulerRoleCreatedAt: string | undefined;
      if (!schedulerRoleArn) {
        const role = await ensureResource(
          aws.roles,
          owner,
          schedulerRoleDesired(downloader, location, config, stateMachine.arn),
          context,
        );
        schedulerRoleArn = role.arn;
        schedulerRoleCreatedAt = role.createdAt;
      }
      const schedule = await ensureResource(
        aws.schedule,
        owner,
        {
          ...scheduleDesired(downloader, config, stateMachine.arn, schedulerRoleArn),
          roleCreatedAt: schedulerRoleCreatedAt,
        },
        context,
      );
      run.resources({ scheduleArn: schedule.arn, schedulerRoleArn });
      run.ok(
        step,
        `Schedule ${schedule.name} ${schedule.state === 'DISABLED' ? 'suspended' : 'runs'} ` +
          `${downloader.spec.schedule.expression} (${downloader.spec.schedule.timezone})`,
      );
      run.ready();
      // The state machine calls `proxy` now (no REST API at all with HttpTask): the API the
      // status named before may go, once no other Downloader uses it.
      this.proxies.retire(downloader, proxy, context);
      await this.handleRunNow(downloader, run, stateMachine.arn, log);
      return { kind: 'done', requeueAfterMs: config.resyncIntervalMs };
    } catch (err) {
      return this.failed(downloader, run, step, err, log);
    }
  }

  /**
   * The HttpTask transport's step: the connection in place of the proxy, reported on the same
   * condition (ProxyReady: the part that reaches the source), and the REST API of an earlier
   * ApiGateway transport deleted.
   */
  private async ensureHttpTask(
    downloader: Downloader,
    run: StatusBuilder,
    context: { downloader: Downloader; events: EventRecorder; log: Logger },
    authValue: string | undefined,
  ): Promise<{ connectionArn: string }> {
    const { config, aws } = this.deps;
    const { connectionArn, leftProxy } = await ensureHttpTaskTransport(
      { ...context, config, aws },
      authValue,
    );
    if (leftProxy) {
      run.set({ resources: withoutKeys(run.status.resources, ['restApiId', 'stageName']) });
    }
    run.resources({ connectionArn });
    run.ok(
      CONDITION_TYPES.proxy,
      `Connection ${connectionName(ownerOf(downloader))} authenticates HTTP Task requests to ` +
        downloader.spec.source.url,
    );
    return { connectionArn };
  }

  private failed(
    downloader: Downloader,
    run: StatusBuilder,
    step: Step,
    err: unknown,
    log: Logger,
  ): ReconcileResult {
    const failure = classifyFailure(err);
    run.fail(step, failure.reason, failure.message);
    if (isRequeueAfter(err)) {
      log.debug({ step, reason: failure.reason, requeueAfterMs: err.delayMs }, 'waiting');
      return { kind: 'done', requeueAfterMs: err.delayMs };
    }
    this.deps.events.record(downloader, 'Warning', failure.reason, failure.message);
    if (isTerminal(err)) {
      log.warn(
        { step, reason: failure.reason, requeueAfterMs: this.deps.config.resyncIntervalMs },
        'cannot reconcile until the spec or the world changes',
      );
      return { kind: 'done', requeueAfterMs: this.deps.config.resyncIntervalMs };
    }
    log.warn({ step, reason: failure.reason, err }, 'reconcile failed; will retry with backoff');
    return { kind: 'retry', error: err };
  }

  /** Starts one execution per new value of the run-now annotation. */
  private async handleRunNow(
    downloader: Downloader,
    run: StatusBuilder,
    stateMachineArn: string,
    log: Logger,
  ): Promise<void> {
    const value = downloader.metadata.annotations?.[RUN_NOW_ANNOTATION];
    if (!value || value === downloader.status?.lastRunNow) return;
    const name = runNowExecutionName(downloader.metadata.uid ?? '', value);
    const started = await this.deps.aws.executions.start(stateMachineArn, name, '{}');
    run.set({ lastRunNow: value });
    // Shown RUNNING at once, with lastRunNow, as a poll right after the start would show it;
    // its end comes as an event, or (without events) from reading it back now.
    if (started.started) {
      const startTime = run.stamp.now.toISOString();
      const execution = { name, arn: started.executionArn, status: 'RUNNING', startTime };
      applyExecution(run.status, execution, run.stamp);
    }
    if (!this.eventsActive()) {
      this.lastExecutionPoll.delete(`${downloader.metadata.namespace}/${downloader.metadata.name}`);
    }
    log.info({ execution: name }, 'started execution for run-now');
    this.deps.events.record(downloader, 'Normal', 'RunNow', `Started execution ${name}`);
  }

  private eventsActive(): boolean {
    return this.deps.executionEvents?.active() ?? false;
  }

  /**
   * Reads the last execution of a STANDARD workflow and reports a failed one as a condition and
   * an Event. Without events, at most once per execution poll interval, and every 5 s while one
   * runs. With events (which bring each status change), at most once per recheck interval (or
   * resync interval, if longer), as a safety net for lost events; the first read of a Downloader comes between half and one
   * interval after the operator first sees it, at a point fixed by its key, so that a restart
   * does not read every Downloader at once. EXPRESS workflows have no execution history to read
   * (ListExecutions does not support them).
   */
  private async observeExecutions(
    downloader: Downloader,
    run: StatusBuilder,
    log: Logger,
    key: string,
    outcome: { requeueAfterMs: number },
  ): Promise<void> {
    const arn = run.status.resources?.stateMachineArn;
    if (!arn || downloader.spec.workflow.type !== 'STANDARD') return;
    const { executionPollIntervalMs, resyncIntervalMs, recheckIntervalMs } = this.deps.config;
    const events = this.eventsActive();
    const intervalMs = events
      ? Math.max(resyncIntervalMs, executionPollIntervalMs, recheckIntervalMs)
      : executionPollIntervalMs;
    const now = this.deps.now().getTime();
    let last = this.lastExecutionPoll.get(key);
    if (last === undefined && events) {
      last = now - intervalMs * 0.5 * spreadOf(key);
      this.lastExecutionPoll.set(key, last);
    }
    if (last !== undefined && now - last < intervalMs) {
      outcome.requeueAfterMs = Math.min(outcome.requeueAfterMs, last + intervalMs - now);
      return;
    }
    try {
      const latest = await this.deps.aws.executions.latest(arn);
      this.lastExecutionPoll.set(key, now);
      outcome.requeueAfterMs = Math.min(
        outcome.requeueAfterMs,
        latest?.status === 'RUNNING' && !events ? Math.min(5_000, intervalMs) : intervalMs,
      );
      if (!latest) return;
      // Judge what is new against what the events consumer wrote too, not only the snapshot.
      this.deps.executionLedger?.catchUp(key, run.status, run.stamp);
      const applied = applyExecution(
        run.status,
        latest,
        run.stamp,
        credentialValues(downloader, this.deps.secrets),
      );
      if (applied.finished) this.deps.onExecutionSeen?.(latest.status);
      if (isFinalStatus(latest.status) && latest.status !== 'SUCCEEDED') {
        if (!run.status.lastSuccessTime) {
          const success = await this.deps.aws.executions.lastSuccess(arn);
          if (success) run.set({ lastSuccessTime: success });
        }
      }
      if (applied.finished && applied.failure) {
        this.deps.events.record(
          downloader,
          'Warning',
          applied.failure.reason,
          applied.failure.message,
        );
        log.warn({ execution: latest.name, reason: applied.failure.reason }, 'execution failed');
      }
    } catch (err) {
      const failure = classifyFailure(err);
      log.warn({ reason: failure.reason, err }, 'could not read executions; will retry');
      outcome.requeueAfterMs = Math.min(outcome.requeueAfterMs, intervalMs);
    }
  }

  private async finalize(
    downloader: Downloader,
    log: Logger,
    key: string,
  ): Promise<ReconcileResult> {
    if (!downloader.metadata.finalizers?.includes(FINALIZER)) return { kind: 'forget' };
    try {
      await cleanUp(downloader, { ...this.deps, proxies: this.proxies, log });
    } catch (err) {
      const failure = classifyFailure(err);
      this.deps.events.record(downloader, 'Warning', 'CleanupFailed', failure.message);
      log.warn({ reason: failure.reason, err }, 'cleanup failed; will retry with backoff');
      const run = new StatusBuilder(downloader, this.deps.now());
      run.fail(CONDITION_TYPES.ready, REASONS.deleting, `Cleanup failed: ${failure.message}`);
      await this.writeStatus(downloader, run.status, log).catch(() => undefined);
      return { kind: 'retry', error: err };
    }
    await this.deps.downloaders.setFinalizers(
      downloader,
      (downloader.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
    );
    this.forget(key);
    log.info('cleaned up and released finalizer');
    return { kind: 'forget' };
  }

  private async writeStatus(downloader: Downloader, status: DownloaderStatus, log: Logger) {
    // Compared as JSON values: the API server may give the fields back in another order.
    if (isDeepStrictEqual(asJson(status), asJson(downloader.status ?? {}))) return;
    const { namespace = '', name = '' } = downloader.metadata;
    // A merge patch would keep the error and cause of a failed execution on a later success.
    const lastExecution = executionPatch(status.lastExecution);
    // Nor would it drop an identifier the reconcile removed (a transport switched): null it.
    const resources = resourcesPatch(downloader.status?.resources, status.resources);
    await this.deps.downloaders.patchStatus(namespace, name, {
      ...status,
      ...(lastExecution ? { lastExecution } : {}),
      ...(resources ? { resources } : {}),
    });
    log.debug('wrote status');
  }
}

/** A value as it reads once written as JSON (undefined fields gone). */
function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/**
 * The resources of a merge patch from `before` to `after` when `after` lacks identifiers
 * `before` had: those set to null, which a merge patch takes as "remove". Undefined otherwise.
 */
function resourcesPatch(
  before: DownloaderStatus['resources'],
  after: DownloaderStatus['resources'],
): Record<string, string | null> | undefined {
  const removed = Object.keys(before ?? {}).filter((key) => !Object.hasOwn(after ?? {}, key));
  if (removed.length === 0) return undefined;
  return { ...after, ...Object.fromEntries(removed.map((key) => [key, null])) };
}

/** `resources` without `keys`. */
function withoutKeys(
  resources: DownloaderStatus['resources'],
  keys: ReadonlyArray<keyof NonNullable<DownloaderStatus['resources']>>,
): DownloaderStatus['resources'] {
  const copy = { ...resources };
  for (const key of keys) delete copy[key];
  return copy;
}

/** A number in [0, 1) fixed by `key`: where in an interval this Downloader's work falls. */
function spreadOf(key: string): number {
  let hash = 2166136261;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 16777619);
  return (hash >>> 0) / 2 ** 32;
}

/** Accumulates the new status during one reconcile. */
class StatusBuilder {
  readonly status: DownloaderStatus;
  private readonly generation: number;

  /** Generation and time the conditions of this reconcile are stamped with. */
  get stamp(): { generation: number; now: Date } {
    return { generation: this.generation, now: this.now };
  }

  constructor(
    downloader: Downloader,
    private readonly now: Date,
  ) {
    this.generation = downloader.metadata.generation ?? 0;
    this.status = structuredClone(downloader.status ?? {});
    this.status.observedGeneration = this.generation;
    this.status.conditions ??= [];
    for (const type of [CONDITION_TYPES.ready, ...PART_CONDITIONS]) {
      if (!this.status.conditions.some((c) => c.type === type)) {
        this.condition(type, 'Unknown', REASONS.pending, 'Not reconciled yet');
      }
    }
  }

  resources(resources: NonNullable<DownloaderStatus['resources']>): void {
    this.status.resources = { ...this.status.resources, ...resources };
  }

  set(fields: Partial<DownloaderStatus>): void {
    Object.assign(this.status, fields);
  }

  ok(type: Step, message: string): void {
    this.condition(type, 'True', REASONS.available, message);
  }

  /** Marks `type` failed, the later parts as waiting on it, and Ready as failed for the reason. */
  fail(type: ConditionType, reason: string, message: string): void {
    this.condition(type, 'False', reason, message);
    const index = PART_CONDITIONS.indexOf(type);
    if (index >= 0) {
      for (const later of PART_CONDITIONS.slice(index + 1)) {
        this.condition(later, 'Unknown', REASONS.waitingForDependency, `Waiting for ${type}`);
      }
    }
    if (type !== CONDITION_TYPES.ready)
      this.condition(CONDITION_TYPES.ready, 'False', reason, message);
  }

  ready(): void {
    this.condition(
      CONDITION_TYPES.ready,
      'True',
      REASONS.reconciled,
      'All AWS resources match the spec',
    );
  }

  private condition(
    type: ConditionType,
    status: Condition['status'],
    reason: string,
    message: string,
  ): void {
    this.status.conditions = setCondition(
      this.status.conditions ?? [],
      { type, status, reason, message },
      this.generation,
      this.now,
    );
  }
}

import { runNowExecutionName } from '../controller/run-now.js';
import { randomBytes } from 'node:crypto';
import { RUN_NOW_ANNOTATION, type Downloader } from '../api/downloader.js';
import { executionArn } from '../aws/executions.js';
import { CONDITION_TYPES, findCondition } from '../controller/conditions.js';
import { classifyExecutionError } from '../workflow/execution-errors.js';
import type { CliDeps } from './deps.js';
import { FINAL_STATUSES, describeAwsError, type ExecutionRecord } from './executions.js';
import { oneLine, rfc3339, runDuration } from './format.js';

/** Characters of a failure's cause printed by `run`. */
const CAUSE_CHARS = 500;
const DEFAULT_POLL_INTERVAL_MS = 1_000;

/** Options of `kubectl downloader run`. */
export interface RunOptions {
  name: string;
  namespace?: string;
  timeoutMs: number;
  /** Follow the execution to its end; false stops once the operator has started it. */
  wait: boolean;
}

export { runNowExecutionName };

/** A fresh run-now value: when it was asked for, and a few random bytes. */
export function newRunNowValue(now: Date): string {
  return `${rfc3339(now).replace(/[-:]/g, '')}-${randomBytes(3).toString('hex')}`;
}

/**
 * `kubectl downloader run NAME`: sets the run-now annotation to a new value, waits until the
 * operator has acted on it (status.lastRunNow), then follows the execution it started until it
 * ends. The execution is read with DescribeExecution; without access to Step Functions, from the
 * Downloader's status.lastExecution, which the operator refreshes every few seconds while a run
 * is RUNNING. Exit status 0 when it SUCCEEDED, 1 when it did not or the timeout passed.
 */
export async function runCommand(deps: CliDeps, options: RunOptions): Promise<number> {
  const namespace = options.namespace ?? deps.defaultNamespace;
  const { name } = options;
  const pollMs = deps.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const started = deps.now().getTime();
  const timedOut = () => deps.now().getTime() - started >= options.timeoutMs;
  const timeoutText = runDuration(options.timeoutMs);

  const existing = await deps.downloaders.get(namespace, name);
  if (!existing) {
    deps.err(`Error: downloader "${name}" not found in namespace "${namespace}"`);
    return 1;
  }
  const value = newRunNowValue(deps.now());
  await deps.downloaders.annotate(namespace, name, RUN_NOW_ANNOTATION, value);
  deps.out(`Run requested: ${RUN_NOW_ANNOTATION}=${value} on ${namespace}/${name}`);
  deps.out('Waiting for the operator to start it...');

  // 1. Until the operator has acted on this value.
  let downloader: Downloader | undefined = existing;
  let notReady = '';
  for (;;) {
    downloader = await deps.downloaders.get(namespace, name);
    if (!downloader) {
      deps.err(`Error: ${namespace}/${name} was deleted`);
      return 1;
    }
    if (downloader.status?.lastRunNow === value) break;
    const ready = findCondition(downloader.status?.conditions, CONDITION_TYPES.ready);
    const why = ready && ready.status !== 'True' ? `${ready.reason}: ${ready.message}` : '';
    if (why && why !== notReady) {
      deps.out(`Not Ready (${why}); the operator starts the run once it is.`);
    }
    notReady = why;
    if (timedOut()) {
      deps.err(
        `Error: timed out after ${timeoutText}: the operator has not started the run. ` +
          'Is it running, and does it watch this namespace?',
      );
      return 1;
    }
    await deps.sleep(pollMs);
  }

  const executionName = runNowExecutionName(downloader.metadata.uid ?? '', value);
  const stateMachineArn = downloader.status?.resources?.stateMachineArn ?? '';
  deps.out(`Execution ${executionName} started.`);
  if (!options.wait) return 0;
  if (downloader.spec.workflow?.type === 'EXPRESS') {
    deps.err(
      'Error: this Downloader runs an EXPRESS workflow, whose outcome Step Functions does not ' +
        "keep: read it in the state machine's CloudWatch Logs (or run with --no-wait).",
    );
    return 1;
  }

  // 2. Until the execution ends.
  const reader = new ExecutionFollower(deps, namespace, name, executionName, stateMachineArn);
  let shown = '';
  for (;;) {
    const execution = await reader.read();
    if (execution && execution.status !== shown) {
      shown = execution.status;
      if (FINAL_STATUSES.has(execution.status)) return report(deps, execution);
      deps.out(`Execution ${executionName}: ${execution.status}`);
    }
    if (timedOut()) {
      deps.err(
        `Error: timed out after ${timeoutText} with execution ${executionName} ` +
          `${shown || 'not seen yet'}; it goes on: kubectl downloader runs ${name} -n ${namespace}`,
      );
      return 1;
    }
    await deps.sleep(pollMs);
  }
}

/** Prints how an execution ended; returns the exit status. */
function report(deps: CliDeps, execution: ExecutionRecord): number {
  const took = execution.stopTime
    ? runDuration(execution.stopTime.getTime() - execution.startTime.getTime())
    : undefined;
  if (execution.status === 'SUCCEEDED') {
    deps.out(`Execution ${execution.name}: SUCCEEDED${took ? ` in ${took}` : ''}`);
    return 0;
  }
  deps.err(`Execution ${execution.name}: ${execution.status}${took ? ` after ${took}` : ''}`);
  const failure = classifyExecutionError(execution.error ?? execution.status, execution.cause);
  if (failure) deps.err(`  reason: ${failure.reason}`);
  if (execution.error) deps.err(`  error:  ${execution.error}`);
  if (execution.cause) deps.err(`  cause:  ${oneLine(execution.cause, CAUSE_CHARS)}`);
  return 1;
}

/**
 * Reads one execution: from Step Functions while that works, else from the Downloader's
 * status.lastExecution (the operator's view, a few seconds behind).
 */
class ExecutionFollower {
  private useAws = true;
  private readonly arn: string;

  constructor(
    private readonly deps: CliDeps,
    private readonly namespace: string,
    private readonly name: string,
    private readonly executionName: string,
    stateMachineArn: string,
  ) {
    this.arn = stateMachineArn ? executionArn(stateMachineArn, executionName) : '';
  }

  async read(): Promise<ExecutionRecord | undefined> {
    if (this.useAws && this.arn) {
      try {
        const described = await this.deps.executions.describe(this.arn);
        if (described) return described;
      } catch (err) {
        this.useAws = false;
        this.deps.err(
          `Note: cannot read the execution from Step Functions (${describeAwsError(err)}); ` +
            "following the Downloader's status instead.",
        );
      }
    }
    const downloader = await this.deps.downloaders.get(this.namespace, this.name);
    const last = downloader?.status?.lastExecution;
    if (!last || last.name !== this.executionName) return undefined;
    return {
      name: last.name,
      arn: last.arn ?? this.arn,
      status: last.status,
      startTime: new Date(last.startTime),
      ...(last.stopTime ? { stopTime: new Date(last.stopTime) } : {}),
      ...(last.error ? { error: last.error } : {}),
      ...(last.cause ? { cause: last.cause } : {}),
    };
  }
}

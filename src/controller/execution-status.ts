import type { DownloaderStatus, ExecutionSummary } from '../api/downloader-status.js';
import { classifyExecutionError } from '../workflow/execution-errors.js';
import { CONDITION_TYPES, REASONS, setCondition } from './conditions.js';

/**
 * How an execution becomes a Downloader's status: `lastExecution`, `lastSuccessTime` and the
 * LastRunSucceeded condition. One function for both sources, ListExecutions (the reconciler's
 * poll) and Step Functions' status change events (the consumer), which may disagree in time:
 * events arrive late, twice, or out of order, and a poll may read an execution an event has
 * already replaced. So a status only ever moves forward (see `supersedes`).
 */

/** Statuses after which an execution changes no more (short of a redrive). */
const FINAL_STATUSES: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
]);

/** True when an execution with this status has ended. */
export function isFinalStatus(status: string): boolean {
  return FINAL_STATUSES.has(status);
}

function sameExecution(a: ExecutionSummary, b: ExecutionSummary): boolean {
  return a.arn && b.arn ? a.arn === b.arn : a.name === b.name;
}

const epochMs = (iso: string | undefined): number => (iso ? Date.parse(iso) || 0 : 0);

/**
 * True when `incoming` should replace `current` as the last execution:
 * - another execution replaces it when it started later (an older one never does; at the same
 *   millisecond the greater name wins, so every replica decides alike);
 * - for the same execution, a final status replaces RUNNING, RUNNING never replaces a final
 *   status, and a final status replaces another final one only when it stopped later (an
 *   execution redriven after failing ends a second time).
 */
export function supersedes(current: ExecutionSummary | undefined, incoming: ExecutionSummary) {
  if (!current) return true;
  if (sameExecution(current, incoming)) {
    if (current.status === incoming.status) return false;
    if (!isFinalStatus(incoming.status)) return !isFinalStatus(current.status);
    if (!isFinalStatus(current.status)) return true;
    return epochMs(incoming.stopTime) > epochMs(current.stopTime);
  }
  const started = epochMs(incoming.startTime) - epochMs(current.startTime);
  return started !== 0 ? started > 0 : incoming.name > current.name;
}

/** What applyExecution did. */
export interface ExecutionApplied {
  /** The execution is now the status's last execution (it was not before, or not so). */
  changed: boolean;
  /**
   * It ended, and the status did not show it ended before: count it once, and report a failure
   * once (a Warning Event).
   */
  finished: boolean;
  /** Reason and message of LastRunSucceeded False, when it ended without succeeding. */
  failure?: { reason: string; message: string };
}

/** Where a condition is set from: the Downloader's generation and the time. */
export interface ConditionStamp {
  generation: number;
  now: Date;
}

/**
 * Makes `execution` the last execution of `status` (changed in place) if it supersedes the
 * current one: sets lastExecution, moves lastSuccessTime forward on a success, and sets
 * LastRunSucceeded on a final status (True, or False with the classified reason). RUNNING
 * leaves the condition as the previous execution left it. An execution that does not supersede
 * changes nothing. Every text of `redact` (the Downloader's credential, `credentialValues`) is
 * masked in what is copied from the execution.
 */
export function applyExecution(
  status: DownloaderStatus,
  incoming: ExecutionSummary,
  stamp: ConditionStamp,
  redact: readonly string[] = [],
): ExecutionApplied {
  const previous = status.lastExecution;
  if (!supersedes(previous, incoming)) return { changed: false, finished: false };
  const execution = masked(incoming, redact);

  status.lastExecution = execution;
  if (!isFinalStatus(execution.status)) return { changed: true, finished: false };
  const finished = true;

  if (execution.status === 'SUCCEEDED') {
    status.lastSuccessTime = laterTime(
      status.lastSuccessTime,
      execution.stopTime ?? execution.startTime,
    );
    setLastRun(status, stamp, 'True', 'Succeeded', `Execution ${execution.name} succeeded`);
    return { changed: true, finished };
  }
  const classified = classifyExecutionError(execution.error ?? execution.status, execution.cause, {
    redact,
  });
  const failure = {
    reason: classified?.reason ?? REASONS.lastRunFailed,
    message: `Execution ${execution.name} ${execution.status}: ${classified?.message ?? ''}`,
  };
  setLastRun(status, stamp, 'False', failure.reason, failure.message);
  return { changed: true, finished, failure };
}

/**
 * The execution with every text of `redact` masked in its error and cause: a cause is what the
 * source answered, and a source may echo the credential the proxy sent it.
 */
function masked(execution: ExecutionSummary, redact: readonly string[]): ExecutionSummary {
  const mask = (text: string | undefined) =>
    text === undefined
      ? undefined
      : redact.reduce((out, secret) => (secret ? out.split(secret).join('[redacted]') : out), text);
  if (redact.length === 0) return execution;
  const error = mask(execution.error);
  const cause = mask(execution.cause);
  return {
    ...execution,
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
}

/** lastExecution as a merge patch: absent optional fields removed rather than kept. */
export function executionPatch(
  execution: DownloaderStatus['lastExecution'],
): Record<string, unknown> | undefined {
  if (!execution) return undefined;
  return { arn: null, stopTime: null, error: null, cause: null, ...execution };
}

/** The later of two ISO times (either may be absent). */
export function laterTime(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return epochMs(b) > epochMs(a) ? b : a;
}

function setLastRun(
  status: DownloaderStatus,
  stamp: ConditionStamp,
  value: 'True' | 'False',
  reason: string,
  message: string,
): void {
  status.conditions = setCondition(
    status.conditions ?? [],
    { type: CONDITION_TYPES.lastRun, status: value, reason, message },
    stamp.generation,
    stamp.now,
  );
}

/** The execution part of a status, as last written. */
export interface KnownExecution {
  lastExecution?: ExecutionSummary;
  lastSuccessTime?: string;
}

/**
 * What this process last wrote about each Downloader's executions, and a lock per Downloader
 * around "read, change, write" of those fields.
 *
 * Two writers change them: the reconciler (its whole status, from a snapshot of the informer
 * cache taken when the reconcile began) and the event consumer (from events). Without care the
 * reconciler would write back an older execution the consumer replaced meanwhile. So both write
 * under `serialize(key)`, each records here what it wrote, and the reconciler applies what is
 * recorded (`catchUp`) before writing: it never moves an execution backwards. State is in
 * memory: after a restart, the statuses in the cluster are the record.
 */
export class ExecutionLedger {
  private readonly known = new Map<string, KnownExecution>();
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `work` after every earlier `serialize` of the same key has finished (whether it
   * succeeded or not); different keys run concurrently.
   */
  async serialize<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release = () => {};
    const tail = new Promise<void>((resolve) => (release = resolve));
    const chained = previous.then(() => tail);
    this.tails.set(key, chained);
    try {
      await previous;
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === chained) this.tails.delete(key);
    }
  }

  /** Records the execution fields of a status just written. */
  remember(key: string, status: DownloaderStatus): void {
    if (!status.lastExecution && !status.lastSuccessTime) return;
    this.known.set(key, {
      ...(status.lastExecution ? { lastExecution: status.lastExecution } : {}),
      ...(status.lastSuccessTime ? { lastSuccessTime: status.lastSuccessTime } : {}),
    });
  }

  get(key: string): KnownExecution | undefined {
    return this.known.get(key);
  }

  /**
   * Brings `status` (changed in place) up to what was last written for `key`, without counting
   * or reporting anything: whoever wrote it did. Returns true when something changed.
   */
  catchUp(key: string, status: DownloaderStatus, stamp: ConditionStamp): boolean {
    const known = this.known.get(key);
    if (!known) return false;
    let changed = false;
    if (known.lastExecution) {
      changed = applyExecution(status, known.lastExecution, stamp).changed;
    }
    const success = laterTime(status.lastSuccessTime, known.lastSuccessTime);
    if (success !== status.lastSuccessTime) {
      status.lastSuccessTime = success;
      changed = true;
    }
    return changed;
  }

  /** Forgets a Downloader that no longer exists. */
  forget(key: string): void {
    this.known.delete(key);
  }
}

import type { Downloader } from '../api/downloader.js';
import { CONDITION_TYPES, findCondition } from '../controller/conditions.js';
import { mapLimit, type CliDeps } from './deps.js';
import { isFailedStatus, type ExecutionRecord } from './executions.js';
import { NONE, oneLine, renderTable, rfc3339, runDuration } from './format.js';

/** DescribeExecution calls under way at once, for the error and cause of failed runs. */
const DESCRIBE_CONCURRENCY = 4;
/** Characters of a cause shown in the table. */
const CAUSE_COLUMN_CHARS = 60;

/** Options of `kubectl downloader runs`. */
export interface RunsOptions {
  name: string;
  namespace?: string;
  limit: number;
}

/**
 * `kubectl downloader runs NAME`: the Downloader's recent executions, newest first, read from
 * Step Functions; failed ones are described for their error and cause.
 */
export async function runsCommand(deps: CliDeps, options: RunsOptions): Promise<number> {
  const namespace = options.namespace ?? deps.defaultNamespace;
  const found = await stateMachineOf(deps, namespace, options.name);
  if (typeof found === 'string') {
    deps.err(`Error: ${found}`);
    return 1;
  }

  const listed = await deps.executions.recent(found.arn, options.limit);
  if (listed.length === 0) {
    deps.err(`No runs of ${options.name} in ${namespace} namespace yet.`);
    return 0;
  }
  const executions = await mapLimit(listed, DESCRIBE_CONCURRENCY, async (e) =>
    isFailedStatus(e.status) ? ((await deps.executions.describe(e.arn)) ?? e) : e,
  );
  const now = deps.now();
  const rows = executions.map((e) => runCells(e, now));
  const headers = ['NAME', 'STARTED', 'DURATION', 'STATUS', 'ERROR', 'CAUSE'];
  for (const line of renderTable(headers, rows)) deps.out(line);
  return 0;
}

/** NAME, STARTED, DURATION, STATUS, ERROR and CAUSE of one execution. */
export function runCells(e: ExecutionRecord, now: Date): string[] {
  const end = e.stopTime ?? now;
  return [
    e.name,
    rfc3339(e.startTime),
    runDuration(end.getTime() - e.startTime.getTime()),
    e.status,
    e.error ?? (isFailedStatus(e.status) ? NONE : ''),
    e.cause ? oneLine(e.cause, CAUSE_COLUMN_CHARS) : '',
  ];
}

/**
 * The STANDARD state machine of a Downloader, or why there is none to read: not found, not
 * made yet, or an EXPRESS workflow, whose executions Step Functions does not list.
 */
export async function stateMachineOf(
  deps: CliDeps,
  namespace: string,
  name: string,
): Promise<{ arn: string; downloader: Downloader } | string> {
  const downloader = await deps.downloaders.get(namespace, name);
  if (!downloader) return `downloader "${name}" not found in namespace "${namespace}"`;
  if (downloader.spec.workflow?.type === 'EXPRESS') {
    return (
      `${name} runs an EXPRESS workflow, whose executions Step Functions does not list; ` +
      "read them in the state machine's CloudWatch Logs"
    );
  }
  const arn = downloader.status?.resources?.stateMachineArn;
  if (!arn) {
    const ready = findCondition(downloader.status?.conditions, CONDITION_TYPES.ready);
    const why = ready ? ` (Ready ${ready.status}: ${ready.reason}: ${ready.message})` : '';
    return `${name} has no state machine yet${why}`;
  }
  return { arn, downloader };
}

import type { Downloader } from '../api/downloader.js';
import { CONDITION_TYPES, findCondition } from '../controller/conditions.js';
import { mapLimit, type CliDeps } from './deps.js';
import { describeAwsError, isFailedStatus } from './executions.js';
import { NO_HISTORY, NONE, SPARK, ageOf, renderTable, sparkline } from './format.js';

/** ListExecutions calls under way at once: well inside the API's bucket of 100. */
const LIST_CONCURRENCY = 4;

/** Options of `kubectl downloader status`. */
export interface StatusOptions {
  namespace?: string;
  allNamespaces: boolean;
  /** Executions in each sparkline. */
  limit: number;
}

/**
 * `kubectl downloader status`: one row per Downloader, read from its status (what the operator
 * saw) plus a sparkline of its recent executions read from Step Functions. A sparkline that
 * cannot be read shows `?` and a warning, so a missing AWS permission does not hide the rest.
 */
export async function statusCommand(deps: CliDeps, options: StatusOptions): Promise<number> {
  const namespace = options.allNamespaces
    ? undefined
    : (options.namespace ?? deps.defaultNamespace);
  const downloaders = (await deps.downloaders.list(namespace)).sort(
    (a, b) =>
      (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  );
  if (downloaders.length === 0) {
    deps.err(
      namespace === undefined
        ? 'No Downloaders found.'
        : `No Downloaders found in ${namespace} namespace.`,
    );
    return 0;
  }

  const warnings: string[] = [];
  const sparklines = await mapSparklines(deps, downloaders, options.limit, warnings);
  const now = deps.now();
  const headers = [
    ...(options.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'READY',
    'REASON',
    'SCHEDULE',
    'LAST RUN',
    'LAST STATUS',
    'LAST SUCCESS',
    'RECENT',
  ];
  const rows = downloaders.map((d, index) => [
    ...(options.allNamespaces ? [d.metadata.namespace ?? ''] : []),
    d.metadata.name ?? '',
    ...statusCells(d, now),
    sparklines[index] ?? NONE,
  ]);
  for (const line of renderTable(headers, rows)) deps.out(line);
  for (const warning of warnings) deps.err(`Warning: ${warning}`);
  return 0;
}

/** READY, REASON, SCHEDULE, LAST RUN, LAST STATUS and LAST SUCCESS of one Downloader. */
export function statusCells(d: Downloader, now: Date): string[] {
  const ready = findCondition(d.status?.conditions, CONDITION_TYPES.ready);
  const lastRun = findCondition(d.status?.conditions, CONDITION_TYPES.lastRun);
  const last = d.status?.lastExecution;
  const schedule = d.spec.schedule;
  let lastStatus = last?.status ?? NONE;
  if (last && isFailedStatus(last.status) && lastRun?.status === 'False') {
    lastStatus = `${last.status} (${lastRun.reason})`;
  }
  return [
    ready?.status ?? 'Unknown',
    ready?.reason ?? NONE,
    schedule ? `${schedule.expression}${schedule.suspend ? ' (suspended)' : ''}` : NONE,
    ageOf(last?.startTime, now),
    lastStatus,
    ageOf(d.status?.lastSuccessTime, now),
  ];
}

async function mapSparklines(
  deps: CliDeps,
  downloaders: readonly Downloader[],
  limit: number,
  warnings: string[],
): Promise<string[]> {
  return mapLimit(downloaders, LIST_CONCURRENCY, async (d) => {
    if (d.spec.workflow?.type === 'EXPRESS') return NO_HISTORY;
    const arn = d.status?.resources?.stateMachineArn;
    if (!arn) return NONE;
    try {
      const executions = await deps.executions.recent(arn, limit);
      return sparkline(executions.map((e) => e.status));
    } catch (err) {
      warnings.push(
        `cannot list the executions of ${d.metadata.namespace}/${d.metadata.name}: ` +
          describeAwsError(err),
      );
      return SPARK.other;
    }
  });
}

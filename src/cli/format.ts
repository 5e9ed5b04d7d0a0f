/**
 * Pure formatting for the kubectl plugin: ages and durations, the run sparkline, and tables laid
 * out as kubectl lays out `kubectl get`. Nothing here reads a clock: callers pass `now`.
 */

/** What kubectl prints for a value that is not there. */
export const NONE = '<none>';

/**
 * One character per execution in the sparkline: a full block for a success, a low bar for a
 * failure (FAILED, TIMED_OUT, ABORTED), a half block for one still running. Blocks read as a bar
 * chart of "data delivered" without colour, which `kubectl get` does not use either.
 */
export const SPARK = {
  succeeded: '█',
  failed: '▁',
  running: '▄',
  other: '?',
} as const;

/** The sparkline cell of a workflow whose executions cannot be listed (EXPRESS). */
export const NO_HISTORY = '-';

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const YEAR_DAYS = 365;

/**
 * An age as `kubectl get` prints one in its AGE column (apimachinery's HumanDuration): precise
 * when recent, coarser as it grows: `45s`, `3m12s`, `42m`, `5h3m`, `30h`, `3d4h`, `210d`, `2y30d`.
 */
export function humanAge(ms: number): string {
  const seconds = Math.trunc(ms / SECOND_MS);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 2 * 60) return `${seconds}s`;

  const minutes = Math.trunc(ms / MINUTE_MS);
  if (minutes < 10) return withRest(minutes, 'm', seconds % 60, 's');
  if (minutes < 3 * 60) return `${minutes}m`;

  const hours = Math.trunc(ms / HOUR_MS);
  if (hours < 8) return withRest(hours, 'h', minutes % 60, 'm');
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(ms / DAY_MS);
  if (hours < 8 * 24) return withRest(days, 'd', hours % 24, 'h');
  if (days < 2 * YEAR_DAYS) return `${days}d`;
  const years = Math.trunc(days / YEAR_DAYS);
  if (years < 8) return withRest(years, 'y', days % YEAR_DAYS, 'd');
  return `${years}y`;
}

function withRest(value: number, unit: string, rest: number, restUnit: string): string {
  return rest === 0 ? `${value}${unit}` : `${value}${unit}${rest}${restUnit}`;
}

/** The age of an ISO 8601 `timestamp` at `now`, or NONE when there is none. */
export function ageOf(timestamp: string | Date | undefined, now: Date): string {
  if (timestamp === undefined) return NONE;
  const time = new Date(timestamp).getTime();
  return Number.isNaN(time) ? NONE : humanAge(now.getTime() - time);
}

/**
 * How long an execution ran, precise enough to compare runs: `850ms`, `4.2s`, `42s`, `2m05s`,
 * `1h02m`, `3d04h`.
 */
export function runDuration(ms: number): string {
  if (ms < 0) return '0ms';
  if (ms < SECOND_MS) return `${Math.round(ms)}ms`;
  if (ms < 10 * SECOND_MS) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  if (ms < MINUTE_MS) return `${Math.floor(ms / SECOND_MS)}s`;
  if (ms < HOUR_MS) return pair(ms, MINUTE_MS, 'm', SECOND_MS, 's');
  if (ms < DAY_MS) return pair(ms, HOUR_MS, 'h', MINUTE_MS, 'm');
  return pair(ms, DAY_MS, 'd', HOUR_MS, 'h');
}

function pair(ms: number, big: number, bigUnit: string, small: number, smallUnit: string) {
  const rest = Math.floor((ms % big) / small);
  return `${Math.floor(ms / big)}${bigUnit}${String(rest).padStart(2, '0')}${smallUnit}`;
}

/** The sparkline character of one execution status. */
export function sparkOf(status: string | undefined): string {
  switch (status) {
    case 'SUCCEEDED':
      return SPARK.succeeded;
    case 'FAILED':
    case 'TIMED_OUT':
    case 'ABORTED':
      return SPARK.failed;
    case 'RUNNING':
    case 'PENDING_REDRIVE':
      return SPARK.running;
    default:
      return SPARK.other;
  }
}

/**
 * The sparkline of executions listed newest first (as ListExecutions lists them): oldest on the
 * left, newest on the right, one character each. NONE when there are none.
 */
export function sparkline(statusesNewestFirst: readonly (string | undefined)[]): string {
  if (statusesNewestFirst.length === 0) return NONE;
  return [...statusesNewestFirst].reverse().map(sparkOf).join('');
}

/** `text` on one line (whitespace runs collapsed), cut to `max` characters with an ellipsis. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : flat;
}

/** A time as RFC 3339 in UTC to the second, the way Kubernetes writes timestamps. */
export function rfc3339(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Lines of a table laid out as `kubectl get` does: upper-case headers, columns left-aligned and
 * three spaces apart, no trailing spaces. Widths count characters, not UTF-16 units.
 */
export function renderTable(headers: readonly string[], rows: readonly string[][]): string[] {
  const width = (text: string) => [...text].length;
  const widths = headers.map((header, column) =>
    Math.max(width(header), ...rows.map((row) => width(row[column] ?? ''))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell + ' '.repeat((widths[column] ?? 0) - width(cell)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

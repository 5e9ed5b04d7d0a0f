import { createHash } from 'node:crypto';

/**
 * Name of the execution started for run-now value `value` of the Downloader with `uid`. Derived,
 * not random, so that starting it twice (after a crash between the start and the status write)
 * finds the execution already there instead of running the download twice. The kubectl plugin
 * uses it to follow the run it asked for.
 */
export function runNowExecutionName(uid: string, value: string): string {
  const hash = createHash('sha256').update(`${uid}/${value}`).digest('hex').slice(0, 16);
  return `run-now-${hash}`;
}

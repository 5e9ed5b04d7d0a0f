import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** What /proc says about one process. */
export interface ProcStats {
  /** Peak resident set size (VmHWM), MiB. */
  peakRssMiB: number;
  /** Resident set size now (VmRSS), MiB. */
  rssMiB: number;
  /** User plus system CPU time, seconds. */
  cpuSeconds: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return ticksPerSecond || 100;
}

/** Reads VmHWM, VmRSS and utime+stime of `pid`; undefined once the process is gone. */
export function procStats(pid: number): ProcStats | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const kib = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    // Fields after the command name (which may hold spaces) start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return {
      peakRssMiB: kib('VmHWM') / 1024,
      rssMiB: kib('VmRSS') / 1024,
      cpuSeconds: (utime + stime) / clockTicks(),
    };
  } catch {
    return undefined;
  }
}

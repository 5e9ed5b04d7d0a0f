import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** A running operator process, started the way `npm start` starts it. */
export interface OperatorProcess {
  child: ChildProcess;
  logFile: string;
  /** Log lines seen so far (JSON lines from pino). */
  lines(): string[];
  /** SIGTERM and wait for the exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, no cleanup of any kind. */
  kill(): Promise<void>;
}

let started = 0;

/**
 * Starts `tsx src/main.ts` with the local cloud's environment (already in process.env after the
 * suite's global setup) plus `env`, logging to a file under the test cloud's directory.
 */
export function startOperator(
  args: string[] = [],
  env: Record<string, string> = {},
): OperatorProcess {
  const dir = join(process.env.CLOUD_DIR ?? '.local', 'logs');
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `operator-${process.pid}-${++started}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', '--metrics-address', '127.0.0.1:0', ...args],
    { env: { ...process.env, LOG_LEVEL: 'debug', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collected: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer) => {
    out.write(chunk);
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    collected.push(...parts);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    child,
    logFile,
    lines: () => [...collected],
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

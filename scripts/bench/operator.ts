import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { buildDist } from '../build.js';
import { parseMetrics, type Sample } from './prom.js';
import { procStats, type ProcStats } from './proc.js';

/**
 * Builds the operator as it ships (`npm run build`: one bundled file, scripts/build.ts) into
 * `dir`, so the benchmark measures the memory and CPU of what the image runs rather than of tsx
 * compiling on the fly. `dir` may be anywhere: it gets a package.json saying its files are ES
 * modules, as the image's /app has, and no node_modules, as the image has none.
 */
export async function buildOperator(dir: string): Promise<string> {
  await buildDist(dir);
  const main = resolve(dir, 'main.js');
  if (!existsSync(main)) throw new Error(`the build wrote no ${main}`);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
  return main;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

/** A running operator process. */
export interface RunningOperator {
  pid: number;
  startedAt: number;
  /** Resolves when a log line with this message appears; with the time it was read. */
  logged(message: string, timeoutMs?: number): Promise<number>;
  metrics(): Promise<Sample[]>;
  stats(): ProcStats | undefined;
  /** The largest peak RSS seen by `stats` or at exit. */
  peakRssMiB(): number;
  stop(): Promise<void>;
}

/**
 * The environment the image runs the operator with (the Dockerfile's ENV lines): V8's young
 * generation in 2 MiB semi-spaces and its old generation capped at 192 MiB, and glibc's malloc
 * held to two arenas.
 */
export const IMAGE_ENV = {
  NODE_OPTIONS: '--max-semi-space-size=2 --max-old-space-size=192',
  MALLOC_ARENA_MAX: '2',
};

/**
 * Starts `node <main> ...args` with `env`, logging to `logFile`, serving /metrics on a free
 * port; resolves once /metrics answers.
 */
export async function startOperator(
  main: string,
  args: string[],
  env: Record<string, string | undefined>,
  logFile: string,
): Promise<RunningOperator> {
  mkdirSync(join(logFile, '..'), { recursive: true });
  const port = await freePort();
  const out = createWriteStream(logFile);
  const startedAt = Date.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [main, '--metrics-address', `127.0.0.1:${port}`, ...args],
    {
      env: { ...env, LOG_LEVEL: env.LOG_LEVEL ?? 'info', ...IMAGE_ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const pid = child.pid ?? 0;
  const waiters: Array<{ message: string; resolve: (at: number) => void }> = [];
  const seen = new Map<string, number>();
  let partial = '';
  const collect = (chunk: Buffer) => {
    out.write(chunk);
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    const at = Date.now();
    for (const line of lines) {
      const message = /"msg":"([^"]*)"/.exec(line)?.[1];
      if (!message || seen.has(message)) continue;
      seen.set(message, at);
      for (const w of waiters.filter((w) => w.message === message)) w.resolve(at);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  let peak = 0;
  const stats = () => {
    const s = procStats(pid);
    if (s) peak = Math.max(peak, s.peakRssMiB);
    return s;
  };

  const url = `http://127.0.0.1:${port}/metrics`;
  const metrics = async () => parseMetrics(await (await fetch(url)).text());
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the operator exited at start; see ${logFile}`);
    try {
      await metrics();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`the operator never served ${url}`);
      await new Promise((ok) => setTimeout(ok, 200));
    }
  }

  return {
    pid,
    startedAt,
    logged: (message, timeoutMs = 600_000) => {
      const at = seen.get(message);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((ok, fail) => {
        const timer = setTimeout(
          () => fail(new Error(`no "${message}" in the operator's log (${logFile})`)),
          timeoutMs,
        );
        waiters.push({
          message,
          resolve: (when) => {
            clearTimeout(timer);
            ok(when);
          },
        });
      });
    },
    metrics,
    stats,
    peakRssMiB: () => peak,
    stop: async () => {
      stats();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
      out.end();
    },
  };
}

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { figures, quotaFigures } from '../../../scripts/bench/report.js';
import type { QuotaResult, ScaleResult } from '../../../scripts/bench/scenario.js';

/** Runs `npm run bench`'s script with `args`; resolves with its exit code and output. */
function bench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/bench.ts', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run bench', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  let run: { code: number | null; output: string };
  let results: { scale: ScaleResult[]; quota: QuotaResult[] };
  let report: string;

  beforeAll(async () => {
    // Small enough to be quick, with every phase: creation, floors, one resync, execution lag,
    // and the quota run behind the throttling proxy. The lag window counts executions that end
    // from when every schedule runs until 30 s before it closes; a first firing (at once on
    // un-suspend) may end before that on a busy machine, so the window is long enough for each
    // schedule's second firing (60 s after its first) to end inside it.
    run = await bench([
      '--n',
      '5',
      '--quota-mode',
      '--quota-n',
      '3',
      '--poll-interval',
      '5',
      '--lag-window',
      '100',
      '--out',
      join(dir, 'benchmarks.md'),
      '--json',
      join(dir, 'results.json'),
      '--work-dir',
      join(dir, 'work'),
    ]);
    if (run.code === 0) {
      results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
      report = readFileSync(join(dir, 'benchmarks.md'), 'utf8');
    }
  }, 900_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs to the end with N=5 and writes the report and the results', () => {
    expect({ code: run.code, tail: run.code === 0 ? '' : run.output.slice(-3000) }).toEqual({
      code: 0,
      tail: '',
    });
    expect(results.scale.map((r) => r.n)).toEqual([5]);
    expect(results.quota.map((q) => q.n)).toEqual([3]);
  });

  it('measures every figure of the report as a number', () => {
    const missing = Object.entries(figures(results.scale[0]!))
      .filter(([, value]) => typeof value !== 'number' || !Number.isFinite(value))
      .map(([key]) => key);
    const quotaMissing = Object.entries(quotaFigures(results.quota[0]!))
      .filter(([, value]) => !Number.isFinite(value))
      .map(([key]) => key);
    expect({ missing, quotaMissing }).toEqual({ missing: [], quotaMissing: [] });
  });

  it('sees what a small run must see: all Ready, no mutation on resync, no throttling', () => {
    const [scale] = results.scale;
    const [quota] = results.quota;
    expect(scale!.lag!.executions).toBeGreaterThanOrEqual(5);
    expect(scale!.lag!.within30s).toBe(scale!.lag!.executions);
    expect(figures(scale!).resyncMutatingCalls).toBe(0);
    // A warm resync skips what rarely changes (tags, the list of inline policies), so it reads
    // less than the first round after a restart, which reads everything.
    expect(figures(scale!).restartMutatingCalls).toBe(0);
    // Nothing changed, so nothing is written back to the API server either.
    expect(figures(scale!).resyncStatusWrites).toBe(0);
    // What the recheck interval covers is not read again in a warm resync (at N=5 the shared
    // REST APIs' sweep makes the totals no smaller than after a restart, so compare by call).
    for (const call of [
      'dynamodb:ListTagsOfResource',
      'states:ListTagsForResource',
      'iam:ListRolePolicies',
      'iam:GetRolePolicy',
    ]) {
      expect({ call, n: scale!.steady.calls[call] ?? 0 }).toEqual({ call, n: 0 });
      expect(scale!.restart!.calls[call] ?? 0).toBeGreaterThan(0);
    }
    // 5 Downloaders over 10 source hosts: one shared REST API each, made once.
    expect(figures(scale!).restApisMade).toBe(5);
    expect(quota!.throttledSeen + quota!.throttledAnswered).toBe(0);
    expect(quota!.minimumSeconds).toBeGreaterThan(0);
  });

  it('writes the tables between the markers, with the command that made them', () => {
    expect(report).toContain('<!-- bench:begin');
    expect(report).toContain('<!-- bench:end -->');
    expect(report).toContain('Command: `npm run bench -- --n 5 --quota-mode');
    for (const label of [
      'time until all Ready (s)',
      'floor: same AWS calls, one Downloader after another (s)',
      'operator time / parallel floor',
      'mutating AWS calls in one resync (all Downloaders)',
      'AWS reads per AWS resource per resync',
      'operator peak RSS (MiB)',
      'CPU per reconcile, resync (ms)',
      'kube-apiserver requests in one resync',
      'executions shown within 30 s of their end',
      'time / least time',
      'throttling errors (seen by the operator / answered by the proxy)',
    ]) {
      expect(report).toContain(`| ${label}`);
    }
  });
});

/**
 * `npm run bench`: measures the operator at scale on a local cloud of its own, and writes the
 * results into docs/benchmarks.md (between its markers) and as JSON.
 *
 *   npm run bench -- --n 100,1000 [--quota-mode] [--quota-n 100] [--concurrency 4]
 *   npm run bench -- --n 0 --quota-mode --quota-n 100      (quota mode only)
 *                    [--poll-interval 20] [--lag-window 180] [--out docs/benchmarks.md]
 *                    [--json file] [--work-dir dir] [--keep] [--revision text]
 *                    [--execution-events true|false] [--lag-mode real|synthetic]
 *   npm run bench -- --from-json a.json[,b.json] [--out file]   (renders saved results again)
 *
 * For each N: a fresh local cloud; N Downloaders over 10 source hosts (schedules suspended);
 * the operator (bundled as it ships, pacing off: moto never throttles) from nothing to all
 * Ready; one resync (the operator restarted, so each Downloader is reconciled once); the
 * execution lag with the schedules running rate(1 minute); and the floors: the same AWS calls
 * made directly with the SDK on a fresh local AWS, one Downloader after another and
 * --concurrency at once.
 * --quota-mode adds, for each --quota-n, a run with pacing at the documented quotas behind a
 * proxy that throttles as AWS would.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { OPTIONS } from '../../src/config.js';
import { buildOperator } from './operator.js';
import { renderReport, writeReport, type RunInfo } from './report.js';
import { runQuota, runScale, type QuotaResult, type ScaleResult } from './scenario.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    n: { type: 'string', default: '100' },
    'quota-mode': { type: 'boolean', default: false },
    'quota-n': { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    'poll-interval': { type: 'string', default: '20' },
    'lag-window': { type: 'string', default: '180' },
    'lag-mode': { type: 'string', default: 'real' },
    out: { type: 'string', default: 'docs/benchmarks.md' },
    json: { type: 'string' },
    'work-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
    revision: { type: 'string' },
    'execution-events': { type: 'string' },
    'from-json': { type: 'string' },
  },
  strict: true,
});

/** The commit measured, and whether the working tree differed from it. */
function revision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no', 'src') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown';
  }
}

/** One run's description from several: commands joined, each run's notes under its number and date. */
function mergeInfo(infos: RunInfo[]): RunInfo {
  const [first] = infos;
  if (!first || infos.length === 1)
    return first ?? { command: '', date: '', machine: '', notes: [] };
  return {
    command: infos.map((i) => i.command).join('  and  '),
    date: infos.map((i) => i.date).join(' and '),
    machine: first.machine,
    notes: infos.flatMap((i, k) => [
      `Run ${k + 1} (the command's part ${k + 1}, ${i.date}):`,
      ...i.notes.map((n) => `  ${n}`),
    ]),
  };
}

const numbers = (text: string) =>
  text
    .split(',')
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isInteger(x) && x > 0);

async function main(): Promise<void> {
  if (values['from-json']) {
    // Renders the report again from saved results, without measuring; several files (comma
    // separated) make one report whose columns are their scenarios, ordered by N.
    const runs = values['from-json'].split(',').map(
      (file) =>
        JSON.parse(readFileSync(file.trim(), 'utf8')) as {
          info: RunInfo;
          scale: ScaleResult[];
          quota: QuotaResult[];
        },
    );
    writeReport(
      values.out,
      renderReport(
        mergeInfo(runs.map((r) => r.info)),
        runs.flatMap((r) => r.scale).sort((a, b) => a.n - b.n),
        runs.flatMap((r) => r.quota).sort((a, b) => a.n - b.n),
      ),
    );
    return;
  }
  const ns = numbers(values.n);
  const quotaNs = values['quota-mode'] ? numbers(values['quota-n'] ?? values.n) : [];
  if (ns.length === 0 && quotaNs.length === 0) {
    throw new Error('--n needs one or more positive integers, e.g. 100,1000 (0: quota mode only)');
  }
  const workDir = resolve(values['work-dir'] ?? join('.local', `bench-${process.pid}`));
  mkdirSync(workDir, { recursive: true });
  const log = (message: string) =>
    console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

  const loadAtStart = loadavg();
  log(`building the operator into ${workDir}/dist`);
  const main = await buildOperator(join(workDir, 'dist'));
  const executionEvents = values['execution-events'] as 'true' | 'false' | undefined;
  if (executionEvents !== undefined && executionEvents !== 'true' && executionEvents !== 'false') {
    throw new Error('--execution-events is true or false');
  }
  const lagMode = values['lag-mode'] as 'real' | 'synthetic';
  if (lagMode !== 'real' && lagMode !== 'synthetic') {
    throw new Error('--lag-mode is real (schedules run executions) or synthetic (events only)');
  }
  const settings = {
    main,
    lagMode,
    ...(executionEvents ? { executionEvents } : {}),
    concurrency: Number(values.concurrency),
    pollSeconds: Number(values['poll-interval']),
    lagWindowSeconds: Number(values['lag-window']),
    log,
  };

  const scale: ScaleResult[] = [];
  const quota: QuotaResult[] = [];
  try {
    for (const n of ns) {
      scale.push(await runScale({ ...settings, workDir: join(workDir, `n${n}`) }, n));
    }
    for (const n of quotaNs) {
      quota.push(await runQuota({ ...settings, workDir: join(workDir, `quota-n${n}`) }, n));
    }
  } finally {
    if (!values.keep) rmSync(join(workDir, 'dist'), { recursive: true, force: true });
  }

  const cpu = cpus();
  const info: RunInfo = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine:
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`,
    notes: [
      `Operator revision: ${values.revision ?? revision()}.`,
      `Load average (1, 5, 15 min) at the start: ${loadAtStart.map((x) => x.toFixed(1)).join(', ')}; ` +
        `per scenario: ${[...scale, ...quota]
          .map(
            (r) =>
              `${'minimumSeconds' in r ? 'quota ' : ''}N=${r.n} ${r.load.before[0]} → ${r.load.after[0]}`,
          )
          .join('; ')}. The machine was shared with other work while this ran.`,
      `Operator: bundled as it ships (esbuild, \`npm run build\`), \`--concurrency ${settings.concurrency}\`, one local cloud per ` +
        'scenario (real kube-apiserver and etcd, moto behind our launcher), 10 source hosts ' +
        '(127.0.0.2-11 forwarding to the stand-in API). Without quotas the operator runs with ' +
        '`--aws-rate-limits off`: moto never throttles.',
      `Lag: schedules \`rate(1 minute)\`, execution status ` +
        ((executionEvents ?? OPTIONS.executionEvents.default) === 'true'
          ? 'from EventBridge events through SQS (`--execution-events`, the default; polling ' +
            'only on resync)'
          : `polled every ${settings.pollSeconds} s (\`--execution-events false\`)`) +
        `, watched for ${settings.lagWindowSeconds} s; executions that ended at least 30 s ` +
        'before the window closed are counted.' +
        (lagMode === 'synthetic'
          ? " Synthetic (`--lag-mode synthetic`): no execution is run; each Downloader's " +
            'state machine gets one a minute, spread over the minute, whose RUNNING and ' +
            '(2 s later) SUCCEEDED status-change events are put on the default EventBridge bus ' +
            "with Step Functions' source and detail, and reach the operator through its own " +
            'rule and queue; an execution ends when its final event is put.'
          : ''),
    ],
  };
  const report = renderReport(info, scale, quota);
  writeReport(values.out, report);
  log(`report written to ${values.out}`);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify({ info, scale, quota }, null, 2));
    log(`results written to ${values.json}`);
  }
  if (!values.keep) rmSync(workDir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exit(1);
  },
);

/**
 * `npm run reliability`: the heavy versions of the reliability checks, and their figures in
 * docs/reliability.md (between the `figures` markers; the rest of the document is left alone).
 *
 * - the definition fuzz (unit project) with FUZZ_CASES specs (default 5000);
 * - test/integration/reliability/* with RELIABILITY_PROFILE=heavy: 50 Downloaders under 20 %
 *   AWS faults, 30 kill -9, five cycles of each Kubernetes fault, 300 fuzzed Downloaders...
 *
 * The integration suite starts its own local cloud (and stops it), unless TEST_CLOUD_ENV names
 * one. RELIABILITY_SEED changes the seeds; `-- --only aws-faults,crashes` runs some files only;
 * `-- --no-write` leaves the document alone. Exits non-zero when a check fails, after writing
 * what was measured.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const DOC = 'docs/reliability.md';
const START = '<!-- figures:start (written by npm run reliability) -->';
const END = '<!-- figures:end -->';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { only: { type: 'string' }, 'no-write': { type: 'boolean' } },
});
const only = values.only
  ?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const figuresDir = mkdtempSync(join(tmpdir(), 'reliability-'));
const env = {
  ...process.env,
  RELIABILITY_PROFILE: 'heavy',
  RELIABILITY_FIGURES_DIR: figuresDir,
  FUZZ_CASES: process.env.FUZZ_CASES ?? '5000',
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim(),
};

interface JestFileResult {
  name: string;
  status: string;
  startTime: number;
  endTime: number;
  assertionResults: Array<{ fullName: string; status: string; duration?: number }>;
}

function jest(project: string, pattern: string, output: string): JestFileResult[] {
  const started = Date.now();
  const run = spawnSync(
    'npx',
    [
      'jest',
      '--selectProjects',
      project,
      '--runInBand',
      '--testPathPatterns',
      pattern,
      '--json',
      '--outputFile',
      output,
    ],
    { env, stdio: 'inherit' },
  );
  console.error(
    `[reliability] ${project} ${pattern}: exit ${run.status} in ${minutes(Date.now() - started)}`,
  );
  if (!existsSync(output)) return [];
  return (JSON.parse(readFileSync(output, 'utf8')) as { testResults: JestFileResult[] })
    .testResults;
}

function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 120 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

const files = [
  'aws-faults',
  'crashes',
  'kube-faults',
  'admission-corpus',
  'operator-judged',
  'fuzz',
  'security',
].filter((f) => !only || only.includes(f));

const results: JestFileResult[] = [];
if (!only || only.includes('fuzz-definition')) {
  results.push(
    ...jest('unit', 'test/unit/reliability/fuzz-definition', join(figuresDir, 'jest-unit.json')),
  );
}
if (files.length > 0) {
  const pattern = `test/integration/reliability/(${files.join('|')})\\.test\\.ts`;
  results.push(...jest('integration', pattern, join(figuresDir, 'jest-integration.json')));
}

type Figures = Record<string, unknown>;
interface Suite {
  result: string;
  time: string;
  measured: string;
}
interface Stored {
  figures: Record<string, Figures>;
  suites: Record<string, Suite>;
}

// A partial run (--only) keeps what the last full run measured for the other parts: the raw
// figures travel in the document, in a comment inside the figures block.
const doc = readFileSync(DOC, 'utf8');
const previous = /<!-- figures-json ([A-Za-z0-9+/=]+) -->/.exec(doc)?.[1];
const stored: Stored = previous
  ? (JSON.parse(Buffer.from(previous, 'base64').toString('utf8')) as Stored)
  : { figures: {}, suites: {} };
const measured = `${new Date().toISOString().slice(0, 10)} ${gitRevision()}`;
for (const file of readdirSync(figuresDir).filter(
  (f) => f.endsWith('.json') && !f.startsWith('jest'),
)) {
  const data = JSON.parse(readFileSync(join(figuresDir, file), 'utf8')) as Figures;
  stored.figures[String(data.part)] = data;
}
for (const r of results) {
  const passed = r.assertionResults.filter((a) => a.status === 'passed').length;
  stored.suites[r.name.replace(`${process.cwd()}/`, '')] = {
    result: `${r.status === 'passed' ? 'passed' : 'FAILED'} (${passed}/${r.assertionResults.length})`,
    time: minutes(r.endTime - r.startTime),
    measured,
  };
}
const figures = new Map(Object.entries(stored.figures));

const n = (value: unknown) =>
  typeof value === 'number' ? value.toLocaleString('en') : String(value);
const json = (value: unknown) => `\`${JSON.stringify(value)}\``;

function section(part: string, render: (f: Figures) => string[]): string[] {
  const f = figures.get(part);
  if (!f) return [];
  return render(f).map((line) => `- ${line}`);
}

const lines: string[] = [
  START,
  '',
  `Profile heavy, on ${process.env.RELIABILITY_MACHINE ?? 'a local 2-core machine shared with other work'}; ` +
    'each suite starts its operator(s) and waits on real servers, so times are wall-clock.',
  '',
  '| suite | result | time | measured at |',
  '|---|---|---|---|',
  ...Object.entries(stored.suites)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([file, s]) => `| ${file} | ${s.result} | ${s.time} | ${s.measured} |`),
  '',
];

const parts: Array<[string, string, (f: Figures) => string[]]> = [
  [
    'aws-faults',
    'AWS faults',
    (f) => {
      const injected = f.injected as { requests: number; faults: Record<string, number> };
      return [
        `${n(f.downloaders)} Downloaders, ${n(Number(f.faultRate) * 100)} % of AWS API requests faulted (seed ${n(f.seed)}); Ready after ${n(f.secondsToReady)} s, all deleted after ${n(f.secondsToDeleteAll)} s`,
        `requests ${n(injected.requests)}, faults ${json(injected.faults)}`,
        `Create* answered by moto ${n(f.createsSeen)} (${n(f.createsLost)} with the answer lost); resources made twice: ${json(f.createdTwice)}`,
        `reasons seen on status: ${json(f.reasonsSeenOnStatus)}; Warning Events: ${json(f.warningEvents)}`,
        `AWS calls that failed after the SDK's own retries, by kind: ${json(f.awsCallsFailedAfterSdkRetries)} (notFound and conflict are expected answers: resources looked up before they exist, creates repeated after a lost answer); reconciles retried ${n(f.retries)} times, ${json(f.reconcileFailures)}`,
        `longest backoff ${n(f.maxBackoffMs)} ms, longest requeue ${n(f.maxRequeueAfterMs)} ms (cap 300,000); error lines ${n(f.errorLines)}`,
      ];
    },
  ],
  [
    'crashes',
    'Crashes',
    (f) => [
      `${n(f.kills)} kill -9 (seed ${n(f.seed)}) during ${json(f.actions)}; kill delays after the first AWS change ${json(f.killDelaysMs)} ms`,
      `converged ${n(f.secondsToConvergeAfterLastRestart)} s after the last restart, exactly one of each resource per Downloader, latest spec in AWS`,
      `left after deleting all (one more kill during the deletions): ${json(f.leftAfterDeletingAll)}; tables checked ${n(f.tablesChecked)}, wrongly kept or deleted ${n(f.tablesWrong)}`,
    ],
  ],
  [
    'kube-faults',
    'Kubernetes faults',
    (f) => [
      `${n(f.cycles)} cycles of each fault; seconds to converge after each: ${json(f.secondsToConverge)}`,
      `TCP connections through the proxy: ${json(f.connections)}; watch restarts logged ${n(f.watchRestarts)}; 410 Gone after compaction at revision ${n(f.compactedAtRevision)}`,
      `status and finalizer scribbles by another writer: ${n(f.scribbles)}; reconcile retries ${n(f.reconcileRetries)}; error lines ${n(f.errorLines)}`,
    ],
  ],
  [
    'admission-corpus',
    'Admission',
    (f) => [
      `${n(f.cases)} more invalid or hostile Downloaders, ${n(f.refused)} refused naming the field`,
    ],
  ],
  [
    'operator-judged',
    'Judged by the operator',
    (f) => [
      `${n(f.cases)} cases: ${(f.outcome as Array<{ name: string; reason: string; event: string }>)
        .map((o) => `${o.name} → ${o.reason}`)
        .join(', ')}`,
    ],
  ],
  [
    'fuzz-definition',
    'Fuzz (definitions)',
    (f) => [
      `${n(f.cases)} specs (seed ${n(f.seed)}), invalid ASL ${n(f.invalidAsl)}, largest definition ${n(f.largestDefinitionBytes)} bytes`,
    ],
  ],
  [
    'fuzz',
    'Fuzz (servers)',
    (f) => [
      `${n(f.cases)} specs (seed ${n(f.seed)}): accepted by the API server ${n(f.acceptedByApiServer)}, refused by Step Functions ${n(f.refusedByStepFunctions)}; ${n(f.reconciled)} reconciled to Ready in ${n(f.secondsToReady)} s`,
    ],
  ],
  [
    'security',
    'Security',
    (f) => [
      `operator log lines at trace ${n(f.operatorLogLines)}; canary outside the history: ${json(f.leaksOutsideHistory)}`,
      `executions read ${n(f.executionsRead)}; history events holding the canary: ${json(countBy(f.canaryInHistory as Array<{ name: string; where: string }>))} (only the source that reflects it)`,
      `roles checked ${n(f.rolesChecked)}, permissions boundary ${String(f.permissionsBoundary)}`,
    ],
  ],
];
for (const [part, title, render] of parts) {
  const body = section(part, render);
  if (body.length > 0) lines.push(`**${title}**`, '', ...body, '');
}
// Base64, as an HTML comment may not hold '--'.
lines.push(`<!-- figures-json ${Buffer.from(JSON.stringify(stored)).toString('base64')} -->`, END);

function countBy(items: Array<{ name: string; where: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { name, where } of items) out[`${name} ${where}`] = (out[`${name} ${where}`] ?? 0) + 1;
  return out;
}

function gitRevision(): string {
  const run = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return run.stdout.trim() || 'unknown revision';
}

const failed = results.some((r) => r.status !== 'passed') || results.length === 0;
const block = lines.join('\n');
if (values['no-write']) {
  console.log(block);
} else {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < 0) throw new Error(`${DOC} has no figures markers`);
  writeFileSync(DOC, `${doc.slice(0, start)}${block}${doc.slice(end + END.length)}`);
  console.error(`[reliability] figures written to ${DOC} (raw: ${figuresDir})`);
}
process.exit(failed ? 1 : 0);

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { RUN_NOW_ANNOTATION } from '../../../src/api/downloader.js';
import { runNowExecutionName } from '../../../src/cli/run.js';
import { createTestNamespace, kubectl, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import { apply, eveExample, getDownloader, readyDownloader } from '../operator/downloaders.js';

/** The checkout's bin/, with the kubectl-downloader launcher, first on PATH as an install puts it. */
const BIN_DIR = join(process.cwd(), 'bin');

interface PluginResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `kubectl downloader ...` through kubectl's plugin mechanism. Asynchronously, so the
 * operator's output keeps being read meanwhile.
 */
function plugin(args: string[]): Promise<PluginResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['downloader', ...args], {
      env: { ...process.env, PATH: `${BIN_DIR}:${process.env.PATH}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The first table row of `kubectl downloader` output whose leading cells are `leading`. */
function row(output: string, ...leading: string[]): string[] | undefined {
  return output
    .split('\n')
    .map((line) => line.split(/ {3,}/))
    .find((cells) => leading.every((cell, index) => cells[index] === cell));
}

describe('kubectl downloader, the plugin, with the operator running', () => {
  let namespace: string;
  let operator: OperatorProcess;
  const table = `CliEve-${Date.now()}`;

  beforeAll(async () => {
    namespace = createTestNamespace('cli');
    operator = startOperator(['--namespaces', namespace, '--execution-poll-interval', '2']);
    apply(namespace, eveExample('eve', table));
    const unauthorized = eveExample('locked', `CliLocked-${Date.now()}`);
    unauthorized.spec.source.path = '/v2/secure/status';
    apply(namespace, unauthorized);
    await eventually('eve to be Ready', () => readyDownloader(namespace, 'eve'), 90_000);
    await eventually('locked to be Ready', () => readyDownloader(namespace, 'locked'), 90_000);
  });

  afterAll(async () => {
    if (namespace) {
      kubectl(['delete', 'downloaders', '--all', '-n', namespace, '--wait=false']);
      await eventually(
        'the Downloaders to be cleaned up',
        () =>
          kubectl(['get', 'dl', '-n', namespace, '-o', 'name']).stdout.trim() ? undefined : true,
        60_000,
      ).catch(() => undefined);
    }
    await operator?.stop();
  });

  it('runs eve now, follows the execution to SUCCEEDED and exits 0', async () => {
    const result = await plugin(['run', 'eve', '-n', namespace]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Run requested: downloader\.dev\/run-now=\S+ on /m);
    expect(result.stdout).toMatch(/^Execution run-now-[0-9a-f]{16}: SUCCEEDED in \S+$/m);

    // The execution it followed is the one the operator started for the annotation's value.
    const d = getDownloader(namespace, 'eve')!;
    const value = d.metadata.annotations?.[RUN_NOW_ANNOTATION] ?? '';
    expect(d.status?.lastRunNow).toBe(value);
    expect(result.stdout).toContain(
      `Execution ${runNowExecutionName(d.metadata.uid ?? '', value)}: SUCCEEDED`,
    );
  });

  it('lists that run with `runs eve`: start, duration, SUCCEEDED', async () => {
    const d = getDownloader(namespace, 'eve')!;
    const value = d.metadata.annotations?.[RUN_NOW_ANNOTATION] ?? '';
    const executionName = runNowExecutionName(d.metadata.uid ?? '', value);

    const result = await plugin(['runs', 'eve', '-n', namespace, '--limit', '5']);

    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(/^NAME +STARTED +DURATION +STATUS +ERROR +CAUSE$/);
    expect(row(result.stdout, executionName)).toEqual([
      executionName,
      expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      expect.stringMatching(/^\d+(\.\d)?(ms|s)$|^\d+m\d\ds$/),
      'SUCCEEDED',
    ]);
  });

  it('shows eve in `status` with its sparkline, and the NAMESPACE column with -A', async () => {
    // The operator reads the execution back every 2 s: wait until the status has it.
    await eventually('the last execution on the status', () =>
      getDownloader(namespace, 'eve')?.status?.lastExecution?.status === 'SUCCEEDED'
        ? true
        : undefined,
    );

    const result = await plugin(['status', '-n', namespace]);

    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(
      /^NAME +READY +REASON +SCHEDULE +LAST RUN +LAST STATUS +LAST SUCCESS +RECENT$/,
    );
    const cells = row(result.stdout, 'eve');
    expect(cells).toEqual([
      'eve',
      'True',
      'Reconciled',
      'rate(1 minute)',
      expect.stringMatching(/^\d+s$/),
      // The schedule starts a run every minute: the operator may have just seen one RUNNING.
      expect.stringMatching(/^(SUCCEEDED|RUNNING)$/),
      expect.stringMatching(/^\d+s$/),
      expect.stringMatching(/^[█▁▄]*█[█▁▄]*$/),
    ]);

    const all = await plugin(['status', '-A']);
    expect(all.code).toBe(0);
    expect(all.stdout.split('\n')[0]).toMatch(/^NAMESPACE +NAME +READY /);
    expect(row(all.stdout, namespace, 'eve')).toHaveLength(9);
  });

  it('exits 1 with the error, reason and cause when the run fails', async () => {
    const result = await plugin(['run', 'locked', '-n', namespace, '--timeout', '2m']);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Execution run-now-[0-9a-f]{16}: FAILED after \S+$/m);
    expect(result.stderr).toMatch(/^ {2}reason: SourceUnauthorized$/m);
    expect(result.stderr).toMatch(/^ {2}error: +ApiGateway\.401$/m);
    expect(result.stderr).toMatch(/^ {2}cause: +\S/m);

    const runs = await plugin(['runs', 'locked', '-n', namespace]);
    expect(runs.code).toBe(0);
    const failed = runs.stdout.split('\n').find((line) => line.includes('FAILED'));
    expect(failed).toContain('ApiGateway.401');
  });

  it('exits 1 when the Downloader does not exist, naming it and its namespace', async () => {
    for (const command of ['run', 'runs']) {
      const result = await plugin([command, 'nope', '-n', namespace]);
      expect(result).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr).toBe(
        `Error: downloader "nope" not found in namespace "${namespace}"\n`,
      );
    }
  });

  it('gives up after --timeout when no operator acts on the annotation, and says so', async () => {
    const unwatched = createTestNamespace('cli-unwatched');
    apply(unwatched, eveExample('eve', `CliUnwatched-${Date.now()}`));

    const result = await plugin(['run', 'eve', '-n', unwatched, '--timeout', '3s']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('timed out after 3.0s: the operator has not started the run');
    kubectlOk(['delete', 'downloader', 'eve', '-n', unwatched, '--wait=false']);
  });
});

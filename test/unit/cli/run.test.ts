import { RUN_NOW_ANNOTATION } from '../../../src/api/downloader.js';
import { executionArn } from '../../../src/aws/executions.js';
import { runCommand, runNowExecutionName } from '../../../src/cli/run.js';
import { FakeDownloaders, FakeExecutions, fakeDeps, readyDownloader } from './fakes.js';

const START = new Date('2026-05-01T12:00:00Z');
const RUN = { name: 'eve', timeoutMs: 120_000, wait: true };

/**
 * A Downloader and an operator that acts on run-now after `startAfterPolls` sleeps, starting an
 * execution that is RUNNING for `runningPolls` more and then ends with `outcome`.
 */
function scenario(
  options: {
    startAfterPolls?: number;
    runningPolls?: number;
    outcome?: { status: string; error?: string; cause?: string };
    notReady?: boolean;
  } = {},
) {
  const { startAfterPolls = 1, runningPolls = 2, notReady = false } = options;
  const outcome = options.outcome ?? { status: 'SUCCEEDED' };
  const downloaders = new FakeDownloaders([
    readyDownloader('eve', (d) => {
      if (notReady) {
        d.status!.conditions![0] = {
          ...d.status!.conditions![0]!,
          status: 'False',
          reason: 'SecretNotFound',
          message: 'Secret esi-token not found',
        };
      }
    }),
  ]);
  const executions = new FakeExecutions();
  let polls = 0;
  let startedAtPoll = -1;
  const world = fakeDeps(downloaders, executions, START, () => {
    polls++;
    const d = downloaders.find('eve', 'eve')!;
    const value = d.metadata.annotations?.[RUN_NOW_ANNOTATION];
    const smArn = d.status!.resources!.stateMachineArn!;
    if (value && startedAtPoll < 0 && polls >= startAfterPolls) {
      startedAtPoll = polls;
      const name = runNowExecutionName(d.metadata.uid!, value);
      d.status!.lastRunNow = value;
      executions.byStateMachine.set(smArn, [
        { name, arn: executionArn(smArn, name), status: 'RUNNING', startTime: world.deps.now() },
      ]);
    } else if (startedAtPoll >= 0 && polls === startedAtPoll + runningPolls) {
      const running = executions.byStateMachine.get(smArn)![0]!;
      Object.assign(running, outcome, { stopTime: world.deps.now() });
      d.status!.lastExecution = {
        name: running.name,
        status: running.status,
        startTime: running.startTime.toISOString(),
        stopTime: world.deps.now().toISOString(),
        ...(outcome.error ? { error: outcome.error } : {}),
        ...(outcome.cause ? { cause: outcome.cause } : {}),
      };
    }
  });
  return { downloaders, executions, ...world };
}

describe('kubectl downloader run', () => {
  it('sets a new run-now value, waits for the operator, follows the execution and exits 0 on SUCCEEDED', async () => {
    const { deps, out, err, downloaders, executions } = scenario();

    expect(await runCommand(deps, RUN)).toBe(0);

    const [annotation] = downloaders.annotations;
    expect(annotation).toEqual({
      key: 'downloader.dev/run-now',
      value: expect.stringMatching(/^20260501T120000Z-[0-9a-f]{6}$/),
    });
    const name = runNowExecutionName('uid-eve', annotation!.value);
    expect(out).toEqual([
      `Run requested: downloader.dev/run-now=${annotation!.value} on eve/eve`,
      'Waiting for the operator to start it...',
      `Execution ${name} started.`,
      `Execution ${name}: RUNNING`,
      `Execution ${name}: SUCCEEDED in 2.0s`,
    ]);
    expect(err).toEqual([]);
    expect(executions.described[0]).toMatch(new RegExp(`:execution:dl-u-1-eve:${name}$`));
  });

  it('exits 1 with the reason, error and cause when the execution fails', async () => {
    const { deps, err } = scenario({
      outcome: {
        status: 'FAILED',
        error: 'ApiGateway.401',
        cause: '{"error":\n "authorization required"}',
      },
    });

    expect(await runCommand(deps, RUN)).toBe(1);

    expect(err).toEqual([
      expect.stringMatching(/^Execution run-now-[0-9a-f]{16}: FAILED after 2\.0s$/),
      '  reason: SourceUnauthorized',
      '  error:  ApiGateway.401',
      '  cause:  {"error": "authorization required"}',
    ]);
  });

  it('says why the operator has not started the run yet, once per reason', async () => {
    const { deps, out } = scenario({ startAfterPolls: 3, notReady: true });

    await runCommand(deps, RUN);

    expect(out.filter((line) => line.startsWith('Not Ready'))).toEqual([
      'Not Ready (SecretNotFound: Secret esi-token not found); the operator starts the run once it is.',
    ]);
  });

  it('exits 1 after --timeout when no operator acts on the annotation', async () => {
    const { deps, err } = scenario({ startAfterPolls: 1_000 });

    expect(await runCommand(deps, { ...RUN, timeoutMs: 5_000 })).toBe(1);

    expect(err).toEqual([
      'Error: timed out after 5.0s: the operator has not started the run. ' +
        'Is it running, and does it watch this namespace?',
    ]);
  });

  it('exits 1 after --timeout while the execution is still RUNNING, saying it goes on', async () => {
    const { deps, err } = scenario({ runningPolls: 1_000 });

    expect(await runCommand(deps, { ...RUN, timeoutMs: 10_000 })).toBe(1);

    expect(err).toEqual([
      expect.stringMatching(
        /^Error: timed out after 10s with execution run-now-[0-9a-f]{16} RUNNING; it goes on: kubectl downloader runs eve -n eve$/,
      ),
    ]);
  });

  it("follows the Downloader's status.lastExecution when Step Functions cannot be read", async () => {
    const { deps, out, err, executions } = scenario({ runningPolls: 3 });
    executions.failWith = Object.assign(new Error('no credentials'), {
      name: 'CredentialsProviderError',
    });

    expect(await runCommand(deps, RUN)).toBe(0);

    expect(err).toEqual([
      'Note: cannot read the execution from Step Functions (CredentialsProviderError: no ' +
        "credentials); following the Downloader's status instead.",
    ]);
    expect(out.at(-1)).toMatch(/^Execution run-now-[0-9a-f]{16}: SUCCEEDED in 3\.0s$/);
    expect(executions.described).toHaveLength(1);
  });

  it('stops once the operator has started the run with --no-wait', async () => {
    const { deps, out, executions } = scenario();

    expect(await runCommand(deps, { ...RUN, wait: false })).toBe(0);

    expect(out.at(-1)).toMatch(/^Execution run-now-[0-9a-f]{16} started\.$/);
    expect(executions.described).toEqual([]);
  });

  it('exits 1 without annotating anything when the Downloader does not exist', async () => {
    const { deps, err, downloaders } = scenario();

    expect(await runCommand(deps, { ...RUN, name: 'nope' })).toBe(1);

    expect(err).toEqual(['Error: downloader "nope" not found in namespace "eve"']);
    expect(downloaders.annotations).toEqual([]);
  });
});

describe('runNowExecutionName', () => {
  it("names the execution as the operator does: sha256 of the Downloader's UID and the value", () => {
    expect(runNowExecutionName('0b6c1b9e-uid', 'first')).toBe('run-now-af379816ca46dccd');
  });
});

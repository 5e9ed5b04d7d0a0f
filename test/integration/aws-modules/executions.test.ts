import { loadAwsContext } from '../../../src/aws/context.js';
import { CAUSE_MAX_CHARS, ExecutionReader } from '../../../src/aws/executions.js';
import { resourceName, type Owner } from '../../../src/aws/owner.js';
import { StateMachineManager } from '../../../src/aws/state-machine.js';
import { localAws, newOwner, suffix } from './aws-env.js';

const SUCCEEDS = JSON.stringify({
  StartAt: 'Done',
  States: { Done: { Type: 'Pass', End: true } },
});
const FAILS = JSON.stringify({
  StartAt: 'Broken',
  States: { Broken: { Type: 'Fail', Error: 'Source.Unavailable', Cause: 'c'.repeat(3000) } },
});

describe(ExecutionReader.name, () => {
  const aws = localAws();
  const reader = new ExecutionReader(aws.sfn);
  let machines: StateMachineManager;
  let roleArn: string;
  beforeAll(async () => {
    const context = await loadAwsContext(aws.sts);
    machines = new StateMachineManager(aws.sfn, context);
    roleArn = `arn:aws:iam::${context.accountId}:role/downloader-operator/test-role`;
  });
  afterAll(() => aws.destroy());

  async function machine(owner: Owner, definition: string): Promise<string> {
    const desired = {
      name: resourceName(owner, '', 80),
      definition,
      roleArn,
      type: 'STANDARD' as const,
    };
    return (await machines.apply(owner, desired, undefined)).arn;
  }

  /** Polls until the latest execution has ended. */
  async function settled(arn: string) {
    for (let i = 0; i < 100; i++) {
      const latest = await reader.latest(arn);
      if (latest && latest.status !== 'RUNNING') return latest;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`execution of ${arn} did not end`);
  }

  it('has nothing to say about a state machine that never ran, or does not exist', async () => {
    const arn = await machine(newOwner(), SUCCEEDS);
    await expect(reader.latest(arn)).resolves.toBeUndefined();
    await expect(reader.lastSuccess(arn)).resolves.toBeUndefined();
    await expect(reader.latest(`${arn}-missing`)).resolves.toBeUndefined();
  });

  it('starts a named execution once, reads it back, and reports its success time', async () => {
    const arn = await machine(newOwner(), SUCCEEDS);
    const name = `run-now-${suffix()}`;
    const started = await reader.start(arn, name, '{}');
    expect(started).toEqual({
      executionArn: `${arn.replace(':stateMachine:', ':execution:')}:${name}`,
      started: true,
    });

    const latest = await settled(arn);
    expect(latest).toMatchObject({ name, arn: started.executionArn, status: 'SUCCEEDED' });
    expect(Date.parse(latest.startTime)).not.toBeNaN();
    expect(latest.error).toBeUndefined();
    await expect(reader.lastSuccess(arn)).resolves.toBe(latest.stopTime);

    // Run-now acted upon again (after a crash): the same name does not start a second run.
    const again = await reader.start(arn, name, '{"other":"input"}');
    expect(again).toEqual({ executionArn: started.executionArn, started: false });
  });

  it('reads error and cause of a failed execution, the cause cut to 1024 characters', async () => {
    const arn = await machine(newOwner(), FAILS);
    await reader.start(arn, `fail-${suffix()}`, '{}');

    const latest = await settled(arn);
    expect(latest).toMatchObject({ status: 'FAILED', error: 'Source.Unavailable' });
    expect(latest.cause).toHaveLength(CAUSE_MAX_CHARS);
    await expect(reader.lastSuccess(arn)).resolves.toBeUndefined();
  });
});

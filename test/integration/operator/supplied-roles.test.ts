import { CreateRoleCommand, GetRoleCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { names, ownerOf } from '../../../src/controller/desired.js';
import { createTestNamespace, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import { AwsInventory } from './aws-inventory.js';
import { apply, eveExample, readyDownloader, runNow } from './downloaders.js';

const aws = new AwsInventory();

/** A role a platform team made, trusted by `service`, with no policy of the operator's. */
async function platformRole(name: string, service: string): Promise<string> {
  const created = await aws.iam.send(
    new CreateRoleCommand({
      RoleName: name,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
  return created.Role?.Arn ?? '';
}

describe('roles supplied by the platform team (--state-machine-role-arn, --scheduler-role-arn)', () => {
  let namespace: string;
  let operator: OperatorProcess;
  let sfnRoleArn: string;
  let schedulerRoleArn: string;
  const suffix = Date.now();
  const sfnRoleName = `platform-sfn-${suffix}`;
  const schedulerRoleName = `platform-sched-${suffix}`;

  beforeAll(async () => {
    namespace = createTestNamespace('supplied-roles');
    sfnRoleArn = await platformRole(sfnRoleName, 'states.amazonaws.com');
    schedulerRoleArn = await platformRole(schedulerRoleName, 'scheduler.amazonaws.com');
    operator = startOperator([
      '--namespaces',
      namespace,
      '--execution-poll-interval',
      '2',
      '--state-machine-role-arn',
      sfnRoleArn,
      '--scheduler-role-arn',
      schedulerRoleArn,
    ]);
  });

  afterAll(async () => {
    await operator?.stop();
  });

  it('uses them for the state machine and the schedule, creates no role, and runs', async () => {
    apply(namespace, eveExample('eve', `Supplied-${suffix}`));
    const ready = await eventually('Ready', () => readyDownloader(namespace, 'eve'), 90_000);
    const resources = ready.status?.resources ?? {};
    expect(resources.stateMachineRoleArn).toBe(sfnRoleArn);
    expect(resources.schedulerRoleArn).toBe(schedulerRoleArn);

    const sm = await aws.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: resources.stateMachineArn }),
    );
    expect(sm.roleArn).toBe(sfnRoleArn);
    const schedule = await aws.scheduler.send(
      new GetScheduleCommand({ Name: resources.scheduleArn?.split('/').pop() }),
    );
    expect(schedule.Target?.RoleArn).toBe(schedulerRoleArn);

    const owner = ownerOf(ready);
    expect(await aws.roles(names.stateMachineRole(owner))).toHaveLength(0);
    expect(await aws.roles(names.schedulerRole(owner))).toHaveLength(0);
    // The operator neither writes policies into a supplied role nor changes it.
    for (const RoleName of [sfnRoleName, schedulerRoleName]) {
      const policies = await aws.iam.send(new ListRolePoliciesCommand({ RoleName }));
      expect(policies.PolicyNames ?? []).toEqual([]);
    }

    const ran = await runNow(namespace, 'eve', 'one');
    expect(ran.status?.lastExecution?.status).toBe('SUCCEEDED');
  });

  it('leaves the supplied roles in place when the Downloader is deleted', async () => {
    kubectlOk(['delete', '-n', namespace, 'downloader/eve', '--timeout=60s']);
    for (const RoleName of [sfnRoleName, schedulerRoleName]) {
      const role = await aws.iam.send(new GetRoleCommand({ RoleName }));
      expect(role.Role?.Arn).toBeDefined();
    }
  });
});

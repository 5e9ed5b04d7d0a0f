import { ListSchedulesCommand } from '@aws-sdk/client-scheduler';
import { resourceName, type Owner } from '../../../src/aws/owner.js';
import {
  DEFAULT_SCHEDULE_GROUP,
  ScheduleManager,
  type ScheduleDesired,
} from '../../../src/aws/schedule.js';
import { localAws, newOwner } from './aws-env.js';

// Expressions that do not fire during the test: the local AWS fires schedules for real.
const NEVER = 'cron(0 0 1 1 ? 2099)';
const NEVER_EITHER = 'cron(30 12 1 1 ? 2098)';

describe(ScheduleManager.name, () => {
  const aws = localAws();
  const manager = new ScheduleManager(aws.scheduler);
  afterAll(() => aws.destroy());

  const desiredSchedule = (owner: Owner, overrides: Partial<ScheduleDesired> = {}) => ({
    name: resourceName(owner, '', 64),
    groupName: DEFAULT_SCHEDULE_GROUP,
    expression: NEVER,
    timezone: 'UTC',
    state: 'ENABLED' as const,
    targetArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:aws-modules-target',
    roleArn: 'arn:aws:iam::123456789012:role/downloader-operator/aws-modules-scheduler',
    input: JSON.stringify({ source: 'schedule' }),
    description: `Downloader ${owner.namespace}/${owner.name}`,
    ...overrides,
  });

  async function countSchedules(name: string): Promise<number> {
    let count = 0;
    let token: string | undefined;
    do {
      const page = await aws.scheduler.send(
        new ListSchedulesCommand({ NamePrefix: name, NextToken: token }),
      );
      count += (page.Schedules ?? []).filter((s) => s.Name === name).length;
      token = page.NextToken;
    } while (token);
    return count;
  }

  it('creates the schedule and finds no difference after', async () => {
    const owner = newOwner();
    const desired = desiredSchedule(owner);
    expect(await manager.observe(owner, desired)).toBeUndefined();

    const created = await manager.apply(owner, desired, undefined);
    expect(created.arn).toContain(`schedule/default/${desired.name}`);
    const observed = await manager.observe(owner, desired);
    expect(observed).toMatchObject({ flexibleTimeWindowMode: 'OFF', state: 'ENABLED' });
    expect(manager.diff(desired, observed!)).toEqual([]);
  });

  it('replaces the schedule whole on a change, and converges', async () => {
    const owner = newOwner();
    let desired = desiredSchedule(owner);
    await manager.apply(owner, desired, undefined);

    desired = {
      ...desired,
      expression: NEVER_EITHER,
      timezone: 'Europe/Berlin',
      state: 'DISABLED',
      input: JSON.stringify({ source: 'schedule', n: 2 }),
    };
    let observed = await manager.observe(owner, desired);
    expect(manager.diff(desired, observed!)).toEqual(['expression', 'timezone', 'state', 'input']);
    await manager.apply(owner, desired, observed);
    observed = await manager.observe(owner, desired);
    expect(manager.diff(desired, observed!)).toEqual([]);
    expect(observed?.retryPolicy).toEqual({
      MaximumRetryAttempts: 3,
      MaximumEventAgeInSeconds: 300,
    });
  });

  it('keeps exactly one schedule when apply runs again after the observed state was lost', async () => {
    const owner = newOwner();
    const desired = desiredSchedule(owner);
    await manager.apply(owner, desired, undefined);
    const changed = { ...desired, description: 'after a crash' };
    await manager.apply(owner, changed, undefined);

    expect(await countSchedules(desired.name)).toBe(1);
    expect(manager.diff(changed, (await manager.observe(owner, changed))!)).toEqual([]);
  });

  it('deletes the schedule, and a second delete is harmless', async () => {
    const owner = newOwner();
    const desired = desiredSchedule(owner);
    const observed = await manager.apply(owner, desired, undefined);

    await manager.delete(owner, observed);
    expect(await manager.observe(owner, desired)).toBeUndefined();
    await expect(manager.delete(owner, observed)).resolves.toBeUndefined();
  });
});

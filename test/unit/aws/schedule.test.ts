import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  SCHEDULE_RETRY_POLICY,
  ScheduleManager,
  type ScheduleDesired,
  type ScheduleObserved,
} from '../../../src/aws/schedule.js';
import { awsError, fakeClient } from './fake-client.js';

const owner = { namespace: 'eve', name: 'players', uid: 'uid-1' };
const desired: ScheduleDesired = {
  name: 'dl-eve-players-1234abcd',
  groupName: 'default',
  expression: 'rate(1 minute)',
  timezone: 'UTC',
  state: 'ENABLED',
  targetArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:sm',
  roleArn: 'arn:aws:iam::123456789012:role/downloader-operator/r',
  input: '{"source":"schedule"}',
  description: 'Downloader eve/players',
};
const observed: ScheduleObserved = {
  ...desired,
  arn: 'arn:aws:scheduler:us-east-1:123456789012:schedule/default/dl-eve-players-1234abcd',
  input: '{ "source": "schedule" }',
  flexibleTimeWindowMode: 'OFF',
  retryPolicy: { ...SCHEDULE_RETRY_POLICY },
};

describe(ScheduleManager.name, () => {
  const plain = () => new ScheduleManager(fakeClient({}) as unknown as SchedulerClient);

  it('finds no difference in steady state (input compared as JSON)', () => {
    expect(plain().diff(desired, observed)).toEqual([]);
  });

  it('names each field that differs', () => {
    const changed: ScheduleDesired = {
      ...desired,
      expression: 'rate(5 minutes)',
      timezone: 'Europe/Berlin',
      state: 'DISABLED',
      input: '{}',
    };
    const drifted = { ...observed, flexibleTimeWindowMode: 'FLEXIBLE', retryPolicy: undefined };
    expect(plain().diff(changed, drifted)).toEqual([
      'expression',
      'timezone',
      'state',
      'input',
      'flexibleTimeWindow',
      'retryPolicy',
    ]);
  });

  it('requeues with RolePropagating on a ValidationException right after role creation', async () => {
    const createdAt = new Date(Date.now() - 5_000).toISOString();
    const client = fakeClient({
      CreateSchedule: () => {
        throw awsError('ValidationException');
      },
    });
    const manager = new ScheduleManager(client as unknown as SchedulerClient);
    await expect(
      manager.apply(owner, { ...desired, roleCreatedAt: createdAt }, undefined),
    ).rejects.toMatchObject({ reason: 'RolePropagating', delayMs: 5000 });
    await expect(manager.apply(owner, desired, undefined)).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('creates a schedule that vanished since it was observed', async () => {
    const client = fakeClient({
      UpdateSchedule: () => {
        throw awsError('ResourceNotFoundException', 404);
      },
      CreateSchedule: () => ({ ScheduleArn: observed.arn }),
    });
    const manager = new ScheduleManager(client as unknown as SchedulerClient);
    await expect(manager.apply(owner, desired, observed)).resolves.toMatchObject({
      arn: observed.arn,
    });
    expect(client.calls).toEqual(['UpdateSchedule', 'CreateSchedule']);
  });
});

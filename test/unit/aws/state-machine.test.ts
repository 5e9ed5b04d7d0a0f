import type { SFNClient } from '@aws-sdk/client-sfn';
import {
  StateMachineManager,
  loggingEqual,
  type StateMachineDesired,
  type StateMachineObserved,
} from '../../../src/aws/state-machine.js';
import { RequeueAfter } from '../../../src/errors.js';
import { awsError, fakeClient, type Handler } from './fake-client.js';

const owner = { namespace: 'eve', name: 'players', uid: 'uid-1' };
const context = { region: 'cn-north-1', accountId: '123456789012', partition: 'aws-cn' };
const definition = { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } };
const desired: StateMachineDesired = {
  name: 'dl-eve-players-1234abcd',
  definition: JSON.stringify(definition),
  roleArn: 'arn:aws-cn:iam::123456789012:role/downloader-operator/r',
  type: 'STANDARD',
};
const observed: StateMachineObserved = {
  arn: 'arn:aws-cn:states:cn-north-1:123456789012:stateMachine:dl-eve-players-1234abcd',
  name: desired.name,
  definition: JSON.stringify(definition, null, 2),
  roleArn: desired.roleArn,
  type: 'STANDARD',
  status: 'ACTIVE',
  loggingConfiguration: { level: 'OFF' },
  ownerUid: 'uid-1',
};

function manager(handlers: Record<string, Handler> = {}, nowMs = Date.now()) {
  const client = fakeClient(handlers);
  const sfn = client as unknown as SFNClient;
  return { client, manager: new StateMachineManager(sfn, context, { now: () => nowMs }) };
}

describe(StateMachineManager.name, () => {
  it('builds the ARN from the partition, region and account of its context', () => {
    expect(manager().manager.arnOf('sm')).toBe(
      'arn:aws-cn:states:cn-north-1:123456789012:stateMachine:sm',
    );
  });

  describe('diff', () => {
    it('is empty when only whitespace and key order differ', () => {
      expect(manager().manager.diff(desired, observed)).toEqual([]);
    });

    it('names each field that differs', () => {
      const changed: StateMachineDesired = {
        ...desired,
        definition: JSON.stringify({ ...definition, Comment: 'new' }),
        roleArn: `${desired.roleArn}2`,
        type: 'EXPRESS',
        loggingConfiguration: { level: 'ERROR' },
      };
      expect(manager().manager.diff(changed, { ...observed, ownerUid: undefined })).toEqual([
        'definition',
        'roleArn',
        'type',
        'loggingConfiguration',
        'tags',
      ]);
    });
  });

  it('treats absent logging and level OFF alike', () => {
    expect(loggingEqual(undefined, { level: 'OFF' })).toBe(true);
    expect(loggingEqual(undefined, { level: 'ALL', includeExecutionData: true })).toBe(false);
  });

  describe('apply right after the operator created the role', () => {
    const refusing = {
      CreateStateMachine: () => {
        throw awsError('AccessDeniedException');
      },
    };
    const createdAt = '2026-01-01T00:00:00.000Z';
    const created = Date.parse(createdAt);

    it('requeues after 5 s with RolePropagating within the first minute', async () => {
      const { manager: m } = manager(refusing, created + 20_000);
      const err: unknown = await m
        .apply(owner, { ...desired, roleCreatedAt: createdAt }, undefined)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RequeueAfter);
      expect(err).toMatchObject({ delayMs: 5000, reason: 'RolePropagating' });
    });

    it('lets the AccessDeniedException through after the first minute', async () => {
      const { manager: m } = manager(refusing, created + 61_000);
      await expect(
        m.apply(owner, { ...desired, roleCreatedAt: createdAt }, undefined),
      ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    });

    it('lets it through for a role the operator did not create', async () => {
      const { manager: m } = manager(refusing, created + 1_000);
      await expect(m.apply(owner, desired, undefined)).rejects.toMatchObject({
        name: 'AccessDeniedException',
      });
    });
  });

  it('requeues while the state machine it replaces is still DELETING', async () => {
    const { manager: m, client } = manager({
      DeleteStateMachine: () => ({}),
      CreateStateMachine: () => {
        throw awsError('StateMachineDeleting');
      },
    });
    const err: unknown = await m
      .apply(owner, { ...desired, type: 'EXPRESS' }, observed)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'StateMachineDeleting', delayMs: 5000 });
    expect(client.calls).toEqual(['DeleteStateMachine', 'CreateStateMachine']);
  });

  it('does not delete a state machine that carries another UID', async () => {
    const { manager: m, client } = manager();
    await m.delete(owner, { ...observed, ownerUid: 'someone-else' });
    expect(client.calls).toEqual([]);
  });
});

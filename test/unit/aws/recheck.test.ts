import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { IAMClient } from '@aws-sdk/client-iam';
import { Recheck } from '../../../src/aws/recheck.js';
import { RoleManager, type RoleDesired } from '../../../src/aws/roles.js';
import { TableManager } from '../../../src/aws/table.js';
import { awsError, fakeClient } from './fake-client.js';

describe(Recheck.name, () => {
  it('gives a fact back until it is as old as the interval, then reads it again', async () => {
    let now = 0;
    const recheck = new Recheck<string>(1_000, () => now);
    let reads = 0;
    const read = () => Promise.resolve(`read ${++reads}`);
    expect(await recheck.through('a', read)).toBe('read 1');
    now = 999;
    expect(await recheck.through('a', read)).toBe('read 1');
    now = 1_000;
    expect(await recheck.through('a', read)).toBe('read 2');
    expect(await recheck.through('b', read)).toBe('read 3');
  });

  it('forgets the facts of one resource by the prefix of their keys', () => {
    const recheck = new Recheck<number>(1_000);
    recheck.set('role-a@2026', 1);
    recheck.set('role-b@2026', 2);
    recheck.forget('role-a@');
    expect(recheck.get('role-a@2026')).toBeUndefined();
    expect(recheck.get('role-b@2026')).toBe(2);
  });
});

describe('what a resync reads', () => {
  const owner = { namespace: 'eve', name: 'players', uid: 'uid-1' };

  it('reads a table once per resync and its owner tags once per recheck interval', async () => {
    let created = new Date('2026-12-01T00:00:00Z');
    const client = fakeClient({
      DescribeTable: () => ({
        Table: {
          TableName: 'T',
          TableArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/T',
          TableStatus: 'ACTIVE',
          CreationDateTime: created,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        },
      }),
      ListTagsOfResource: () => ({ Tags: [{ Key: 'downloader.dev/uid', Value: 'uid-1' }] }),
    });
    const manager = new TableManager(client as unknown as DynamoDBClient);
    const desired = {
      name: 'T',
      partitionKey: { name: 'pk', type: 'S' as const },
      deletionPolicy: 'Retain' as const,
    };
    await manager.observe(owner, desired);
    await manager.observe(owner, desired);
    expect(client.calls).toEqual(['DescribeTable', 'ListTagsOfResource', 'DescribeTable']);
    // The table deleted and made again: its tags are read afresh.
    created = new Date('2026-12-02T00:00:00Z');
    await expect(manager.observe(owner, desired)).resolves.toMatchObject({ ownerUid: 'uid-1' });
    expect(client.calls.slice(3)).toEqual(['DescribeTable', 'ListTagsOfResource']);
  });

  it('reads a role per resync, its policies once per recheck interval, and again after changing them', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [] });
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow' }] });
    let names = ['downloader-operator', 'added-by-someone'];
    const client = fakeClient({
      GetRole: () => ({
        Role: {
          RoleName: 'r',
          Arn: 'arn:aws:iam::123456789012:role/r',
          CreateDate: new Date('2026-12-01T00:00:00Z'),
          AssumeRolePolicyDocument: encodeURIComponent(trust),
          Description: 'd',
          Tags: [{ Key: 'downloader.dev/uid', Value: 'uid-1' }],
        },
      }),
      ListRolePolicies: () => ({ PolicyNames: names, IsTruncated: false }),
      GetRolePolicy: () => ({ PolicyDocument: encodeURIComponent(policy) }),
      DeleteRolePolicy: () => {
        names = ['downloader-operator'];
        return {};
      },
    });
    const manager = new RoleManager(client as unknown as IAMClient);
    const desired: RoleDesired = {
      name: 'r',
      description: 'd',
      trustPolicy: trust,
      inlinePolicyName: 'downloader-operator',
      inlinePolicy: policy,
    };
    const first = await manager.observe(owner, desired);
    expect(manager.diff(desired, first!)).toEqual(['otherInlinePolicies']);
    await manager.apply(owner, desired, first);
    const second = await manager.observe(owner, desired);
    expect(manager.diff(desired, second!)).toEqual([]);
    const calls = client.calls.length;
    await manager.observe(owner, desired);
    expect(client.calls.slice(calls)).toEqual(['GetRole']);
  });

  it('treats a missing own policy as absent when the remembered names still list it', async () => {
    const client = fakeClient({
      GetRole: () => ({
        Role: { RoleName: 'r', Arn: 'arn:aws:iam::123456789012:role/r', Tags: [] },
      }),
      ListRolePolicies: () => ({ PolicyNames: ['downloader-operator'], IsTruncated: false }),
      GetRolePolicy: () => {
        throw awsError('NoSuchEntityException', 404);
      },
    });
    const manager = new RoleManager(client as unknown as IAMClient);
    const observed = await manager.observe(owner, {
      name: 'r',
      description: '',
      trustPolicy: '{}',
      inlinePolicyName: 'downloader-operator',
      inlinePolicy: '{}',
    });
    expect(observed?.inlinePolicy).toBeUndefined();
  });
});

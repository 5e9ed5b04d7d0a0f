import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  TableManager,
  describeTableAdoption,
  keyMismatches,
  type TableDesired,
  type TableObserved,
} from '../../../src/aws/table.js';
import { RequeueAfter } from '../../../src/errors.js';
import { awsError, fakeClient } from './fake-client.js';

const owner = { namespace: 'eve', name: 'players', uid: 'uid-1' };
const desired: TableDesired = {
  name: 'PlayerCountTable',
  partitionKey: { name: 'pk', type: 'S' },
  deletionPolicy: 'Retain',
};
const observed: TableObserved = {
  name: 'PlayerCountTable',
  arn: 'arn:aws:dynamodb:us-east-1:123456789012:table/PlayerCountTable',
  status: 'ACTIVE',
  partitionKey: { name: 'pk', type: 'S' },
  ownerUid: 'uid-1',
  createdByOwner: true,
  deletionPolicy: 'Retain',
};

function describing(status: string, tags: Array<{ Key: string; Value: string }> = []) {
  return fakeClient({
    DescribeTable: () => ({
      Table: {
        TableName: 'PlayerCountTable',
        TableArn: observed.arn,
        TableStatus: status,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      },
    }),
    ListTagsOfResource: () => ({ Tags: tags }),
    CreateTable: () => {
      throw awsError('ResourceInUseException');
    },
  });
}

describe(TableManager.name, () => {
  describe('observe', () => {
    it('requeues after 2 s while the table is CREATING', async () => {
      const client = describing('CREATING', [{ Key: 'downloader.dev/uid', Value: 'uid-1' }]);
      const manager = new TableManager(client as unknown as DynamoDBClient);
      const err: unknown = await manager.observe(owner, desired).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RequeueAfter);
      expect(err).toMatchObject({ delayMs: 2000, reason: 'TableCreating' });
    });

    it('does not wait for a table that is UPDATING: DynamoDB serves writes meanwhile', async () => {
      const client = describing('UPDATING', [{ Key: 'downloader.dev/uid', Value: 'uid-1' }]);
      const manager = new TableManager(client as unknown as DynamoDBClient);
      await expect(manager.observe(owner, desired)).resolves.toMatchObject({ status: 'UPDATING' });
    });

    it('returns undefined for a table that does not exist', async () => {
      const client = fakeClient({
        DescribeTable: () => {
          throw awsError('ResourceNotFoundException');
        },
      });
      const manager = new TableManager(client as unknown as DynamoDBClient);
      await expect(manager.observe(owner, desired)).resolves.toBeUndefined();
    });
  });

  describe('apply', () => {
    it('requeues after creating, while the table it found after a conflict is CREATING', async () => {
      const client = describing('CREATING', [{ Key: 'downloader.dev/uid', Value: 'uid-1' }]);
      const manager = new TableManager(client as unknown as DynamoDBClient);
      await expect(manager.apply(owner, desired, undefined)).rejects.toMatchObject({
        reason: 'TableCreating',
      });
      expect(client.calls).toEqual(['CreateTable', 'DescribeTable', 'ListTagsOfResource']);
    });

    it('requeues right after CreateTable answers CREATING', async () => {
      const client = fakeClient({
        CreateTable: (input) => ({
          TableDescription: {
            TableName: input.TableName,
            TableArn: observed.arn,
            TableStatus: 'CREATING',
            KeySchema: input.KeySchema,
            AttributeDefinitions: input.AttributeDefinitions,
          },
        }),
      });
      const manager = new TableManager(client as unknown as DynamoDBClient);
      await expect(manager.apply(owner, desired, undefined)).rejects.toBeInstanceOf(RequeueAfter);
    });
  });

  describe('delete', () => {
    it('makes no call for a table it did not create, or with deletionPolicy Retain', async () => {
      const client = fakeClient({});
      const manager = new TableManager(client as unknown as DynamoDBClient);
      await manager.delete(owner, observed);
      await manager.delete(owner, {
        ...observed,
        createdByOwner: false,
        ownerUid: undefined,
        deletionPolicy: 'Delete',
      });
      expect(client.calls).toEqual([]);
    });
  });

  it('diff is always empty: keys are enforced by TerminalError, the rest is the user’s', () => {
    const manager = new TableManager(fakeClient({}) as unknown as DynamoDBClient);
    expect(manager.diff({ ...desired, partitionKey: { name: 'id', type: 'N' } }, observed)).toEqual(
      [],
    );
  });
});

describe('keyMismatches', () => {
  it('names each key that differs, with both sides', () => {
    const out = keyMismatches(
      { ...desired, partitionKey: { name: 'id', type: 'S' }, sortKey: { name: 'ts', type: 'N' } },
      observed,
    );
    expect(out).toEqual([
      'partition key is pk (S), the spec asks for id (S)',
      'sort key is none, the spec asks for ts (N)',
    ]);
  });

  it('finds nothing when names and types agree', () => {
    expect(keyMismatches(desired, observed)).toEqual([]);
  });
});

describe('describeTableAdoption', () => {
  it('says created for a table with our UID and adopted for one without', () => {
    expect(describeTableAdoption(observed).adoption).toBe('created');
    expect(
      describeTableAdoption({ ...observed, createdByOwner: false, ownerUid: undefined }).adoption,
    ).toBe('adopted');
  });
});

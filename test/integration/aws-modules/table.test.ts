import {
  CreateTableCommand,
  DescribeTableCommand,
  ListTablesCommand,
  ListTagsOfResourceCommand,
} from '@aws-sdk/client-dynamodb';
import { TableManager, describeTableAdoption, type TableDesired } from '../../../src/aws/table.js';
import { TerminalError } from '../../../src/errors.js';
import { localAws, newOwner, rejection, suffix } from './aws-env.js';

describe(TableManager.name, () => {
  const aws = localAws();
  const manager = new TableManager(aws.dynamodb);
  afterAll(() => aws.destroy());

  const desiredTable = (overrides: Partial<TableDesired> = {}): TableDesired => ({
    name: `Table-${suffix()}`,
    partitionKey: { name: 'pk', type: 'S' },
    deletionPolicy: 'Delete',
    ...overrides,
  });

  /** Creates a table by hand, as a user would, without owner tags. */
  async function userTable(name: string, keyName = 'pk', keyType: 'S' | 'N' = 'S') {
    await aws.dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: keyName, AttributeType: keyType }],
        KeySchema: [{ AttributeName: keyName, KeyType: 'HASH' }],
      }),
    );
  }

  async function countTables(name: string): Promise<number> {
    let count = 0;
    let start: string | undefined;
    do {
      const page = await aws.dynamodb.send(
        new ListTablesCommand({ ExclusiveStartTableName: start }),
      );
      count += (page.TableNames ?? []).filter((n) => n === name).length;
      start = page.LastEvaluatedTableName;
    } while (start);
    return count;
  }

  async function exists(name: string): Promise<boolean> {
    return aws.dynamodb.send(new DescribeTableCommand({ TableName: name })).then(
      () => true,
      () => false,
    );
  }

  it('creates a table on demand with the keys and owner tags, then sees it in steady state', async () => {
    const owner = newOwner();
    const desired = desiredTable({ sortKey: { name: 'ts', type: 'N' } });
    expect(await manager.observe(owner, desired)).toBeUndefined();

    const created = await manager.apply(owner, desired, undefined);
    expect(created).toMatchObject({
      name: desired.name,
      status: 'ACTIVE',
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'ts', type: 'N' },
      ownerUid: owner.uid,
      createdByOwner: true,
    });
    expect(describeTableAdoption(created).adoption).toBe('created');

    const observed = await manager.observe(owner, desired);
    expect(observed).toEqual(created);
    expect(manager.diff(desired, observed!)).toEqual([]);

    const described = await aws.dynamodb.send(
      new DescribeTableCommand({ TableName: desired.name }),
    );
    expect(described.Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const tags = await aws.dynamodb.send(
      new ListTagsOfResourceCommand({ ResourceArn: created.arn }),
    );
    expect(tags.Tags).toEqual(
      expect.arrayContaining([{ Key: 'downloader.dev/uid', Value: owner.uid }]),
    );
  });

  it('keeps exactly one table when apply runs again after the observed state was lost', async () => {
    const owner = newOwner();
    const desired = desiredTable();
    await manager.apply(owner, desired, undefined);
    const again = await manager.apply(owner, desired, undefined);
    expect(again.createdByOwner).toBe(true);
    expect(await countTables(desired.name)).toBe(1);
  });

  it('refuses to change the keys of its own table, naming the key and saying why', async () => {
    const owner = newOwner();
    const desired = desiredTable();
    await manager.apply(owner, desired, undefined);

    const changed = { ...desired, partitionKey: { name: 'id', type: 'S' as const } };
    const err = await rejection(manager.observe(owner, changed));
    expect(err).toBeInstanceOf(TerminalError);
    expect(err).toMatchObject({ reason: 'TableKeyMismatch' });
    expect((err as Error).message).toContain('partition key is pk (S), the spec asks for id (S)');
    expect((err as Error).message).toContain("never changes a table's keys");
  });

  it('adopts a user table with the same keys and Retain, and never deletes it', async () => {
    const owner = newOwner();
    const desired = desiredTable({ deletionPolicy: 'Retain' });
    await userTable(desired.name);

    const observed = await manager.observe(owner, desired);
    expect(observed).toMatchObject({ createdByOwner: false });
    expect(observed?.ownerUid).toBeUndefined();
    expect(describeTableAdoption(observed!).adoption).toBe('adopted');
    expect(await manager.apply(owner, desired, observed)).toEqual(observed);

    await manager.delete(owner, observed!);
    await manager.delete(owner, { ...observed!, deletionPolicy: 'Delete' });
    expect(await exists(desired.name)).toBe(true);
  });

  it('refuses a user table with deletionPolicy Delete (TableNotOwned), saying to set Retain', async () => {
    const owner = newOwner();
    const desired = desiredTable({ deletionPolicy: 'Delete' });
    await userTable(desired.name);

    const err = await rejection(manager.observe(owner, desired));
    expect(err).toMatchObject({ reason: 'TableNotOwned' });
    expect((err as Error).message).toContain('Retain');
    // apply after a lost observed state gives the same answer instead of touching the table.
    expect(await rejection(manager.apply(owner, desired, undefined))).toMatchObject({
      reason: 'TableNotOwned',
    });
  });

  it('refuses a user table with other keys (TableKeyMismatch), even with Retain', async () => {
    const owner = newOwner();
    const desired = desiredTable({ deletionPolicy: 'Retain' });
    await userTable(desired.name, 'pk', 'N');

    const err = await rejection(manager.observe(owner, desired));
    expect(err).toMatchObject({ reason: 'TableKeyMismatch' });
    expect((err as Error).message).toContain('partition key is pk (N), the spec asks for pk (S)');
  });

  it("refuses another Downloader's table (TableOwnedByOther), naming that Downloader", async () => {
    const first = newOwner('first-owner');
    const second = newOwner('second-owner');
    const desired = desiredTable({ deletionPolicy: 'Retain' });
    await manager.apply(first, desired, undefined);

    const err = await rejection(manager.observe(second, desired));
    expect(err).toMatchObject({ reason: 'TableOwnedByOther' });
    expect((err as Error).message).toContain('aws-modules/first-owner');
    expect(await rejection(manager.apply(second, desired, undefined))).toMatchObject({
      reason: 'TableOwnedByOther',
    });
  });

  it('deletes its own table with Delete, retains it with Retain, and a second delete is harmless', async () => {
    const owner = newOwner();
    const kept = desiredTable({ deletionPolicy: 'Retain' });
    const dropped = desiredTable({ deletionPolicy: 'Delete' });
    const keptObserved = await manager.apply(owner, kept, undefined);
    const droppedObserved = await manager.apply(owner, dropped, undefined);

    await manager.delete(owner, keptObserved);
    await manager.delete(owner, droppedObserved);
    expect(await exists(kept.name)).toBe(true);
    expect(await manager.observe(owner, dropped)).toBeUndefined();

    await expect(manager.delete(owner, droppedObserved)).resolves.toBeUndefined();
  });

  it('reads a table whose keys no longer match without refusing it, for cleanup', async () => {
    const owner = newOwner();
    const desired = desiredTable();
    await manager.apply(owner, desired, undefined);
    const changed = { ...desired, partitionKey: { name: 'other', type: 'S' as const } };

    const read = await manager.read(owner, changed);
    expect(read).toMatchObject({ createdByOwner: true, deletionPolicy: 'Delete' });
    await manager.delete(owner, read!);
    expect(await exists(desired.name)).toBe(false);
  });
});

import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ListTagsOfResourceCommand,
  type AttributeDefinition,
  type DynamoDBClient,
  type KeySchemaElement,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import type { DELETION_POLICIES, KEY_TYPES } from '../api/downloader-spec.js';
import { RequeueAfter, TerminalError } from '../errors.js';
import { isConflict, isNotFound, traced } from './errors.js';
import { DEFAULT_RECHECK_INTERVAL_MS, Recheck } from './recheck.js';
import { TAG_KEYS, ownerTags, type Owner } from './owner.js';
import type { ResourceManager } from './resource.js';

/**
 * The DynamoDB table a Downloader writes into. A table holds user data, so the operator is
 * careful with it:
 *
 * - it creates the table on demand (on-demand capacity, the spec's keys, owner tags);
 * - it adopts a table that already exists without an owner tag, if its keys are the spec's and
 *   deletionPolicy is Retain: the operator then only writes items into it and never deletes it;
 * - it never changes a table's keys (DynamoDB cannot), nor its capacity, indexes or settings,
 *   which belong to the user;
 * - it deletes only a table it created itself, and only with deletionPolicy Delete.
 *
 * The checks that decide this run in observe (and again in apply), because they are facts about
 * the world rather than differences the operator could correct: a key mismatch, a table of
 * another Downloader, or one that is not ours with Delete asked end in a TerminalError; a table
 * still CREATING ends in a RequeueAfter. diff therefore has nothing to report and returns [].
 */

export type TableKeyType = (typeof KEY_TYPES)[number];
export type DeletionPolicy = (typeof DELETION_POLICIES)[number];

/** A key attribute: name and DynamoDB scalar type. */
export interface TableKey {
  name: string;
  type: TableKeyType;
}

/** What the spec asks for. */
export interface TableDesired {
  name: string;
  partitionKey: TableKey;
  sortKey?: TableKey;
  deletionPolicy: DeletionPolicy;
}

/** What exists in AWS. */
export interface TableObserved {
  name: string;
  arn: string;
  /** CREATING, ACTIVE, UPDATING, DELETING...: DynamoDB's TableStatus. */
  status: string;
  partitionKey: TableKey;
  sortKey?: TableKey;
  /** UID in the table's downloader.dev/uid tag, if it has one. */
  ownerUid?: string;
  /** Namespace and name in the table's owner tags, for messages about another Downloader. */
  ownerRef?: string;
  /** True when this Downloader created the table (its UID tag is ours), false when adopted. */
  createdByOwner: boolean;
  /**
   * The deletionPolicy observe was called with. Tables carry no such setting; it travels here
   * because delete, which sees only the observed state, must honour it.
   */
  deletionPolicy: DeletionPolicy;
}

/** Condition reasons this module produces. */
export const TABLE_REASONS = {
  keyMismatch: 'TableKeyMismatch',
  ownedByOther: 'TableOwnedByOther',
  notOwned: 'TableNotOwned',
  creating: 'TableCreating',
  deleting: 'TableDeleting',
} as const;

/** How long to wait before looking again at a table DynamoDB is still creating. */
export const TABLE_CREATING_REQUEUE_MS = 2_000;
/** How long to wait before looking again at a table DynamoDB is deleting. */
export const TABLE_DELETING_REQUEUE_MS = 5_000;

/** Whether the operator created the table or adopted one that existed. */
export interface TableAdoption {
  adoption: 'created' | 'adopted';
  message: string;
}

/** Says whether `observed` was created by the operator or adopted, for conditions and events. */
export function describeTableAdoption(observed: TableObserved): TableAdoption {
  if (observed.createdByOwner) {
    const fate =
      observed.deletionPolicy === 'Delete'
        ? 'it is deleted with the Downloader'
        : 'deletionPolicy Retain keeps it when the Downloader is deleted';
    return {
      adoption: 'created',
      message: `table ${observed.name} was created by the operator; ${fate}`,
    };
  }
  return {
    adoption: 'adopted',
    message:
      `table ${observed.name} existed and is adopted: the operator writes items into it ` +
      'and never deletes it',
  };
}

function keyText(key: TableKey | undefined): string {
  return key ? `${key.name} (${key.type})` : 'none';
}

function sameKey(a: TableKey | undefined, b: TableKey | undefined): boolean {
  return a?.name === b?.name && a?.type === b?.type;
}

/** The differences between the keys of a table and those of the spec, as sentences; [] if none. */
export function keyMismatches(desired: TableDesired, observed: TableObserved): string[] {
  const out: string[] = [];
  if (!sameKey(desired.partitionKey, observed.partitionKey)) {
    out.push(
      `partition key is ${keyText(observed.partitionKey)}, the spec asks for ` +
        keyText(desired.partitionKey),
    );
  }
  if (!sameKey(desired.sortKey, observed.sortKey)) {
    out.push(
      `sort key is ${keyText(observed.sortKey)}, the spec asks for ${keyText(desired.sortKey)}`,
    );
  }
  return out;
}

function keyFromSchema(
  schema: KeySchemaElement[] | undefined,
  attributes: AttributeDefinition[] | undefined,
  keyType: 'HASH' | 'RANGE',
): TableKey | undefined {
  const name = schema?.find((k) => k.KeyType === keyType)?.AttributeName;
  if (!name) return undefined;
  const type = attributes?.find((a) => a.AttributeName === name)?.AttributeType;
  return { name, type: (type ?? 'S') as TableKeyType };
}

/** Manages one DynamoDB table per Downloader; see the module comment for the rules. */
export class TableManager implements ResourceManager<TableDesired, TableObserved> {
  readonly kind = 'Table';
  private readonly logger: Logger | undefined;

  /** Owner tags per table ARN and creation time (see Recheck). */
  private readonly knownTags: Recheck<Record<string, string>>;

  constructor(
    private readonly dynamodb: DynamoDBClient,
    options: { logger?: Logger; recheckIntervalMs?: number } = {},
  ) {
    this.logger = options.logger;
    this.knownTags = new Recheck(options.recheckIntervalMs ?? DEFAULT_RECHECK_INTERVAL_MS);
  }

  /** Reads the table and checks it may be used (see the module comment); undefined if absent. */
  async observe(owner: Owner, desired: TableDesired): Promise<TableObserved | undefined> {
    const observed = await this.read(owner, desired);
    if (observed) this.check(owner, desired, observed);
    return observed;
  }

  /**
   * Reads the table without checking it, for cleanup: a Downloader being deleted must get past a
   * table whose keys no longer match its spec. delete still decides alone what it may remove.
   */
  async read(owner: Owner, desired: TableDesired): Promise<TableObserved | undefined> {
    let table: TableDescription | undefined;
    try {
      const out = await traced(this.logger, 'DescribeTable', () =>
        this.dynamodb.send(new DescribeTableCommand({ TableName: desired.name })),
      );
      table = out.Table;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    if (!table?.TableArn) return undefined;

    const arn = table.TableArn;
    const created = table.CreationDateTime?.toISOString() ?? '';
    const tags = await this.knownTags.through(`${arn}@${created}`, () => this.tags(arn));
    return this.toObserved(owner, desired, table, tags);
  }

  /** Always []: keys cannot change, and settings other than keys belong to the user. */
  diff(_desired: TableDesired, _observed: TableObserved): string[] {
    return [];
  }

  /**
   * Creates the table when absent, or adopts the one found. Throws RequeueAfter while DynamoDB
   * creates it, TerminalError when it may not be used.
   */
  async apply(
    owner: Owner,
    desired: TableDesired,
    observed: TableObserved | undefined,
  ): Promise<TableObserved> {
    if (observed) {
      this.check(owner, desired, observed);
      return observed;
    }

    let created: TableDescription | undefined;
    try {
      const out = await traced(this.logger, 'CreateTable', () =>
        this.dynamodb.send(new CreateTableCommand(this.createInput(owner, desired))),
      );
      created = out.TableDescription;
    } catch (err) {
      // ResourceInUseException: it exists (an earlier run created it, or someone else did).
      if (!isConflict(err)) throw err;
      const existing = await this.observe(owner, desired);
      if (!existing) throw err;
      return existing;
    }

    const result = this.toObserved(owner, desired, created ?? {}, ownerTags(owner));
    this.check(owner, desired, result);
    return result;
  }

  /** Deletes the table if this Downloader created it and deletionPolicy is Delete; else nothing. */
  async delete(owner: Owner, observed: TableObserved): Promise<void> {
    if (!observed.createdByOwner || observed.ownerUid !== owner.uid) return;
    if (observed.deletionPolicy !== 'Delete') return;

    try {
      await traced(this.logger, 'DeleteTable', () =>
        this.dynamodb.send(new DeleteTableCommand({ TableName: observed.name })),
      );
    } catch (err) {
      if (isNotFound(err)) return;
      // ResourceInUseException: DynamoDB is creating, updating or already deleting it.
      if (isConflict(err)) {
        throw new RequeueAfter(
          TABLE_CREATING_REQUEUE_MS,
          TABLE_REASONS.creating,
          `table ${observed.name} is busy; deleting it once DynamoDB allows`,
        );
      }
      throw err;
    }
  }

  private createInput(owner: Owner, desired: TableDesired) {
    const keys = [desired.partitionKey, ...(desired.sortKey ? [desired.sortKey] : [])];
    return {
      TableName: desired.name,
      BillingMode: 'PAY_PER_REQUEST' as const,
      AttributeDefinitions: keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
      KeySchema: [
        { AttributeName: desired.partitionKey.name, KeyType: 'HASH' as const },
        ...(desired.sortKey
          ? [{ AttributeName: desired.sortKey.name, KeyType: 'RANGE' as const }]
          : []),
      ],
      Tags: Object.entries(ownerTags(owner)).map(([Key, Value]) => ({ Key, Value })),
    };
  }

  private async tags(arn: string): Promise<Record<string, string>> {
    const tags: Record<string, string> = {};
    let next: string | undefined;
    do {
      const token = next;
      const out = await traced(this.logger, 'ListTagsOfResource', () =>
        this.dynamodb.send(new ListTagsOfResourceCommand({ ResourceArn: arn, NextToken: token })),
      );
      for (const tag of out.Tags ?? []) {
        if (tag.Key !== undefined && tag.Value !== undefined) tags[tag.Key] = tag.Value;
      }
      next = out.NextToken;
    } while (next);
    return tags;
  }

  private toObserved(
    owner: Owner,
    desired: TableDesired,
    table: TableDescription,
    tags: Record<string, string>,
  ): TableObserved {
    const ownerUid = tags[TAG_KEYS.uid];
    const namespace = tags[TAG_KEYS.namespace];
    const name = tags[TAG_KEYS.name];
    const partitionKey = keyFromSchema(table.KeySchema, table.AttributeDefinitions, 'HASH');
    const sortKey = keyFromSchema(table.KeySchema, table.AttributeDefinitions, 'RANGE');
    return {
      name: table.TableName ?? desired.name,
      arn: table.TableArn ?? '',
      status: table.TableStatus ?? 'UNKNOWN',
      partitionKey: partitionKey ?? { name: '', type: 'S' },
      ...(sortKey ? { sortKey } : {}),
      ...(ownerUid !== undefined ? { ownerUid } : {}),
      ...(namespace && name ? { ownerRef: `${namespace}/${name}` } : {}),
      createdByOwner: ownerUid === owner.uid,
      deletionPolicy: desired.deletionPolicy,
    };
  }

  /** Throws TerminalError when the table may not be used, RequeueAfter while it is not ready. */
  private check(owner: Owner, desired: TableDesired, observed: TableObserved): void {
    if (observed.ownerUid !== undefined && observed.ownerUid !== owner.uid) {
      const other = observed.ownerRef ? `Downloader ${observed.ownerRef}` : 'another Downloader';
      throw new TerminalError(
        TABLE_REASONS.ownedByOther,
        `table ${observed.name} belongs to ${other}; use another table name`,
      );
    }
    if (!observed.createdByOwner && desired.deletionPolicy === 'Delete') {
      throw new TerminalError(
        TABLE_REASONS.notOwned,
        `table ${observed.name} exists and was not created by this Downloader, so the operator ` +
          'will not delete it: set spec.table.deletionPolicy to Retain to adopt it',
      );
    }

    const mismatches = keyMismatches(desired, observed);
    if (mismatches.length > 0) {
      throw new TerminalError(
        TABLE_REASONS.keyMismatch,
        `table ${observed.name}: ${mismatches.join('; ')}. The operator never changes a ` +
          "table's keys: restore them in the spec or use another table name",
      );
    }

    // UPDATING is not waited for: DynamoDB serves reads and writes while it updates a table
    // (an index being added, capacity changing), so the pipeline can run.
    if (observed.status === 'CREATING') {
      throw new RequeueAfter(
        TABLE_CREATING_REQUEUE_MS,
        TABLE_REASONS.creating,
        `DynamoDB is creating table ${observed.name}`,
      );
    }
    if (observed.status === 'DELETING') {
      throw new RequeueAfter(
        TABLE_DELETING_REQUEUE_MS,
        TABLE_REASONS.deleting,
        `DynamoDB is deleting table ${observed.name}; it is created again once gone`,
      );
    }
  }
}

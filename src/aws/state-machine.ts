import { isDeepStrictEqual } from 'node:util';
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeStateMachineCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UpdateStateMachineCommand,
  type DescribeStateMachineCommandOutput,
  type LoggingConfiguration,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { Logger } from 'pino';
import { RequeueAfter, TerminalError } from '../errors.js';
import { stateMachineArn } from '../workflow/arn.js';
import type { AwsContext } from './context.js';
import {
  ROLE_PROPAGATION_WINDOW_MS,
  awsErrorName,
  isConflict,
  isNotFound,
  traced,
  whileRolePropagates,
} from './errors.js';
import { TAG_KEYS, ownerTags, type Owner } from './owner.js';
import { DEFAULT_RECHECK_INTERVAL_MS, Recheck } from './recheck.js';
import { jsonEqual } from './policy-document.js';
import type { ResourceManager } from './resource.js';

/**
 * The Step Functions state machine of a Downloader. Its name is deterministic (resourceName), so
 * its ARN is known before it exists and it is found by ARN after a crash; its tags name the
 * owner, and one tagged for another Downloader is refused (StateMachineOwnedByOther).
 *
 * Definitions are compared as parsed JSON, so the reformatting Step Functions may apply never
 * shows as a difference. Definition, role and logging are changed in place (UpdateStateMachine).
 * The type (STANDARD or EXPRESS) cannot be changed in place: the state machine is deleted and
 * created again, which loses the execution history of the old one. Step Functions deletes
 * asynchronously (status DELETING); meanwhile apply and observe answer RequeueAfter.
 *
 * IAM is eventually consistent: Step Functions may refuse a role created seconds ago with an
 * AccessDeniedException ("Neither the global service principal states.amazonaws.com, nor the
 * regional one is authorized to assume the provided role"). When the desired state says when
 * the operator created the role (`roleCreatedAt`) and that was less than the propagation window
 * ago, an AccessDeniedException from create or update is taken for that and answered with
 * RequeueAfter (reason RolePropagating). It is recognised by error name only: the same name
 * later, or for a role the operator did not create, is a real permission problem and surfaces.
 */

/** Condition reasons this module produces. */
export const STATE_MACHINE_REASONS = {
  ownedByOther: 'StateMachineOwnedByOther',
  deleting: 'StateMachineDeleting',
  rolePropagating: 'RolePropagating',
} as const;

/** How long to wait before looking again at a state machine Step Functions is deleting. */
export const STATE_MACHINE_DELETING_REQUEUE_MS = 5_000;

export type WorkflowType = 'STANDARD' | 'EXPRESS';

/** What the spec asks for. */
export interface StateMachineDesired {
  name: string;
  /** Amazon States Language, as JSON text. */
  definition: string;
  roleArn: string;
  type: WorkflowType;
  /** Execution logging; left out means logging OFF. */
  loggingConfiguration?: LoggingConfiguration;
  /**
   * When the operator created `roleArn` (ISO 8601; RoleObserved.createdAt), so that a refusal to
   * assume a role that new is waited out. Left out for a role the operator did not create.
   */
  roleCreatedAt?: string;
}

/** What exists in Step Functions. */
export interface StateMachineObserved {
  arn: string;
  name: string;
  definition: string;
  roleArn: string;
  type: WorkflowType;
  /** ACTIVE or DELETING. */
  status: string;
  loggingConfiguration?: LoggingConfiguration;
  /** UID in the state machine's downloader.dev/uid tag, if it has one. */
  ownerUid?: string;
}

/** Options of StateMachineManager. */
export interface StateMachineManagerOptions {
  logger?: Logger;
  /** Clock, in epoch milliseconds. */
  now?: () => number;
  /** See the module comment; default ROLE_PROPAGATION_WINDOW_MS. */
  rolePropagationWindowMs?: number;
  /** How long owner tags are trusted without reading them again; default one hour. */
  recheckIntervalMs?: number;
}

/** Logging settings with Step Functions' defaults filled in, for comparison. */
function normalizeLogging(config: LoggingConfiguration | undefined) {
  return {
    level: config?.level ?? 'OFF',
    includeExecutionData: config?.includeExecutionData ?? false,
    destinations: (config?.destinations ?? []).map(
      (d) => d.cloudWatchLogsLogGroup?.logGroupArn ?? '',
    ),
  };
}

/** True when two logging configurations have the same effect. */
export function loggingEqual(
  a: LoggingConfiguration | undefined,
  b: LoggingConfiguration | undefined,
): boolean {
  return isDeepStrictEqual(normalizeLogging(a), normalizeLogging(b));
}

/** Manages Step Functions state machines; one instance serves every Downloader. */
export class StateMachineManager implements ResourceManager<
  StateMachineDesired,
  StateMachineObserved
> {
  readonly kind = 'StateMachine';
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly rolePropagationWindowMs: number;
  /** Owner tags per state machine ARN and creation time (see Recheck). */
  private readonly knownTags: Recheck<Record<string, string>>;

  constructor(
    private readonly sfn: SFNClient,
    private readonly context: AwsContext,
    options: StateMachineManagerOptions = {},
  ) {
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.rolePropagationWindowMs = options.rolePropagationWindowMs ?? ROLE_PROPAGATION_WINDOW_MS;
    this.knownTags = new Recheck(
      options.recheckIntervalMs ?? DEFAULT_RECHECK_INTERVAL_MS,
      this.now,
    );
  }

  /** The ARN a state machine of this name has (or will have) in the operator's account. */
  arnOf(name: string): string {
    const { partition, region, accountId } = this.context;
    return stateMachineArn(partition, region, accountId, name);
  }

  /** Reads the state machine; undefined if absent. Throws if another Downloader owns it. */
  async observe(
    owner: Owner,
    desired: StateMachineDesired,
  ): Promise<StateMachineObserved | undefined> {
    const arn = this.arnOf(desired.name);
    let described: DescribeStateMachineCommandOutput;
    try {
      described = await traced(this.logger, 'DescribeStateMachine', () =>
        this.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn })),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }

    const created = described.creationDate?.toISOString() ?? '';
    const tags = await this.knownTags.through(`${arn}@${created}`, () => this.tags(arn));
    const ownerUid = tags[TAG_KEYS.uid];
    if (ownerUid !== undefined && ownerUid !== owner.uid) {
      const ns = tags[TAG_KEYS.namespace];
      const name = tags[TAG_KEYS.name];
      const other = ns && name ? `Downloader ${ns}/${name}` : 'another Downloader';
      throw new TerminalError(
        STATE_MACHINE_REASONS.ownedByOther,
        `state machine ${desired.name} belongs to ${other}; the operator leaves it alone`,
      );
    }

    const status = described.status ?? 'ACTIVE';
    if (status === 'DELETING') throw this.deleting(desired.name);
    return {
      arn: described.stateMachineArn ?? arn,
      name: described.name ?? desired.name,
      definition: described.definition ?? '',
      roleArn: described.roleArn ?? '',
      type: (described.type ?? 'STANDARD') as WorkflowType,
      status,
      ...(described.loggingConfiguration
        ? { loggingConfiguration: described.loggingConfiguration }
        : {}),
      ...(ownerUid !== undefined ? { ownerUid } : {}),
    };
  }

  /** Names of what differs: definition, roleArn, type, loggingConfiguration, tags. */
  diff(desired: StateMachineDesired, observed: StateMachineObserved): string[] {
    const out: string[] = [];
    if (!jsonEqual(desired.definition, observed.definition)) out.push('definition');
    if (desired.roleArn !== observed.roleArn) out.push('roleArn');
    if (desired.type !== observed.type) out.push('type');
    if (!loggingEqual(desired.loggingConfiguration, observed.loggingConfiguration)) {
      out.push('loggingConfiguration');
    }
    if (observed.ownerUid === undefined) out.push('tags');
    return out;
  }

  /**
   * Creates the state machine, or updates what differs; replaces it when the type differs.
   * Safe to repeat: CreateStateMachine with our deterministic name finds an existing one.
   */
  async apply(
    owner: Owner,
    desired: StateMachineDesired,
    observed: StateMachineObserved | undefined,
  ): Promise<StateMachineObserved> {
    // observe has refused a state machine of another Downloader, so what is left here is ours
    // (tagged, or untagged under our name and about to be tagged) and may be replaced.
    let current = observed;
    if (current && current.type !== desired.type) {
      await this.remove(current.arn);
      current = undefined;
    }
    current ??= await this.create(owner, desired);

    const changes = this.diff(desired, current);
    if (changes.includes('type')) {
      // Create found one of the other type that an earlier run left: replace it next time.
      await this.remove(current.arn);
      throw this.deleting(desired.name);
    }
    if (
      changes.some((c) => c === 'definition' || c === 'roleArn' || c === 'loggingConfiguration')
    ) {
      await this.withRolePropagation(desired, () =>
        traced(this.logger, 'UpdateStateMachine', () =>
          this.sfn.send(
            new UpdateStateMachineCommand({
              stateMachineArn: current.arn,
              definition: desired.definition,
              roleArn: desired.roleArn,
              loggingConfiguration: desired.loggingConfiguration ?? { level: 'OFF' },
            }),
          ),
        ),
      );
    }
    if (changes.includes('tags')) {
      this.knownTags.forget(`${current.arn}@`);
      await traced(this.logger, 'TagResource', () =>
        this.sfn.send(
          new TagResourceCommand({ resourceArn: current.arn, tags: this.tagList(owner) }),
        ),
      );
    }

    return {
      arn: current.arn,
      name: desired.name,
      definition: desired.definition,
      roleArn: desired.roleArn,
      type: desired.type,
      status: 'ACTIVE',
      ...(desired.loggingConfiguration
        ? { loggingConfiguration: desired.loggingConfiguration }
        : {}),
      ownerUid: owner.uid,
    };
  }

  /** Deletes the state machine if it carries this Downloader's UID; absent counts as deleted. */
  async delete(owner: Owner, observed: StateMachineObserved): Promise<void> {
    if (observed.ownerUid !== owner.uid) return;
    await this.remove(observed.arn);
  }

  private async remove(arn: string): Promise<void> {
    try {
      await traced(this.logger, 'DeleteStateMachine', () =>
        this.sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn })),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * Creates the state machine and reads it back. The read matters: CreateStateMachine is
   * idempotent on the name and definition and then ignores a different role or tags, so
   * what exists may still differ from `desired`.
   */
  private async create(owner: Owner, desired: StateMachineDesired): Promise<StateMachineObserved> {
    let arn: string;
    try {
      const out = await this.withRolePropagation(desired, () =>
        traced(this.logger, 'CreateStateMachine', () =>
          this.sfn.send(
            new CreateStateMachineCommand({
              name: desired.name,
              definition: desired.definition,
              roleArn: desired.roleArn,
              type: desired.type,
              ...(desired.loggingConfiguration
                ? { loggingConfiguration: desired.loggingConfiguration }
                : {}),
              tags: this.tagList(owner),
            }),
          ),
        ),
      );
      arn = out.stateMachineArn ?? this.arnOf(desired.name);
    } catch (err) {
      if (awsErrorName(err) === 'StateMachineDeleting') throw this.deleting(desired.name);
      // StateMachineAlreadyExists: one of this name exists with another definition or type.
      if (!isConflict(err)) throw err;
      const existing = await this.observe(owner, desired);
      if (!existing) throw err;
      return existing;
    }

    const existing = await this.observe(owner, desired);
    return (
      existing ?? {
        arn,
        name: desired.name,
        definition: desired.definition,
        roleArn: desired.roleArn,
        type: desired.type,
        status: 'ACTIVE',
        ...(desired.loggingConfiguration
          ? { loggingConfiguration: desired.loggingConfiguration }
          : {}),
        ownerUid: owner.uid,
      }
    );
  }

  /** Runs `call`, turning the refusal of a role that may still be propagating into a requeue. */
  private withRolePropagation<T>(desired: StateMachineDesired, call: () => Promise<T>): Promise<T> {
    const window = { now: this.now, windowMs: this.rolePropagationWindowMs };
    return whileRolePropagates(
      desired,
      {
        errorName: 'AccessDeniedException',
        reason: STATE_MACHINE_REASONS.rolePropagating,
        service: 'Step Functions',
      },
      window,
      call,
    );
  }

  private deleting(name: string): RequeueAfter {
    return new RequeueAfter(
      STATE_MACHINE_DELETING_REQUEUE_MS,
      STATE_MACHINE_REASONS.deleting,
      `Step Functions is deleting state machine ${name}; it is created again once gone`,
    );
  }

  private tagList(owner: Owner) {
    return Object.entries(ownerTags(owner)).map(([key, value]) => ({ key, value }));
  }

  private async tags(arn: string): Promise<Record<string, string>> {
    const out = await traced(this.logger, 'ListTagsForResource', () =>
      this.sfn.send(new ListTagsForResourceCommand({ resourceArn: arn })),
    );
    const tags: Record<string, string> = {};
    for (const tag of out.tags ?? []) {
      if (tag.key !== undefined && tag.value !== undefined) tags[tag.key] = tag.value;
    }
    return tags;
  }
}

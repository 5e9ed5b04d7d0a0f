import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
  type GetScheduleCommandOutput,
  type RetryPolicy,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { Logger } from 'pino';
import {
  ROLE_PROPAGATION_WINDOW_MS,
  isConflict,
  isNotFound,
  traced,
  whileRolePropagates,
} from './errors.js';
import type { Owner } from './owner.js';
import { jsonEqual } from './policy-document.js';
import type { ResourceManager } from './resource.js';

/**
 * The EventBridge Scheduler schedule that starts a Downloader's state machine.
 *
 * Ownership: schedules take no tags at creation (tags belong to schedule groups), so ownership
 * rests on the name. It is deterministic and ends in a hash of the Downloader's UID
 * (resourceName), so a schedule with our name in our group is ours: no other Downloader can
 * compute it, and a Downloader re-created under the same name gets another one.
 *
 * UpdateSchedule replaces the whole schedule, so apply always sends every field. A schedule in
 * a group that does not exist is not created here: the group is configuration.
 *
 * Like Step Functions, Scheduler may refuse a role created seconds ago (ValidationException:
 * "The execution role you provide must allow AWS EventBridge Scheduler to assume the role").
 * With `roleCreatedAt` inside the propagation window, a ValidationException from create or
 * update is answered with RequeueAfter (reason RolePropagating); after it, it surfaces. It is
 * recognised by error name only, so in that first minute any ValidationException waits: the
 * operator's own inputs are validated before they reach AWS, which makes that acceptable.
 */

/** Condition reasons this module produces. */
export const SCHEDULE_REASONS = {
  rolePropagating: 'RolePropagating',
} as const;

/** The schedule group every account has. */
export const DEFAULT_SCHEDULE_GROUP = 'default';

/**
 * Retries of a failed StartExecution: a few, and not past five minutes, because the next
 * scheduled run is usually near and a late download is worth less than the next one.
 */
export const SCHEDULE_RETRY_POLICY = {
  MaximumRetryAttempts: 3,
  MaximumEventAgeInSeconds: 300,
} as const satisfies RetryPolicy;

/** What the spec asks for. */
export interface ScheduleDesired {
  name: string;
  groupName: string;
  /** rate(...), cron(...) or at(...). */
  expression: string;
  timezone: string;
  state: 'ENABLED' | 'DISABLED';
  /** ARN of the state machine the schedule starts. */
  targetArn: string;
  /** Role Scheduler assumes to call states:StartExecution. */
  roleArn: string;
  /** Execution input, JSON text. */
  input: string;
  description: string;
  /** When the operator created `roleArn` (ISO 8601); see the module comment. */
  roleCreatedAt?: string;
}

/** What exists in EventBridge Scheduler. */
export interface ScheduleObserved {
  arn: string;
  name: string;
  groupName: string;
  expression: string;
  timezone: string;
  state: 'ENABLED' | 'DISABLED';
  targetArn: string;
  roleArn: string;
  input: string;
  description: string;
  /** OFF when the schedule fires at the exact time. */
  flexibleTimeWindowMode: string;
  retryPolicy?: RetryPolicy;
}

/** Options of ScheduleManager. */
export interface ScheduleManagerOptions {
  logger?: Logger;
  /** Clock, in epoch milliseconds. */
  now?: () => number;
  /** Default ROLE_PROPAGATION_WINDOW_MS. */
  rolePropagationWindowMs?: number;
}

/** Manages EventBridge Scheduler schedules; one instance serves every Downloader. */
export class ScheduleManager implements ResourceManager<ScheduleDesired, ScheduleObserved> {
  readonly kind = 'Schedule';
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly rolePropagationWindowMs: number;

  constructor(
    private readonly scheduler: SchedulerClient,
    options: ScheduleManagerOptions = {},
  ) {
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.rolePropagationWindowMs = options.rolePropagationWindowMs ?? ROLE_PROPAGATION_WINDOW_MS;
  }

  /** Reads the schedule; undefined if absent. */
  async observe(_owner: Owner, desired: ScheduleDesired): Promise<ScheduleObserved | undefined> {
    let out: GetScheduleCommandOutput;
    try {
      out = await traced(this.logger, 'GetSchedule', () =>
        this.scheduler.send(
          new GetScheduleCommand({ Name: desired.name, GroupName: desired.groupName }),
        ),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return {
      arn: out.Arn ?? '',
      name: out.Name ?? desired.name,
      groupName: out.GroupName ?? desired.groupName,
      expression: out.ScheduleExpression ?? '',
      timezone: out.ScheduleExpressionTimezone ?? 'UTC',
      state: out.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      targetArn: out.Target?.Arn ?? '',
      roleArn: out.Target?.RoleArn ?? '',
      input: out.Target?.Input ?? '',
      description: out.Description ?? '',
      flexibleTimeWindowMode: out.FlexibleTimeWindow?.Mode ?? 'OFF',
      ...(out.Target?.RetryPolicy ? { retryPolicy: out.Target.RetryPolicy } : {}),
    };
  }

  /**
   * Names of what differs: expression, timezone, state, targetArn, roleArn, input (compared as
   * JSON), description, flexibleTimeWindow, retryPolicy.
   */
  diff(desired: ScheduleDesired, observed: ScheduleObserved): string[] {
    const out: string[] = [];
    if (desired.expression !== observed.expression) out.push('expression');
    if (desired.timezone !== observed.timezone) out.push('timezone');
    if (desired.state !== observed.state) out.push('state');
    if (desired.targetArn !== observed.targetArn) out.push('targetArn');
    if (desired.roleArn !== observed.roleArn) out.push('roleArn');
    if (!jsonEqual(desired.input, observed.input)) out.push('input');
    if (desired.description !== observed.description) out.push('description');
    if (observed.flexibleTimeWindowMode !== 'OFF') out.push('flexibleTimeWindow');
    const retry = observed.retryPolicy;
    if (
      retry?.MaximumRetryAttempts !== SCHEDULE_RETRY_POLICY.MaximumRetryAttempts ||
      retry.MaximumEventAgeInSeconds !== SCHEDULE_RETRY_POLICY.MaximumEventAgeInSeconds
    ) {
      out.push('retryPolicy');
    }
    return out;
  }

  /** Creates the schedule, or replaces it whole. Safe to repeat. */
  async apply(
    _owner: Owner,
    desired: ScheduleDesired,
    observed: ScheduleObserved | undefined,
  ): Promise<ScheduleObserved> {
    let arn: string | undefined;
    if (observed) {
      arn = await this.update(desired).catch(async (err: unknown) => {
        // Deleted since it was observed: create it.
        if (!isNotFound(err)) throw err;
        return this.create(desired);
      });
    } else {
      arn = await this.create(desired).catch(async (err: unknown) => {
        // ConflictException: it exists (an earlier run created it and crashed): replace it.
        if (!isConflict(err)) throw err;
        return this.update(desired);
      });
    }

    return {
      arn: arn ?? observed?.arn ?? '',
      name: desired.name,
      groupName: desired.groupName,
      expression: desired.expression,
      timezone: desired.timezone,
      state: desired.state,
      targetArn: desired.targetArn,
      roleArn: desired.roleArn,
      input: desired.input,
      description: desired.description,
      flexibleTimeWindowMode: 'OFF',
      retryPolicy: { ...SCHEDULE_RETRY_POLICY },
    };
  }

  /** Deletes the schedule; absent counts as deleted. */
  async delete(_owner: Owner, observed: ScheduleObserved): Promise<void> {
    try {
      await traced(this.logger, 'DeleteSchedule', () =>
        this.scheduler.send(
          new DeleteScheduleCommand({ Name: observed.name, GroupName: observed.groupName }),
        ),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** The full schedule: UpdateSchedule replaces every field, so create and update send the same. */
  private request(desired: ScheduleDesired): CreateScheduleCommandInput {
    return {
      Name: desired.name,
      GroupName: desired.groupName,
      ScheduleExpression: desired.expression,
      ScheduleExpressionTimezone: desired.timezone,
      State: desired.state,
      Description: desired.description,
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: desired.targetArn,
        RoleArn: desired.roleArn,
        Input: desired.input,
        RetryPolicy: { ...SCHEDULE_RETRY_POLICY },
      },
    };
  }

  private async create(desired: ScheduleDesired): Promise<string | undefined> {
    const out = await this.withRolePropagation(desired, () =>
      traced(this.logger, 'CreateSchedule', () =>
        this.scheduler.send(new CreateScheduleCommand(this.request(desired))),
      ),
    );
    return out.ScheduleArn;
  }

  private async update(desired: ScheduleDesired): Promise<string | undefined> {
    const out = await this.withRolePropagation(desired, () =>
      traced(this.logger, 'UpdateSchedule', () =>
        this.scheduler.send(new UpdateScheduleCommand(this.request(desired))),
      ),
    );
    return out.ScheduleArn;
  }

  /** Runs `call`, turning the refusal of a role that may still be propagating into a requeue. */
  private withRolePropagation<T>(desired: ScheduleDesired, call: () => Promise<T>): Promise<T> {
    const window = { now: this.now, windowMs: this.rolePropagationWindowMs };
    return whileRolePropagates(
      desired,
      {
        errorName: 'ValidationException',
        reason: SCHEDULE_REASONS.rolePropagating,
        service: 'EventBridge Scheduler',
      },
      window,
      call,
    );
  }
}

import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  type IAMClient,
  type Role,
} from '@aws-sdk/client-iam';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.js';
import { isConflict, isNotFound, traced } from './errors.js';
import { TAG_KEYS, ownerTags, type Owner } from './owner.js';
import { DEFAULT_RECHECK_INTERVAL_MS, Recheck } from './recheck.js';
import { decodePolicyDocument, policiesEqual } from './policy-document.js';
import type { ResourceManager } from './resource.js';

/**
 * An IAM role the operator manages for one Downloader (the state machine's execution role, the
 * schedule's role): its trust policy, one inline policy, an optional permissions boundary set
 * by the platform team, and owner tags. The role's name is deterministic (resourceName), so the
 * role is found by name after a crash. A role of that name tagged for another Downloader is not
 * touched (TerminalError RoleOwnedByOther); one without our tag is adopted and tagged.
 *
 * IAM returns policy documents URL-encoded and reformatted: they are decoded and compared as
 * parsed JSON, so a steady state makes no call to IAM beyond the reads.
 */

/** Path the operator's roles live under, so policies can grant iam:PassRole on them alone. */
export const ROLE_PATH = '/downloader-operator/';

/** Condition reasons this module produces. */
export const ROLE_REASONS = {
  ownedByOther: 'RoleOwnedByOther',
} as const;

/** What the spec asks for. Policy documents are JSON text. */
export interface RoleDesired {
  name: string;
  trustPolicy: string;
  inlinePolicyName: string;
  inlinePolicy: string;
  permissionsBoundaryArn?: string;
  description: string;
}

/** What exists in IAM. Policy documents are decoded JSON text. */
export interface RoleObserved {
  name: string;
  arn: string;
  trustPolicy: string;
  /** The inline policy named `inlinePolicyName`, if the role has it. */
  inlinePolicy?: string;
  /** Inline policies of other names: not the operator's, removed on apply. */
  otherInlinePolicies: string[];
  permissionsBoundaryArn?: string;
  description?: string;
  /** UID in the role's downloader.dev/uid tag, if it has one. */
  ownerUid?: string;
  /** When IAM created the role (ISO 8601): users of the role wait for IAM to propagate it. */
  createdAt?: string;
}

function tagList(owner: Owner) {
  return Object.entries(ownerTags(owner)).map(([Key, Value]) => ({ Key, Value }));
}

/** Manages IAM roles; one instance serves every role of every Downloader. */
export class RoleManager implements ResourceManager<RoleDesired, RoleObserved> {
  readonly kind = 'Role';
  private readonly logger: Logger | undefined;

  /**
   * The names of a role's inline policies, per role name and creation time (see Recheck): a
   * policy added beside the operator's own is found and removed within the recheck interval,
   * not on every resync.
   */
  private readonly knownPolicyNames: Recheck<string[]>;
  /**
   * The operator's own inline policy per role name and creation time, as last read or put: an
   * edit by someone else is put right within the recheck interval. IAM allows fewer reads a
   * second than a resync of a thousand Downloaders would make with it read every time.
   */
  private readonly knownPolicies: Recheck<string | undefined>;

  constructor(
    private readonly iam: IAMClient,
    options: { logger?: Logger; recheckIntervalMs?: number } = {},
  ) {
    this.logger = options.logger;
    this.knownPolicyNames = new Recheck(options.recheckIntervalMs ?? DEFAULT_RECHECK_INTERVAL_MS);
    this.knownPolicies = new Recheck(options.recheckIntervalMs ?? DEFAULT_RECHECK_INTERVAL_MS);
  }

  /** Reads the role and its policies; undefined if absent. Throws if another Downloader owns it. */
  async observe(owner: Owner, desired: RoleDesired): Promise<RoleObserved | undefined> {
    let role: Role | undefined;
    try {
      const out = await traced(this.logger, 'GetRole', () =>
        this.iam.send(new GetRoleCommand({ RoleName: desired.name })),
      );
      role = out.Role;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    if (!role?.Arn) return undefined;

    const tags = Object.fromEntries((role.Tags ?? []).map((t) => [t.Key, t.Value]));
    const ownerUid = tags[TAG_KEYS.uid];
    if (ownerUid !== undefined && ownerUid !== owner.uid) {
      const ns = tags[TAG_KEYS.namespace];
      const name = tags[TAG_KEYS.name];
      const other = ns && name ? `Downloader ${ns}/${name}` : 'another Downloader';
      throw new TerminalError(
        ROLE_REASONS.ownedByOther,
        `IAM role ${desired.name} belongs to ${other}; the operator leaves it alone`,
      );
    }

    const created = role.CreateDate?.toISOString() ?? '';
    const names = await this.knownPolicyNames.through(`${desired.name}@${created}`, () =>
      this.inlinePolicyNames(desired.name),
    );
    // Read even when the remembered names lack it: it may have been put since. An absent one is
    // not remembered (undefined), so it is read again next time.
    const inlinePolicy = await this.knownPolicies.through(`${desired.name}@${created}`, () =>
      this.inlinePolicy(desired.name, desired.inlinePolicyName),
    );
    const boundary = role.PermissionsBoundary?.PermissionsBoundaryArn;
    return {
      name: role.RoleName ?? desired.name,
      arn: role.Arn,
      trustPolicy: decodePolicyDocument(role.AssumeRolePolicyDocument ?? ''),
      ...(inlinePolicy !== undefined ? { inlinePolicy } : {}),
      otherInlinePolicies: names.filter((n) => n !== desired.inlinePolicyName),
      ...(boundary ? { permissionsBoundaryArn: boundary } : {}),
      ...(role.Description !== undefined ? { description: role.Description } : {}),
      ...(ownerUid !== undefined ? { ownerUid } : {}),
      ...(role.CreateDate ? { createdAt: role.CreateDate.toISOString() } : {}),
    };
  }

  /**
   * Names of what differs: trustPolicy, inlinePolicy, otherInlinePolicies,
   * permissionsBoundaryArn, description, tags.
   */
  diff(desired: RoleDesired, observed: RoleObserved): string[] {
    const out: string[] = [];
    if (!policiesEqual(desired.trustPolicy, observed.trustPolicy)) out.push('trustPolicy');
    if (
      observed.inlinePolicy === undefined ||
      !policiesEqual(desired.inlinePolicy, observed.inlinePolicy)
    ) {
      out.push('inlinePolicy');
    }
    if (observed.otherInlinePolicies.length > 0) out.push('otherInlinePolicies');
    if ((desired.permissionsBoundaryArn ?? '') !== (observed.permissionsBoundaryArn ?? '')) {
      out.push('permissionsBoundaryArn');
    }
    if ((observed.description ?? '') !== desired.description) out.push('description');
    if (observed.ownerUid === undefined) out.push('tags');
    return out;
  }

  /** Creates the role, or changes what differs. Safe to repeat after a crash at any step. */
  async apply(
    owner: Owner,
    desired: RoleDesired,
    observed: RoleObserved | undefined,
  ): Promise<RoleObserved> {
    const current = observed ?? (await this.create(owner, desired));
    const changes = this.diff(desired, current);
    const name = desired.name;
    if (changes.length > 0) {
      this.knownPolicyNames.forget(`${name}@`);
      this.knownPolicies.forget(`${name}@`);
      this.knownPolicies.forget(`${name}@`);
    }

    if (changes.includes('trustPolicy')) {
      await traced(this.logger, 'UpdateAssumeRolePolicy', () =>
        this.iam.send(
          new UpdateAssumeRolePolicyCommand({
            RoleName: name,
            PolicyDocument: desired.trustPolicy,
          }),
        ),
      );
    }
    if (changes.includes('inlinePolicy')) {
      await traced(this.logger, 'PutRolePolicy', () =>
        this.iam.send(
          new PutRolePolicyCommand({
            RoleName: name,
            PolicyName: desired.inlinePolicyName,
            PolicyDocument: desired.inlinePolicy,
          }),
        ),
      );
    }
    for (const policyName of changes.includes('otherInlinePolicies')
      ? current.otherInlinePolicies
      : []) {
      await this.deleteInlinePolicy(name, policyName);
    }
    if (changes.includes('permissionsBoundaryArn')) await this.setBoundary(desired);
    if (changes.includes('description')) {
      await traced(this.logger, 'UpdateRole', () =>
        this.iam.send(new UpdateRoleCommand({ RoleName: name, Description: desired.description })),
      );
    }
    if (changes.includes('tags')) {
      await traced(this.logger, 'TagRole', () =>
        this.iam.send(new TagRoleCommand({ RoleName: name, Tags: tagList(owner) })),
      );
    }

    return {
      name,
      arn: current.arn,
      trustPolicy: desired.trustPolicy,
      inlinePolicy: desired.inlinePolicy,
      otherInlinePolicies: [],
      ...(desired.permissionsBoundaryArn
        ? { permissionsBoundaryArn: desired.permissionsBoundaryArn }
        : {}),
      description: desired.description,
      ownerUid: owner.uid,
      ...(current.createdAt ? { createdAt: current.createdAt } : {}),
    };
  }

  /**
   * Deletes the role if it carries this Downloader's UID: its inline policies and any managed
   * policy someone attached (IAM refuses to delete a role that has them), then the role.
   */
  async delete(owner: Owner, observed: RoleObserved): Promise<void> {
    if (observed.ownerUid !== owner.uid) return;
    const name = observed.name;
    this.knownPolicyNames.forget(`${name}@`);
    try {
      for (const policyName of await this.inlinePolicyNames(name)) {
        await this.deleteInlinePolicy(name, policyName);
      }
      for (const arn of await this.attachedPolicyArns(name)) {
        await traced(this.logger, 'DetachRolePolicy', () =>
          this.iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: arn })),
        );
      }
      await traced(this.logger, 'DeleteRole', () =>
        this.iam.send(new DeleteRoleCommand({ RoleName: name })),
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  /**
   * Creates the role with its trust policy, boundary and tags, and returns it as observed with
   * no inline policy yet. A role that already exists (an earlier run crashed before recording
   * it) is read instead, with the ownership check of observe.
   */
  private async create(owner: Owner, desired: RoleDesired): Promise<RoleObserved> {
    try {
      const out = await traced(this.logger, 'CreateRole', () =>
        this.iam.send(
          new CreateRoleCommand({
            RoleName: desired.name,
            Path: ROLE_PATH,
            AssumeRolePolicyDocument: desired.trustPolicy,
            Description: desired.description,
            PermissionsBoundary: desired.permissionsBoundaryArn,
            Tags: tagList(owner),
          }),
        ),
      );
      return {
        name: desired.name,
        arn: out.Role?.Arn ?? '',
        trustPolicy: desired.trustPolicy,
        otherInlinePolicies: [],
        ...(desired.permissionsBoundaryArn
          ? { permissionsBoundaryArn: desired.permissionsBoundaryArn }
          : {}),
        description: desired.description,
        ownerUid: owner.uid,
        createdAt: (out.Role?.CreateDate ?? new Date()).toISOString(),
      };
    } catch (err) {
      if (!isConflict(err)) throw err;
      const existing = await this.observe(owner, desired);
      if (!existing) throw err;
      return existing;
    }
  }

  private async setBoundary(desired: RoleDesired): Promise<void> {
    const boundary = desired.permissionsBoundaryArn;
    if (boundary) {
      await traced(this.logger, 'PutRolePermissionsBoundary', () =>
        this.iam.send(
          new PutRolePermissionsBoundaryCommand({
            RoleName: desired.name,
            PermissionsBoundary: boundary,
          }),
        ),
      );
      return;
    }
    try {
      await traced(this.logger, 'DeleteRolePermissionsBoundary', () =>
        this.iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: desired.name })),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async inlinePolicy(roleName: string, policyName: string): Promise<string | undefined> {
    try {
      const out = await traced(this.logger, 'GetRolePolicy', () =>
        this.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })),
      );
      return decodePolicyDocument(out.PolicyDocument ?? '');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async deleteInlinePolicy(roleName: string, policyName: string): Promise<void> {
    try {
      await traced(this.logger, 'DeleteRolePolicy', () =>
        this.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async inlinePolicyNames(roleName: string): Promise<string[]> {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const from = marker;
      const out = await traced(this.logger, 'ListRolePolicies', () =>
        this.iam.send(new ListRolePoliciesCommand({ RoleName: roleName, Marker: from })),
      );
      names.push(...(out.PolicyNames ?? []));
      marker = out.IsTruncated ? out.Marker : undefined;
    } while (marker);
    return names;
  }

  private async attachedPolicyArns(roleName: string): Promise<string[]> {
    const arns: string[] = [];
    let marker: string | undefined;
    do {
      const from = marker;
      const out = await traced(this.logger, 'ListAttachedRolePolicies', () =>
        this.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: from })),
      );
      for (const policy of out.AttachedPolicies ?? []) {
        if (policy.PolicyArn) arns.push(policy.PolicyArn);
      }
      marker = out.IsTruncated ? out.Marker : undefined;
    } while (marker);
    return arns;
  }
}

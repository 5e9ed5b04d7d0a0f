import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  GetRoleCommand,
  ListRolesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { ROLE_PATH, RoleManager, type RoleDesired } from '../../../src/aws/roles.js';
import { resourceName, type Owner } from '../../../src/aws/owner.js';
import { TerminalError } from '../../../src/errors.js';
import { localAws, newOwner, rejection } from './aws-env.js';

const BOUNDARY = 'arn:aws:iam::aws:policy/PowerUserAccess';

function trust(service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  });
}

function allow(...actions: string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }],
  });
}

describe(RoleManager.name, () => {
  const aws = localAws();
  const manager = new RoleManager(aws.iam);
  afterAll(() => aws.destroy());

  const desiredRole = (owner: Owner, overrides: Partial<RoleDesired> = {}): RoleDesired => ({
    name: resourceName(owner, 'sfn', 64, /[^A-Za-z0-9_+=,.@-]/g),
    trustPolicy: trust('states.amazonaws.com'),
    inlinePolicyName: 'downloader-operator',
    inlinePolicy: allow('dynamodb:PutItem'),
    description: `Step Functions role of ${owner.namespace}/${owner.name}`,
    ...overrides,
  });

  async function countRoles(name: string): Promise<number> {
    let count = 0;
    let marker: string | undefined;
    do {
      const page = await aws.iam.send(
        new ListRolesCommand({ PathPrefix: ROLE_PATH, Marker: marker }),
      );
      count += (page.Roles ?? []).filter((r) => r.RoleName === name).length;
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return count;
  }

  it('creates the role with path, tags and inline policy, and finds no difference after', async () => {
    const owner = newOwner();
    const desired = desiredRole(owner);
    expect(await manager.observe(owner, desired)).toBeUndefined();

    const created = await manager.apply(owner, desired, undefined);
    expect(created.arn).toContain(`:role${ROLE_PATH}${desired.name}`);

    const observed = await manager.observe(owner, desired);
    expect(observed).toMatchObject({ ownerUid: owner.uid, otherInlinePolicies: [] });
    expect(observed?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    // IAM returned both documents URL-encoded; observe decoded them.
    expect(JSON.parse(observed!.trustPolicy)).toEqual(JSON.parse(desired.trustPolicy));
    expect(JSON.parse(observed!.inlinePolicy!)).toEqual(JSON.parse(desired.inlinePolicy));
    expect(manager.diff(desired, observed!)).toEqual([]);

    const role = await aws.iam.send(new GetRoleCommand({ RoleName: desired.name }));
    expect(role.Role?.Tags).toEqual(
      expect.arrayContaining([{ Key: 'downloader.dev/uid', Value: owner.uid }]),
    );
  });

  it('converges each change: trust, inline policy, boundary set and removed, description', async () => {
    const owner = newOwner();
    let desired = desiredRole(owner);
    await manager.apply(owner, desired, undefined);

    desired = {
      ...desired,
      trustPolicy: trust('scheduler.amazonaws.com'),
      inlinePolicy: allow('dynamodb:PutItem', 'dynamodb:GetItem'),
      permissionsBoundaryArn: BOUNDARY,
      description: 'changed',
    };
    let observed = await manager.observe(owner, desired);
    expect(manager.diff(desired, observed!)).toEqual([
      'trustPolicy',
      'inlinePolicy',
      'permissionsBoundaryArn',
      'description',
    ]);
    await manager.apply(owner, desired, observed);
    observed = await manager.observe(owner, desired);
    expect(observed?.permissionsBoundaryArn).toBe(BOUNDARY);
    expect(manager.diff(desired, observed!)).toEqual([]);

    const withoutBoundary = { ...desired, permissionsBoundaryArn: undefined };
    expect(manager.diff(withoutBoundary, observed!)).toEqual(['permissionsBoundaryArn']);
    await manager.apply(owner, withoutBoundary, observed);
    observed = await manager.observe(owner, withoutBoundary);
    expect(observed?.permissionsBoundaryArn).toBeUndefined();
    expect(manager.diff(withoutBoundary, observed!)).toEqual([]);
  });

  it('removes an inline policy someone added by hand', async () => {
    const owner = newOwner();
    const desired = desiredRole(owner);
    await manager.apply(owner, desired, undefined);
    await aws.iam.send(
      new PutRolePolicyCommand({
        RoleName: desired.name,
        PolicyName: 'added-by-hand',
        PolicyDocument: allow('s3:*'),
      }),
    );

    let observed = await manager.observe(owner, desired);
    expect(manager.diff(desired, observed!)).toEqual(['otherInlinePolicies']);
    await manager.apply(owner, desired, observed);
    observed = await manager.observe(owner, desired);
    expect(observed?.otherInlinePolicies).toEqual([]);
  });

  it('keeps exactly one role when apply runs again after the observed state was lost', async () => {
    const owner = newOwner();
    const desired = desiredRole(owner);
    const first = await manager.apply(owner, desired, undefined);
    const changed = { ...desired, inlinePolicy: allow('dynamodb:Query') };
    const second = await manager.apply(owner, changed, undefined);

    expect(second.arn).toBe(first.arn);
    expect(await countRoles(desired.name)).toBe(1);
    expect(manager.diff(changed, (await manager.observe(owner, changed))!)).toEqual([]);
  });

  it('refuses a role of our name tagged for another Downloader (RoleOwnedByOther)', async () => {
    const first = newOwner('role-first');
    const second = newOwner('role-second');
    const desired = desiredRole(first);
    await manager.apply(first, desired, undefined);

    const err = await rejection(manager.observe(second, desired));
    expect(err).toBeInstanceOf(TerminalError);
    expect(err).toMatchObject({ reason: 'RoleOwnedByOther' });
    expect((err as Error).message).toContain('aws-modules/role-first');
    expect(await rejection(manager.apply(second, desired, undefined))).toMatchObject({
      reason: 'RoleOwnedByOther',
    });
  });

  it('deletes the role with its policies (attached ones too), and a second delete is harmless', async () => {
    const owner = newOwner();
    const desired = desiredRole(owner);
    const observed = await manager.apply(owner, desired, undefined);
    const policy = await aws.iam.send(
      new CreatePolicyCommand({
        PolicyName: `${desired.name}-by-hand`,
        PolicyDocument: allow('s3:*'),
      }),
    );
    await aws.iam.send(
      new AttachRolePolicyCommand({ RoleName: desired.name, PolicyArn: policy.Policy!.Arn! }),
    );

    await manager.delete(owner, observed);
    expect(await manager.observe(owner, desired)).toBeUndefined();
    await expect(manager.delete(owner, observed)).resolves.toBeUndefined();
  });
});

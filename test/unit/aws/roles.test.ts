import type { IAMClient } from '@aws-sdk/client-iam';
import { RoleManager, type RoleDesired, type RoleObserved } from '../../../src/aws/roles.js';
import { fakeClient } from './fake-client.js';

const trust = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
};
const inline = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: '*' }],
};
const desired: RoleDesired = {
  name: 'dl-eve-players-1234abcd-sfn',
  trustPolicy: JSON.stringify(trust),
  inlinePolicyName: 'downloader-operator',
  inlinePolicy: JSON.stringify(inline),
  description: 'Step Functions role of Downloader eve/players',
};
const observed: RoleObserved = {
  name: desired.name,
  arn: 'arn:aws:iam::123456789012:role/downloader-operator/dl-eve-players-1234abcd-sfn',
  trustPolicy: JSON.stringify(trust, null, 2),
  inlinePolicy: JSON.stringify(inline, null, 1),
  otherInlinePolicies: [],
  description: desired.description,
  ownerUid: 'uid-1',
};

describe(RoleManager.name, () => {
  const manager = new RoleManager(fakeClient({}) as unknown as IAMClient);

  it('finds no difference when IAM only reformatted the documents', () => {
    expect(manager.diff(desired, observed)).toEqual([]);
  });

  it('names each field that differs', () => {
    const changed = {
      ...desired,
      trustPolicy: JSON.stringify({ ...trust, Statement: [] }),
      inlinePolicy: JSON.stringify({ ...inline, Statement: [] }),
      permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/boundary',
      description: 'new',
    };
    const drifted = { ...observed, otherInlinePolicies: ['added-by-hand'], ownerUid: undefined };
    expect(manager.diff(changed, drifted)).toEqual([
      'trustPolicy',
      'inlinePolicy',
      'otherInlinePolicies',
      'permissionsBoundaryArn',
      'description',
      'tags',
    ]);
  });

  it('reports a missing inline policy', () => {
    const without = { ...observed, inlinePolicy: undefined };
    expect(manager.diff(desired, without)).toEqual(['inlinePolicy']);
  });

  it('does not delete a role that carries another UID', async () => {
    const client = fakeClient({});
    await new RoleManager(client as unknown as IAMClient).delete(
      { namespace: 'eve', name: 'players', uid: 'uid-1' },
      { ...observed, ownerUid: 'uid-2' },
    );
    expect(client.calls).toEqual([]);
  });
});

import { ListStateMachinesCommand, ListTagsForResourceCommand } from '@aws-sdk/client-sfn';
import { loadAwsContext } from '../../../src/aws/context.js';
import { resourceName, type Owner } from '../../../src/aws/owner.js';
import { StateMachineManager, type StateMachineDesired } from '../../../src/aws/state-machine.js';
import { localAws, newOwner, rejection } from './aws-env.js';

function definition(result: string): string {
  return JSON.stringify({
    Comment: 'aws-modules test',
    StartAt: 'Done',
    States: { Done: { Type: 'Pass', Result: { value: result }, End: true } },
  });
}

describe(StateMachineManager.name, () => {
  const aws = localAws();
  let manager: StateMachineManager;
  let roleArn: string;
  beforeAll(async () => {
    const context = await loadAwsContext(aws.sts);
    manager = new StateMachineManager(aws.sfn, context);
    roleArn = `arn:aws:iam::${context.accountId}:role/downloader-operator/test-role`;
  });
  afterAll(() => aws.destroy());

  const desiredMachine = (owner: Owner, overrides: Partial<StateMachineDesired> = {}) => ({
    name: resourceName(owner, '', 80),
    definition: definition('one'),
    roleArn,
    type: 'STANDARD' as const,
    ...overrides,
  });

  async function countMachines(name: string): Promise<number> {
    let count = 0;
    let token: string | undefined;
    do {
      const page = await aws.sfn.send(new ListStateMachinesCommand({ nextToken: token }));
      count += (page.stateMachines ?? []).filter((m) => m.name === name).length;
      token = page.nextToken;
    } while (token);
    return count;
  }

  it('creates the state machine with owner tags at the ARN it computes, steady after', async () => {
    const owner = newOwner();
    const desired = desiredMachine(owner);
    expect(await manager.observe(owner, desired)).toBeUndefined();

    const created = await manager.apply(owner, desired, undefined);
    expect(created.arn).toBe(manager.arnOf(desired.name));
    const observed = await manager.observe(owner, desired);
    expect(observed).toMatchObject({ status: 'ACTIVE', type: 'STANDARD', ownerUid: owner.uid });
    expect(manager.diff(desired, observed!)).toEqual([]);

    // The same definition reformatted is no difference.
    const pretty = {
      ...desired,
      definition: JSON.stringify(JSON.parse(desired.definition), null, 4),
    };
    expect(manager.diff(pretty, observed!)).toEqual([]);

    const tags = await aws.sfn.send(new ListTagsForResourceCommand({ resourceArn: created.arn }));
    expect(tags.tags).toEqual(
      expect.arrayContaining([{ key: 'downloader.dev/uid', value: owner.uid }]),
    );
  });

  it('updates definition and role in place, and converges', async () => {
    const owner = newOwner();
    let desired = desiredMachine(owner);
    await manager.apply(owner, desired, undefined);

    desired = { ...desired, definition: definition('two'), roleArn: `${roleArn}-2` };
    let observed = await manager.observe(owner, desired);
    expect(manager.diff(desired, observed!)).toEqual(['definition', 'roleArn']);
    await manager.apply(owner, desired, observed);
    observed = await manager.observe(owner, desired);
    expect(manager.diff(desired, observed!)).toEqual([]);
    expect(JSON.parse(observed!.definition)).toEqual(JSON.parse(definition('two')));
  });

  it('replaces the state machine when the type changes, keeping one of that name', async () => {
    const owner = newOwner();
    const standard = desiredMachine(owner);
    await manager.apply(owner, standard, undefined);

    const express = { ...standard, type: 'EXPRESS' as const };
    let observed = await manager.observe(owner, express);
    expect(manager.diff(express, observed!)).toEqual(['type']);
    await manager.apply(owner, express, observed);

    observed = await manager.observe(owner, express);
    expect(observed).toMatchObject({ type: 'EXPRESS', ownerUid: owner.uid });
    expect(manager.diff(express, observed!)).toEqual([]);
    expect(await countMachines(standard.name)).toBe(1);
  });

  it('converges when apply runs again after the observed state was lost', async () => {
    const owner = newOwner();
    const desired = desiredMachine(owner);
    await manager.apply(owner, desired, undefined);

    // CreateStateMachine with the name of an existing one: Step Functions answers with the
    // existing one (or StateMachineAlreadyExists); apply reads it back and updates it.
    const changed = { ...desired, definition: definition('after-crash'), roleArn: `${roleArn}-3` };
    await manager.apply(owner, changed, undefined);
    await manager.apply(owner, changed, undefined);

    const observed = await manager.observe(owner, changed);
    expect(manager.diff(changed, observed!)).toEqual([]);
    expect(await countMachines(desired.name)).toBe(1);
  });

  it("refuses another Downloader's state machine (StateMachineOwnedByOther)", async () => {
    const first = newOwner('sm-first');
    const second = newOwner('sm-second');
    const desired = desiredMachine(first);
    await manager.apply(first, desired, undefined);

    const err = await rejection(manager.observe(second, desired));
    expect(err).toMatchObject({ reason: 'StateMachineOwnedByOther' });
    expect((err as Error).message).toContain('aws-modules/sm-first');
    expect(await rejection(manager.apply(second, desired, undefined))).toMatchObject({
      reason: 'StateMachineOwnedByOther',
    });
  });

  it('deletes the state machine, and a second delete is harmless', async () => {
    const owner = newOwner();
    const desired = desiredMachine(owner);
    const observed = await manager.apply(owner, desired, undefined);

    await manager.delete(owner, observed);
    expect(await manager.observe(owner, desired)).toBeUndefined();
    await expect(manager.delete(owner, observed)).resolves.toBeUndefined();
  });
});

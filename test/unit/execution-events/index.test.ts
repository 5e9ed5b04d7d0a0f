import { StateMachineIndex } from '../../../src/controller/execution-events.js';
import { names, ownerOf } from '../../../src/controller/desired.js';
import { downloader, LOCATION } from './fixtures.js';

const predicted = (d: ReturnType<typeof downloader>) =>
  `arn:aws:states:eu-west-1:123456789012:stateMachine:${names.stateMachine(ownerOf(d))}`;

describe(StateMachineIndex.name, () => {
  it('finds a Downloader by the ARN its state machine name gives, before the status names it', () => {
    const index = new StateMachineIndex(LOCATION);
    const eve = downloader('eve');
    index.set(eve);
    expect(index.keyOf(predicted(eve))).toBe('ns/eve');
  });

  it('finds a Downloader by the ARN on its status', () => {
    const index = new StateMachineIndex(LOCATION);
    const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:dl-adopted';
    index.set(downloader('eve', { resources: { stateMachineArn: arn } }));
    expect(index.keyOf(arn)).toBe('ns/eve');
  });

  it('follows an update and forgets a deleted Downloader', () => {
    const index = new StateMachineIndex(LOCATION);
    const old = 'arn:aws:states:eu-west-1:123456789012:stateMachine:dl-old';
    const renewed = 'arn:aws:states:eu-west-1:123456789012:stateMachine:dl-new';
    index.set(downloader('eve', { resources: { stateMachineArn: old } }));
    index.set(downloader('eve', { resources: { stateMachineArn: renewed } }));
    expect(index.keyOf(old)).toBeUndefined();
    expect(index.keyOf(renewed)).toBe('ns/eve');

    index.remove(downloader('eve'));
    expect(index.keyOf(renewed)).toBeUndefined();
    expect(index.size).toBe(0);
  });

  it('tells apart a Downloader recreated under the same name (another UID)', () => {
    const index = new StateMachineIndex(LOCATION);
    const before = downloader('eve', {}, 'uid-1');
    const after = downloader('eve', {}, 'uid-2');
    index.set(after);
    expect(index.keyOf(predicted(after))).toBe('ns/eve');
    expect(index.keyOf(predicted(before))).toBeUndefined();
  });

  it('knows nothing of state machines of no Downloader', () => {
    const index = new StateMachineIndex(LOCATION);
    index.set(downloader('eve'));
    expect(
      index.keyOf('arn:aws:states:eu-west-1:123456789012:stateMachine:dl-other'),
    ).toBeUndefined();
  });
});

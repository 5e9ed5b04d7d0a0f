import { CONDITION_TYPES, setCondition } from '../../../src/controller/conditions.js';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T00:05:00.000Z');

describe('setCondition', () => {
  it('keeps lastTransitionTime when only the reason or message changes', () => {
    const first = setCondition(
      [],
      { type: CONDITION_TYPES.table, status: 'False', reason: 'TableCreating', message: 'a' },
      1,
      t0,
    );
    const second = setCondition(
      first,
      { type: CONDITION_TYPES.table, status: 'False', reason: 'AwsThrottled', message: 'b' },
      2,
      t1,
    );
    expect(second).toEqual([
      {
        type: 'TableReady',
        status: 'False',
        reason: 'AwsThrottled',
        message: 'b',
        observedGeneration: 2,
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
  });

  it('moves lastTransitionTime when the status flips, and keeps Ready first', () => {
    const first = setCondition(
      [],
      { type: CONDITION_TYPES.table, status: 'False', reason: 'TableCreating', message: '' },
      1,
      t0,
    );
    const withReady = setCondition(
      first,
      { type: CONDITION_TYPES.ready, status: 'False', reason: 'Pending', message: '' },
      1,
      t0,
    );
    const flipped = setCondition(
      withReady,
      { type: CONDITION_TYPES.table, status: 'True', reason: 'Available', message: '' },
      1,
      t1,
    );
    expect(flipped.map((c) => [c.type, c.lastTransitionTime])).toEqual([
      ['Ready', '2026-01-01T00:00:00Z'],
      ['TableReady', '2026-01-01T00:05:00Z'],
    ]);
  });
});

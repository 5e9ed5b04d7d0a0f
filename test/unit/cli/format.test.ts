import {
  NONE,
  ageOf,
  humanAge,
  oneLine,
  renderTable,
  rfc3339,
  runDuration,
  sparkline,
} from '../../../src/cli/format.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('humanAge', () => {
  it.each([
    [0, '0s'],
    [-900, '0s'],
    [-3 * S, '<invalid>'],
    [59 * S, '59s'],
    [119 * S + 999, '119s'],
    [2 * M, '2m'],
    [2 * M + 5 * S, '2m5s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [3 * H + 5 * M, '3h5m'],
    [8 * H + 5 * M, '8h'],
    [47 * H, '47h'],
    [48 * H, '2d'],
    [50 * H, '2d2h'],
    [8 * D, '8d'],
    [729 * D, '729d'],
    [730 * D, '2y'],
    [800 * D, '2y70d'],
    [8 * 365 * D + 3 * D, '8y'],
  ])('prints %i ms as kubectl prints an age: %s', (ms, text) => {
    expect(humanAge(ms)).toBe(text);
  });
});

describe('ageOf', () => {
  const now = new Date('2026-05-01T12:00:00Z');

  it('is the age of a timestamp at the given clock', () => {
    expect(ageOf('2026-05-01T11:59:15Z', now)).toBe('45s');
    expect(ageOf(new Date('2026-04-30T12:00:00Z'), now)).toBe('24h');
  });

  it('is <none> for a missing or unreadable timestamp', () => {
    expect(ageOf(undefined, now)).toBe(NONE);
    expect(ageOf('yesterday', now)).toBe(NONE);
  });
});

describe('runDuration', () => {
  it.each([
    [-5, '0ms'],
    [0, '0ms'],
    [850, '850ms'],
    [4_230, '4.2s'],
    [9_999, '9.9s'],
    [42_700, '42s'],
    [2 * M + 5 * S, '2m05s'],
    [H + 2 * M + 30 * S, '1h02m'],
    [3 * D + 4 * H, '3d04h'],
  ])('prints %i ms as %s', (ms, text) => {
    expect(runDuration(ms)).toBe(text);
  });
});

describe('sparkline', () => {
  it('draws executions listed newest first from oldest to newest, one character each', () => {
    const newestFirst = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'SUCCEEDED'];
    expect(sparkline(newestFirst)).toBe('█▁▁▁█▄');
  });

  it('marks a status it does not know with ?', () => {
    expect(sparkline(['SOMETHING_NEW', undefined])).toBe('??');
  });

  it('is <none> before the first execution', () => {
    expect(sparkline([])).toBe(NONE);
  });
});

describe('oneLine', () => {
  it('puts a cause on one line and cuts it with an ellipsis', () => {
    expect(oneLine('{\n  "error":   "authorization required"\n}', 100)).toBe(
      '{ "error": "authorization required" }',
    );
    expect(oneLine('abcdefghij', 5)).toBe('abcd…');
    expect(oneLine('✓✓✓✓✓', 5)).toBe('✓✓✓✓✓');
  });
});

describe('rfc3339', () => {
  it('writes UTC to the second, as Kubernetes timestamps are written', () => {
    expect(rfc3339(new Date('2026-05-01T12:00:03.456Z'))).toBe('2026-05-01T12:00:03Z');
  });
});

describe('renderTable', () => {
  it('aligns columns three spaces apart as kubectl get does, with no trailing spaces', () => {
    const lines = renderTable(
      ['NAME', 'READY', 'RECENT'],
      [
        ['eve-player-count', 'True', '██▁█'],
        ['x', 'Unknown', ''],
      ],
    );
    expect(lines).toEqual([
      'NAME               READY     RECENT',
      'eve-player-count   True      ██▁█',
      'x                  Unknown',
    ]);
  });

  it('prints the headers alone when there are no rows', () => {
    expect(renderTable(['A', 'B'], [])).toEqual(['A   B']);
  });
});

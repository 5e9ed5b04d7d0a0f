// The launcher's fixes to moto's ASL interpreter (test/env/aws/moto_patches/
// stepfunctions_semantics.py): StringMatches with the one ASL wildcard, a definite JSONPath
// through an array index giving its value, and $$.Execution.StartTime as an ISO string.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { type Clients, clientsFor, destroyClients, executeOnce } from './fixtures.js';
import { type LocalAws, useLocalAws } from './local-aws.js';

jest.setTimeout(30_000);

let aws: LocalAws;
let clients: Clients;

beforeAll(async () => {
  aws = await useLocalAws();
  clients = clientsFor(aws);
}, 600_000);

afterAll(async () => {
  if (clients) destroyClients(clients);
  await aws?.stop();
});

/** Creates the machine, runs it once with `input`, and returns its status and parsed output. */
async function execute(definition: object, input: object) {
  const { status, parsedOutput } = await executeOnce(clients.sfn, definition, input);
  return { status, output: parsedOutput };
}

/** A Choice on `StringMatches: pattern` over `$.value`, ending in Matched or NotMatched. */
const matcher = (pattern: string) => ({
  StartAt: 'Match',
  States: {
    Match: {
      Type: 'Choice',
      Choices: [{ Variable: '$.value', StringMatches: pattern, Next: 'Matched' }],
      Default: 'NotMatched',
    },
    Matched: { Type: 'Pass', Result: { outcome: 'matched' }, End: true },
    NotMatched: { Type: 'Pass', Result: { outcome: 'not matched' }, End: true },
  },
});

describe('StringMatches', () => {
  it.each([
    ['*?*', '/next?page=2', 'matched'],
    ['*?*', '/next', 'not matched'],
    ['a?c', 'abc', 'not matched'],
    ['a?c', 'a?c', 'matched'],
    ['[ab]*', 'a-text', 'not matched'],
    ['http*', 'https://example.com', 'matched'],
    ['\\*', '*', 'matched'],
  ])('%s against %s: %s (only * is a wildcard)', async (pattern, value, expected) => {
    const result = await execute(matcher(pattern), { value });
    expect(result).toEqual({ status: 'SUCCEEDED', output: { outcome: expected } });
  });
});

describe('JSONPaths through an array index', () => {
  it('give the value for a definite path and a list for an indefinite one', async () => {
    const result = await execute(
      {
        StartAt: 'Read',
        States: {
          Read: {
            Type: 'Pass',
            Parameters: { 'first.$': '$.items[0].id', 'all.$': '$.items[*].id' },
            End: true,
          },
        },
      },
      { items: [{ id: 7 }, { id: 8 }] },
    );
    expect(result).toEqual({ status: 'SUCCEEDED', output: { first: 7, all: [7, 8] } });
  });
});

describe('the context object', () => {
  it('gives $$.Execution.StartTime as an ISO 8601 string with milliseconds', async () => {
    const before = Date.now();
    const result = await execute(
      {
        StartAt: 'Read',
        States: {
          Read: {
            Type: 'Pass',
            Parameters: { 'started.$': '$$.Execution.StartTime' },
            End: true,
          },
        },
      },
      {},
    );
    expect(result.status).toBe('SUCCEEDED');
    const { started } = result.output as { started: string };
    expect(started).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Math.abs(Date.parse(started) - before)).toBeLessThan(60_000);
  });
});

import { parseExecutionEvent } from '../../../src/aws/execution-event.js';
import { CAUSE_MAX_CHARS } from '../../../src/aws/executions.js';
import { eventBody, execution, SM } from './fixtures.js';

describe(parseExecutionEvent.name, () => {
  it('reads a RUNNING event into an execution without stop time', () => {
    const running = execution('e1', 'RUNNING', 0);
    expect(parseExecutionEvent(eventBody(running))).toEqual({
      ok: true,
      event: { id: 'id-e1-RUNNING', stateMachineArn: SM, execution: running },
    });
  });

  it('reads a FAILED event with its error, its cause cut to the status limit, and stop time', () => {
    const failed = execution('e2', 'FAILED', 10, {
      error: 'ApiGateway.401',
      cause: 'x'.repeat(5000),
    });
    const parsed = parseExecutionEvent(eventBody(failed));
    expect(parsed).toMatchObject({
      ok: true,
      event: {
        execution: {
          name: 'e2',
          status: 'FAILED',
          startTime: '2026-01-01T00:00:10.000Z',
          stopTime: '2026-01-01T00:00:12.000Z',
          error: 'ApiGateway.401',
        },
      },
    });
    expect(parsed.ok && parsed.event.execution.cause).toHaveLength(CAUSE_MAX_CHARS);
  });

  it('leaves out null error and cause of a success', () => {
    const parsed = parseExecutionEvent(eventBody(execution('e3', 'SUCCEEDED', 0)));
    expect(parsed.ok && Object.keys(parsed.event.execution).sort()).toEqual(
      ['arn', 'name', 'startTime', 'status', 'stopTime'].sort(),
    );
  });

  it.each([
    ['not JSON', 'not json', 'not JSON'],
    ['another event', JSON.stringify({ source: 'aws.s3', 'detail-type': 'x' }), 'not a Step'],
    [
      'an event without detail',
      JSON.stringify({
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
      }),
      'no detail',
    ],
    [
      'an unknown status',
      eventBody(execution('e4', 'RUNNING', 0)).replace('"RUNNING"', '"EXPLODED"'),
      'status',
    ],
    [
      'a detail without startDate',
      eventBody(execution('e5', 'RUNNING', 0)).replace(/"startDate":\d+/, '"startDate":null'),
      'startDate',
    ],
  ])('refuses %s, saying why', (_what, body, problem) => {
    const parsed = parseExecutionEvent(body);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toContain(problem);
  });
});

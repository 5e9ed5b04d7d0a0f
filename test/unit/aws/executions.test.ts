import type { SFNClient } from '@aws-sdk/client-sfn';
import {
  CAUSE_MAX_CHARS,
  ExecutionReader,
  capText,
  executionArn,
} from '../../../src/aws/executions.js';
import { awsError, fakeClient } from './fake-client.js';

const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:sm';

describe(ExecutionReader.name, () => {
  it('reads error and cause of a failed execution, the cause cut to 1024 characters', async () => {
    const client = fakeClient({
      ListExecutions: () => ({
        executions: [
          {
            name: 'run-1',
            executionArn: executionArn(SM, 'run-1'),
            status: 'FAILED',
            startDate: new Date('2026-01-01T00:00:00Z'),
            stopDate: new Date('2026-01-01T00:00:02Z'),
          },
        ],
      }),
      DescribeExecution: () => ({ error: 'States.TaskFailed', cause: 'x'.repeat(5000) }),
    });
    const latest = await new ExecutionReader(client as unknown as SFNClient).latest(SM);
    expect(latest).toMatchObject({
      name: 'run-1',
      status: 'FAILED',
      startTime: '2026-01-01T00:00:00.000Z',
      stopTime: '2026-01-01T00:00:02.000Z',
      error: 'States.TaskFailed',
    });
    expect(latest?.cause).toHaveLength(CAUSE_MAX_CHARS);
  });

  it('returns undefined for an EXPRESS state machine, whose executions cannot be listed', async () => {
    const client = fakeClient({
      ListExecutions: () => {
        throw awsError('StateMachineTypeNotSupported');
      },
    });
    await expect(new ExecutionReader(client as unknown as SFNClient).latest(SM)).resolves.toBe(
      undefined,
    );
  });

  it('reports an execution that already exists as not started, without failing', async () => {
    const client = fakeClient({
      StartExecution: () => {
        throw awsError('ExecutionAlreadyExists');
      },
    });
    await expect(
      new ExecutionReader(client as unknown as SFNClient).start(SM, 'run-now-1', '{}'),
    ).resolves.toEqual({ executionArn: executionArn(SM, 'run-now-1'), started: false });
  });
});

describe('capText and executionArn', () => {
  it('leaves short text alone and marks a cut', () => {
    expect(capText('short')).toBe('short');
    expect(capText('abcdef', 4)).toBe('abc…');
  });

  it('builds an execution ARN from its state machine ARN', () => {
    expect(executionArn(SM, 'e1')).toBe('arn:aws:states:us-east-1:123456789012:execution:sm:e1');
  });
});

import type { Downloader } from '../../../src/api/downloader.js';
import type { ExecutionSummary } from '../../../src/api/downloader-status.js';

export const LOCATION = { region: 'eu-west-1', accountId: '123456789012', partition: 'aws' };
export const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:dl-ns-eve-0a1b2c3d';

/** An execution of SM, started `startSecond` seconds after 2026-01-01T00:00:00Z. */
export function execution(
  name: string,
  status: string,
  startSecond: number,
  extra: Partial<ExecutionSummary> = {},
): ExecutionSummary {
  const start = Date.UTC(2026, 0, 1, 0, 0, startSecond);
  return {
    name,
    arn: `${SM.replace(':stateMachine:', ':execution:')}:${name}`,
    status,
    startTime: new Date(start).toISOString(),
    ...(status === 'RUNNING' ? {} : { stopTime: new Date(start + 2_000).toISOString() }),
    ...extra,
  };
}

/** The body EventBridge puts in the queue for a status change of `e` (as AWS documents it). */
export function eventBody(e: ExecutionSummary, stateMachineArn = SM): string {
  return JSON.stringify({
    version: '0',
    id: `id-${e.name}-${e.status}`,
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '123456789012',
    time: e.stopTime ?? e.startTime,
    region: 'eu-west-1',
    resources: [e.arn],
    detail: {
      executionArn: e.arn,
      stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: Date.parse(e.startTime),
      stopDate: e.stopTime ? Date.parse(e.stopTime) : null,
      input: '{}',
      output: e.status === 'SUCCEEDED' ? '{}' : null,
      inputDetails: { included: true },
      outputDetails: e.status === 'SUCCEEDED' ? { included: true } : null,
      error: e.error ?? null,
      cause: e.cause ?? null,
    },
  });
}

export function downloader(
  name: string,
  status: Downloader['status'] = {},
  uid = `uid-${name}`,
): Downloader {
  return {
    apiVersion: 'downloader.dev/v1alpha1',
    kind: 'Downloader',
    metadata: { namespace: 'ns', name, uid, generation: 3, resourceVersion: '100' },
    spec: { workflow: { type: 'STANDARD' } } as unknown as Downloader['spec'],
    status,
  };
}

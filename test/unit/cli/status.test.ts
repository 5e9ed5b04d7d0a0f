import { executionArn } from '../../../src/aws/executions.js';
import type { ExecutionRecord } from '../../../src/cli/executions.js';
import { runsCommand } from '../../../src/cli/runs.js';
import { statusCommand } from '../../../src/cli/status.js';
import { FakeDownloaders, FakeExecutions, SM_ARN, fakeDeps, readyDownloader } from './fakes.js';

const NOW = new Date('2026-05-01T12:00:00Z');

function execution(
  stateMachineArn: string,
  name: string,
  status: string,
  start: string,
  seconds?: number,
): ExecutionRecord {
  const startTime = new Date(start);
  return {
    name,
    arn: executionArn(stateMachineArn, name),
    status,
    startTime,
    ...(seconds === undefined ? {} : { stopTime: new Date(startTime.getTime() + seconds * 1000) }),
  };
}

/** eve: runs fine; locked: last run failed; express: EXPRESS; fresh: no state machine yet. */
function world() {
  const eve = readyDownloader('eve', (d) => {
    d.status!.lastExecution = {
      name: 'e-3',
      status: 'SUCCEEDED',
      startTime: '2026-05-01T11:59:00Z',
      stopTime: '2026-05-01T11:59:02Z',
    };
    d.status!.lastSuccessTime = '2026-05-01T11:59:02Z';
  });
  const locked = readyDownloader('locked', (d) => {
    d.status!.conditions!.push({
      type: 'LastRunSucceeded',
      status: 'False',
      reason: 'SourceUnauthorized',
      message: 'Execution e-9 FAILED',
      observedGeneration: 1,
      lastTransitionTime: '2026-05-01T11:30:00Z',
    });
    d.status!.lastExecution = { name: 'e-9', status: 'FAILED', startTime: '2026-05-01T11:30:00Z' };
    d.spec.schedule.suspend = true;
  });
  const express = readyDownloader('express', (d) => (d.spec.workflow.type = 'EXPRESS'));
  const fresh = readyDownloader(
    'fresh',
    (d) => {
      d.status = {
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'TableCreating',
            message: 'Table T is CREATING',
            lastTransitionTime: '2026-05-01T11:59:50Z',
          },
        ],
      };
    },
    'other',
  );
  const downloaders = new FakeDownloaders([locked, eve, express, fresh]);
  const executions = new FakeExecutions();
  const eveArn = eve.status!.resources!.stateMachineArn!;
  executions.byStateMachine.set(eveArn, [
    execution(eveArn, 'e-4', 'RUNNING', '2026-05-01T11:59:58Z'),
    execution(eveArn, 'e-3', 'SUCCEEDED', '2026-05-01T11:59:00Z', 2),
    execution(eveArn, 'e-2', 'FAILED', '2026-05-01T11:58:00Z', 31),
    execution(eveArn, 'e-1', 'SUCCEEDED', '2026-05-01T11:57:00Z', 1.5),
  ]);
  const lockedArn = locked.status!.resources!.stateMachineArn!;
  executions.byStateMachine.set(lockedArn, [
    { ...execution(lockedArn, 'e-9', 'FAILED', '2026-05-01T11:30:00Z', 0.25) },
  ]);
  return { downloaders, executions };
}

describe('kubectl downloader status', () => {
  it('prints one row per Downloader of the namespace, with ages and a sparkline of its runs', async () => {
    const { downloaders, executions } = world();
    const { deps, out, err } = fakeDeps(downloaders, executions, NOW);

    expect(await statusCommand(deps, { allNamespaces: false, limit: 20 })).toBe(0);

    expect(out).toEqual([
      'NAME      READY   REASON       SCHEDULE                     LAST RUN   LAST STATUS                   LAST SUCCESS   RECENT',
      'eve       True    Reconciled   rate(1 minute)               60s        SUCCEEDED                     58s            █▁█▄',
      'express   True    Reconciled   rate(1 minute)               <none>     <none>                        <none>         -',
      'locked    True    Reconciled   rate(1 minute) (suspended)   30m        FAILED (SourceUnauthorized)   <none>         ▁',
    ]);
    expect(err).toEqual([]);
  });

  it('adds the NAMESPACE column with -A, like kubectl get, and shows <none> before the state machine exists', async () => {
    const { downloaders, executions } = world();
    const { deps, out } = fakeDeps(downloaders, executions, NOW);

    await statusCommand(deps, { allNamespaces: true, limit: 2 });

    expect(out[0]?.startsWith('NAMESPACE   NAME      READY ')).toBe(true);
    expect(out[1]?.startsWith('eve         eve       True ')).toBe(true);
    expect(out[1]?.endsWith(' █▄')).toBe(true);
    expect(out[4]).toBe(
      'other       fresh     False   TableCreating   rate(1 minute)               <none>     <none>' +
        '                        <none>         <none>',
    );
  });

  it('shows ? and warns when Step Functions cannot be read, and still prints the rest', async () => {
    const { downloaders, executions } = world();
    executions.failWith = Object.assign(new Error('User is not authorized'), {
      name: 'AccessDeniedException',
    });
    const { deps, out, err } = fakeDeps(downloaders, executions, NOW);

    expect(await statusCommand(deps, { namespace: 'eve', allNamespaces: false, limit: 20 })).toBe(
      0,
    );

    expect(out[1]).toMatch(/^eve .* SUCCEEDED .* \?$/);
    expect(err).toEqual([
      'Warning: cannot list the executions of eve/eve: AccessDeniedException: User is not authorized',
      'Warning: cannot list the executions of eve/locked: AccessDeniedException: User is not authorized',
    ]);
  });

  it('says so when the namespace has no Downloaders', async () => {
    const { deps, out, err } = fakeDeps(new FakeDownloaders(), new FakeExecutions(), NOW);

    expect(await statusCommand(deps, { namespace: 'empty', allNamespaces: false, limit: 20 })).toBe(
      0,
    );
    expect(out).toEqual([]);
    expect(err).toEqual(['No Downloaders found in empty namespace.']);
  });
});

describe('kubectl downloader runs', () => {
  it('lists the runs newest first with start, duration, status, and the error and cause of failures', async () => {
    const { downloaders, executions } = world();
    const eveArn = `${SM_ARN}-eve`;
    const listed = executions.byStateMachine.get(eveArn)!;
    // ListExecutions has no error or cause: DescribeExecution of the failed one adds them.
    const failed = listed[2]!;
    executions.describe = async (arn) =>
      arn === failed.arn
        ? {
            ...failed,
            error: 'ApiGateway.503',
            cause:
              '{\n  "message": "Service Unavailable: the upstream answered 503 three times"\n}',
          }
        : undefined;
    const { deps, out } = fakeDeps(downloaders, executions, NOW);

    expect(await runsCommand(deps, { name: 'eve', limit: 20 })).toBe(0);

    expect(out).toEqual([
      'NAME   STARTED                DURATION   STATUS      ERROR            CAUSE',
      'e-4    2026-05-01T11:59:58Z   2.0s       RUNNING',
      'e-3    2026-05-01T11:59:00Z   2.0s       SUCCEEDED',
      'e-2    2026-05-01T11:58:00Z   31s        FAILED      ApiGateway.503   { "message": "Service Unavailable: the upstream answered 50…',
      'e-1    2026-05-01T11:57:00Z   1.5s       SUCCEEDED',
    ]);
  });

  it('explains why there is nothing to list: not found, EXPRESS, no state machine yet', async () => {
    const { downloaders, executions } = world();
    const { deps, err } = fakeDeps(downloaders, executions, NOW);

    expect(await runsCommand(deps, { name: 'nope', limit: 20 })).toBe(1);
    expect(await runsCommand(deps, { name: 'express', limit: 20 })).toBe(1);
    expect(await runsCommand(deps, { name: 'fresh', namespace: 'other', limit: 20 })).toBe(1);

    expect(err).toEqual([
      'Error: downloader "nope" not found in namespace "eve"',
      'Error: express runs an EXPRESS workflow, whose executions Step Functions does not list; ' +
        "read them in the state machine's CloudWatch Logs",
      'Error: fresh has no state machine yet (Ready False: TableCreating: Table T is CREATING)',
    ]);
  });
});

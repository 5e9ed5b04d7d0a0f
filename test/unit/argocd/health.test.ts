import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Downloader } from '../../../src/api/downloader.js';
import type { Condition } from '../../../src/api/downloader-status.js';
import { PROXY_REASONS } from '../../../src/aws/proxy.js';
import { ROLE_REASONS } from '../../../src/aws/roles.js';
import { SCHEDULE_REASONS } from '../../../src/aws/schedule.js';
import { STATE_MACHINE_REASONS } from '../../../src/aws/state-machine.js';
import { TABLE_REASONS } from '../../../src/aws/table.js';
import { CONDITION_TYPES, REASONS } from '../../../src/controller/conditions.js';
import { EXECUTION_FAILURE_REASONS } from '../../../src/workflow/execution-errors.js';
import { luaLiteral, runHealthScript } from './argo-lua.js';

const SCRIPT = readFileSync('argocd/health-downloader.lua', 'utf8');
const HEALTH_KEY = 'resource.customizations.health.downloader.dev_Downloader';
const GENERATION = 3;
const READY_MESSAGE = 'All AWS resources match the spec';

function condition(
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  observedGeneration = GENERATION,
): Condition {
  return { type, status, reason, message, observedGeneration, lastTransitionTime: 'x' };
}

/** A Downloader the operator has reconciled, whose last run succeeded; `edit` changes it. */
function downloader(edit: (d: Downloader) => void = () => undefined): Downloader {
  const d: Downloader = {
    apiVersion: 'downloader.dev/v1alpha1',
    kind: 'Downloader',
    metadata: { name: 'eve', namespace: 'eve', generation: GENERATION, uid: 'u-1' },
    spec: {
      source: { url: 'https://esi.evetech.net', path: '/v2/status', method: 'GET' },
      table: {
        name: 'PlayerCountTable',
        partitionKey: { name: 'pk', type: 'S' },
        deletionPolicy: 'Retain',
      },
      item: { pk: { S: '$.Headers.Date[0]' } },
      schedule: { expression: 'rate(1 minute)', timezone: 'UTC', suspend: false },
      workflow: { type: 'STANDARD' },
    } as Downloader['spec'],
    status: {
      observedGeneration: GENERATION,
      conditions: [
        condition('Ready', 'True', REASONS.reconciled, READY_MESSAGE),
        condition('ProxyReady', 'True', REASONS.available, 'Proxy abc forwards'),
        condition('TableReady', 'True', REASONS.available, 'Table PlayerCountTable is ACTIVE'),
        condition('StateMachineReady', 'True', REASONS.available, 'State machine (STANDARD)'),
        condition('ScheduleReady', 'True', REASONS.available, 'Schedule runs rate(1 minute)'),
        condition('LastRunSucceeded', 'True', 'Succeeded', 'Execution e-1 succeeded'),
      ],
      lastExecution: { name: 'e-1', status: 'SUCCEEDED', startTime: '2026-01-01T00:00:00Z' },
      lastSuccessTime: '2026-01-01T00:00:03Z',
    },
  };
  edit(d);
  return d;
}

/** Replaces condition `type` (adding it if missing). */
function setCondition(d: Downloader, c: Condition): void {
  const conditions = (d.status?.conditions ?? []).filter((x) => x.type !== c.type);
  d.status = { ...d.status, conditions: [...conditions, c] };
}

/** Ready False for `reason`, the part condition failed and the later parts waiting on it. */
function failing(part: string, reason: string, message: string) {
  return downloader((d) => {
    setCondition(d, condition('Ready', 'False', reason, message));
    setCondition(d, condition(part, 'False', reason, message));
  });
}

function lastRunFailed(reason: string, message: string) {
  return downloader((d) => {
    setCondition(d, condition(CONDITION_TYPES.lastRun, 'False', reason, message));
    d.status!.lastExecution = {
      name: 'e-2',
      status: 'FAILED',
      startTime: '2026-01-01T00:01:00Z',
      stopTime: '2026-01-01T00:01:30Z',
      error: 'ApiGateway.503',
      cause: 'Service Unavailable',
    };
  });
}

const health = (obj: unknown) => runHealthScript(SCRIPT, obj);

describe('the Argo CD health check of Downloaders', () => {
  it('is Healthy when Ready is True for the current generation and the last run succeeded', async () => {
    expect(await health(downloader())).toEqual({
      status: 'Healthy',
      message: `Reconciled: ${READY_MESSAGE}`,
    });
  });

  it('is Healthy before the first run, when there is no LastRunSucceeded yet', async () => {
    const d = downloader((d) => {
      d.status!.conditions = d.status!.conditions!.filter((c) => c.type !== 'LastRunSucceeded');
      delete d.status!.lastExecution;
      delete d.status!.lastSuccessTime;
    });
    expect((await health(d)).status).toBe('Healthy');
  });

  it('stays Healthy while a run is RUNNING after a success', async () => {
    const d = downloader((d) => {
      d.status!.lastExecution = { name: 'e-2', status: 'RUNNING', startTime: '2026-01-01T00:01Z' };
    });
    expect((await health(d)).status).toBe('Healthy');
  });

  describe('while the operator has not caught up', () => {
    it('is Progressing when the Downloader has no status yet', async () => {
      const d = downloader((d) => delete d.status);
      expect(await health(d)).toEqual({
        status: 'Progressing',
        message: 'Waiting for the operator to reconcile the Downloader',
      });
    });

    it('is Progressing when the status has no conditions yet', async () => {
      const d = downloader((d) => (d.status = { observedGeneration: 1 }));
      expect((await health(d)).status).toBe('Progressing');
    });

    it('is Progressing when the conditions list is empty', async () => {
      const d = downloader((d) => (d.status!.conditions = []));
      expect((await health(d)).status).toBe('Progressing');
    });

    it('is Progressing, not Healthy, when the spec changed and status.observedGeneration lags', async () => {
      const d = downloader((d) => (d.metadata.generation = GENERATION + 1));
      expect(await health(d)).toEqual({
        status: 'Progressing',
        message: `Waiting for the operator to reconcile generation ${GENERATION + 1}`,
      });
    });

    it('is Progressing when Ready was set for an older generation than status.observedGeneration', async () => {
      const d = downloader((d) =>
        setCondition(d, condition('Ready', 'True', 'Reconciled', READY_MESSAGE, GENERATION - 1)),
      );
      expect((await health(d)).status).toBe('Progressing');
    });

    it('is Progressing while Ready is Unknown (Pending), with the reason and message', async () => {
      const d = downloader((d) =>
        setCondition(d, condition('Ready', 'Unknown', REASONS.pending, 'Not reconciled yet')),
      );
      expect(await health(d)).toEqual({
        status: 'Progressing',
        message: 'Pending: Not reconciled yet',
      });
    });

    it.each([
      ['TableReady', TABLE_REASONS.creating, 'Table PlayerCountTable is CREATING'],
      ['TableReady', TABLE_REASONS.deleting, 'Table PlayerCountTable is DELETING'],
      ['StateMachineReady', STATE_MACHINE_REASONS.rolePropagating, 'Role not assumable yet'],
      ['StateMachineReady', STATE_MACHINE_REASONS.deleting, 'State machine is DELETING'],
      ['ScheduleReady', SCHEDULE_REASONS.rolePropagating, 'Role not assumable yet'],
      ['ProxyReady', REASONS.awsThrottled, 'AWS throttled the request; retrying'],
      ['TableReady', REASONS.waitingForDependency, 'Waiting for ProxyReady'],
    ])('is Progressing while %s waits: Ready False %s', async (part, reason, message) => {
      expect(await health(failing(part, reason, message))).toEqual({
        status: 'Progressing',
        message: `${reason}: ${message}`,
      });
    });
  });

  describe('when someone has to fix something', () => {
    it.each([
      ['ProxyReady', REASONS.secretNotFound, 'Secret esi-token not found'],
      ['ProxyReady', REASONS.secretKeyNotFound, 'Secret esi-token has no key token'],
      ['ProxyReady', PROXY_REASONS.secretValueInvalid, 'The value is not a valid header'],
      ['TableReady', TABLE_REASONS.keyMismatch, 'Table has partition key id, not pk'],
      ['TableReady', TABLE_REASONS.ownedByOther, 'Table belongs to another Downloader'],
      ['TableReady', TABLE_REASONS.notOwned, 'deletionPolicy Delete on a table not created'],
      ['StateMachineReady', ROLE_REASONS.ownedByOther, 'Role belongs to another Downloader'],
      ['StateMachineReady', STATE_MACHINE_REASONS.ownedByOther, 'Belongs to another'],
      ['ScheduleReady', REASONS.awsAccessDenied, 'AWS denied the operator'],
      ['TableReady', REASONS.awsError, 'InternalServerError: boom'],
    ])('is Degraded when %s fails with %s', async (part, reason, message) => {
      expect(await health(failing(part, reason, message))).toEqual({
        status: 'Degraded',
        message: `${reason}: ${message}`,
      });
    });

    it('is Degraded for a Ready False reason it has never heard of', async () => {
      const d = failing('ProxyReady', 'SomethingNew', 'A reason added in a later release');
      expect((await health(d)).status).toBe('Degraded');
    });

    it('is Degraded when the last run failed, naming the reason: the pipeline delivers no data', async () => {
      const d = lastRunFailed(
        EXECUTION_FAILURE_REASONS.sourceUnauthorized,
        'Execution e-2 FAILED: the source answered 401',
      );
      expect(await health(d)).toEqual({
        status: 'Degraded',
        message:
          'Last run failed: SourceUnauthorized: Execution e-2 FAILED: the source answered 401',
      });
    });

    it.each([
      EXECUTION_FAILURE_REASONS.sourceServerError,
      EXECUTION_FAILURE_REASONS.sourceThrottled,
      EXECUTION_FAILURE_REASONS.sourceUnreachable,
      EXECUTION_FAILURE_REASONS.timedOut,
    ])(
      'is Degraded when the last run failed with %s too, transient as it may be: the run already retried',
      async (reason) => {
        expect((await health(lastRunFailed(reason, 'Execution e-2 FAILED'))).status).toBe(
          'Degraded',
        );
      },
    );

    it('reports a failing pipeline before a failed last run', async () => {
      const d = lastRunFailed('SourceNotFound', 'Execution e-2 FAILED');
      setCondition(d, condition('Ready', 'False', REASONS.secretNotFound, 'Secret x not found'));
      expect(await health(d)).toEqual({
        status: 'Degraded',
        message: 'SecretNotFound: Secret x not found',
      });
    });
  });

  describe('when suspended or deleted', () => {
    it('is Suspended when the schedule is suspended, even after a failed run', async () => {
      const d = lastRunFailed('SourceNotFound', 'Execution e-2 FAILED');
      d.spec.schedule.suspend = true;
      expect(await health(d)).toEqual({
        status: 'Suspended',
        message: `Schedule suspended: Reconciled: ${READY_MESSAGE}`,
      });
    });

    it('is Degraded, not Suspended, when a suspended Downloader cannot be reconciled', async () => {
      const d = failing('TableReady', TABLE_REASONS.keyMismatch, 'Other keys');
      d.spec.schedule.suspend = true;
      expect((await health(d)).status).toBe('Degraded');
    });

    it('is Progressing while being deleted, whatever the conditions say', async () => {
      const d = failing('TableReady', TABLE_REASONS.keyMismatch, 'Other keys');
      d.metadata.deletionTimestamp = new Date('2026-01-01T00:00:00Z');
      expect(await health(d)).toEqual({
        status: 'Progressing',
        message: "Deleting: the operator is removing the pipeline's AWS resources",
      });
    });

    it('is Progressing while a failing cleanup is retried, with its message', async () => {
      const d = downloader((d) => {
        d.metadata.deletionTimestamp = new Date('2026-01-01T00:00:00Z');
        setCondition(d, condition('Ready', 'False', REASONS.deleting, 'Cleanup failed: Throttled'));
      });
      expect(await health(d)).toEqual({
        status: 'Progressing',
        message:
          "Deleting: the operator is removing the pipeline's AWS resources " +
          '(Cleanup failed: Throttled)',
      });
    });
  });
});

describe('the Argo CD sandbox the tests run the check in', () => {
  it('has no string library, as Argo CD opens none for custom checks', async () => {
    await expect(runHealthScript('return { status = ("x"):upper() }', {})).rejects.toThrow();
    await expect(runHealthScript('return { status = string.upper("x") }', {})).rejects.toThrow();
  });

  it('turns a status Argo CD does not know into Unknown', async () => {
    expect(await runHealthScript('return { status = "Fine" }', {})).toEqual({
      status: 'Unknown',
      message: 'Lua returned an invalid health status',
    });
  });

  it('hands the object over as tables: arrays from 1, strings kept byte for byte', async () => {
    const obj = { a: [{ b: 'x"\\\n✓' }], n: 3, t: true, z: null };
    const script = 'return { status = "Healthy", message = obj.a[1].b .. tostring(obj.n) }';
    expect(await runHealthScript(script, obj)).toEqual({ status: 'Healthy', message: 'x"\\\n✓3' });
    expect(luaLiteral(obj)).toBe('{["a"] = {{["b"] = "x\\"\\\\\\010✓"}}, ["n"] = 3, ["t"] = true}');
  });
});

describe('argocd/argocd-cm-patch.yaml', () => {
  const patch = parse(readFileSync('argocd/argocd-cm-patch.yaml', 'utf8')) as {
    kind: string;
    metadata: { name: string };
    data: Record<string, string>;
  };

  it('patches the argocd-cm ConfigMap with exactly the health check, under the key Argo CD reads', () => {
    expect(patch.kind).toBe('ConfigMap');
    expect(patch.metadata.name).toBe('argocd-cm');
    expect(Object.keys(patch.data)).toEqual([HEALTH_KEY]);
    // On failure: node argocd/gen-cm-patch.mjs
    expect(patch.data[HEALTH_KEY]).toBe(SCRIPT);
  });
});

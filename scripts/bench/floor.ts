import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Downloader } from '../../src/api/downloader.js';
import type { DownloaderStatus } from '../../src/api/downloader-status.js';
import { createAwsClients } from '../../src/aws/clients.js';
import { loadAwsContext } from '../../src/aws/context.js';
import { ConnectionManager } from '../../src/aws/connection.js';
import { ExecutionReader } from '../../src/aws/executions.js';
import { ProxyManager } from '../../src/aws/proxy.js';
import { RoleManager } from '../../src/aws/roles.js';
import { ScheduleManager } from '../../src/aws/schedule.js';
import { StateMachineManager } from '../../src/aws/state-machine.js';
import { TableManager } from '../../src/aws/table.js';
import { loadConfig } from '../../src/config.js';
import { DownloaderReconciler } from '../../src/controller/reconciler.js';
import type { DownloaderClient } from '../../src/kube/downloader-client.js';
import { OperatorMetrics } from '../../src/metrics.js';
import { pool } from './kube.js';
import { sumBy } from './prom.js';

/** What one floor run measured. */
export interface FloorResult {
  concurrency: number;
  seconds: number;
  /** AWS calls by `service:operation`, every outcome. */
  calls: Map<string, number>;
}

/**
 * The floor: the same AWS calls the operator makes for `downloaders`, made directly with the
 * SDK and no Kubernetes. It runs the operator's own reconciler with an in-memory stand-in for
 * the API server (finalizers and status kept in a map, Events dropped), so the calls are the
 * operator's by construction; the report checks that their counts match. `concurrency` 1 is
 * one Downloader after another; more is that many at once, as the operator's workers run.
 */
export async function runFloor(
  downloaders: Downloader[],
  concurrency: number,
  awsEnv: Record<string, string>,
  namespace: string,
): Promise<FloorResult> {
  const metrics = new OperatorMetrics();
  // The SDK's default chain reads the local AWS's credentials from the environment.
  process.env.AWS_ACCESS_KEY_ID = awsEnv.AWS_ACCESS_KEY_ID ?? 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = awsEnv.AWS_SECRET_ACCESS_KEY ?? 'testing';
  const clients = createAwsClients({
    endpoint: awsEnv.AWS_ENDPOINT_URL,
    region: awsEnv.AWS_REGION ?? 'us-east-1',
  });
  for (const [client, service] of [
    [clients.apiGateway, 'apigateway'],
    [clients.dynamodb, 'dynamodb'],
    [clients.iam, 'iam'],
    [clients.scheduler, 'scheduler'],
    [clients.sfn, 'states'],
  ] as const) {
    metrics.instrument(client, service);
  }
  const config = loadConfig(
    [
      '--apigw-invoke-endpoint-template',
      awsEnv.APIGW_INVOKE_ENDPOINT_TEMPLATE ?? '{restApiId}.execute-api.{region}.amazonaws.com',
      '--aws-rate-limits',
      'off',
      '--resync-interval',
      '3600',
      '--execution-poll-interval',
      '3600',
    ],
    {},
  );
  const location = await loadAwsContext(clients.sts, awsEnv.AWS_REGION ?? 'us-east-1');
  const logger = pino({ level: 'silent' });

  const objects = new Map<string, Downloader>();
  for (const d of downloaders) {
    const object = structuredClone(d);
    object.metadata = { ...object.metadata, namespace, uid: randomUUID(), generation: 1 };
    objects.set(object.metadata.name ?? '', object);
  }
  const memory = {
    async setFinalizers(d: Downloader, finalizers: string[]) {
      const object = objects.get(d.metadata.name ?? '');
      if (object) object.metadata = { ...object.metadata, finalizers };
      return object ?? d;
    },
    async patchStatus(_namespace: string, name: string, status: DownloaderStatus) {
      const object = objects.get(name);
      if (object) object.status = structuredClone(status);
      return object;
    },
  };
  const reconciler = new DownloaderReconciler({
    config,
    location,
    aws: {
      proxy: new ProxyManager(clients.apiGateway, { logger }),
      table: new TableManager(clients.dynamodb, { logger }),
      roles: new RoleManager(clients.iam, { logger }),
      stateMachine: new StateMachineManager(clients.sfn, location, { logger }),
      schedule: new ScheduleManager(clients.scheduler, { logger }),
      executions: new ExecutionReader(clients.sfn),
      connection: new ConnectionManager(clients.eventBridge, { logger: logger }),
    },
    downloaders: memory as unknown as DownloaderClient,
    secrets: { get: () => undefined },
    events: { record: () => undefined },
    now: () => new Date(),
  });

  const start = performance.now();
  await pool([...objects.keys()], concurrency, async (name) => {
    for (let attempt = 0; ; attempt++) {
      const object = objects.get(name);
      if (!object) return;
      const result = await reconciler.reconcile(structuredClone(object), logger);
      const ready = objects.get(name)?.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status === 'True') return;
      if (attempt >= 20) throw new Error(`floor: ${name} not Ready after ${attempt} reconciles`);
      const delayMs = result.kind === 'done' ? Math.min(result.requeueAfterMs, 2_000) : 200;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  });
  const seconds = (performance.now() - start) / 1000;

  const samples = (await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
    m.name === 'downloader_aws_calls_total'
      ? m.values.map((v) => ({
          name: m.name,
          labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])),
          value: v.value,
        }))
      : [],
  );
  clients.destroy();
  return {
    concurrency,
    seconds,
    calls: sumBy(samples, 'downloader_aws_calls_total', ['service', 'operation']),
  };
}

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { createAwsClients } from './aws/clients.js';
import { loadAwsContext } from './aws/context.js';
import { AwsPacer } from './aws/pacing.js';
import { ExecutionEventQueue, ExecutionEventsInfrastructure } from './aws/execution-events.js';
import { ConnectionManager } from './aws/connection.js';
import { ExecutionReader } from './aws/executions.js';
import { ProxyManager } from './aws/proxy.js';
import { RoleManager } from './aws/roles.js';
import { ScheduleManager } from './aws/schedule.js';
import { StateMachineManager } from './aws/state-machine.js';
import { TableManager } from './aws/table.js';
import { ConfigError, loadConfig, type OperatorConfig } from './config.js';
import { Controller } from './controller/controller.js';
import { loadPrices } from './controller/cost.js';
import {
  ExecutionEventConsumer,
  executionEventMetrics,
  KubeExecutionStatusWriter,
  shareDownloaderCache,
  StateMachineIndex,
} from './controller/execution-events.js';
import { ExecutionLedger } from './controller/execution-status.js';
import { LeaderElector } from './controller/leader.js';
import { DownloaderReconciler } from './controller/reconciler.js';
import { ProxyProvisioner } from './controller/shared-proxy.js';
import { ReconcileSlots } from './controller/slots.js';
import { createKubeClients } from './kube/clients.js';
import { DownloaderClient } from './kube/downloader-client.js';
import { KubeEventRecorder } from './kube/events.js';
import { KubeLeaseStore } from './kube/lease-store.js';
import { createLogger } from './log.js';
import { OperatorMetrics } from './metrics.js';
import { startServer } from './server.js';

/** How long a SIGTERM waits for in-flight reconciles before leaving them. */
const SHUTDOWN_GRACE_MS = 20_000;

function readConfig(): OperatorConfig {
  try {
    return loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError || (err instanceof Error && 'code' in err)) {
      console.error(`downloader-operator: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * Starts the operator: configuration, clients, the control loop, leader election and the probe
 * server. SIGTERM or SIGINT stops it cleanly: no new reconciles, in-flight ones get a grace
 * period, the lease is handed back. Losing the lease exits at once, so a replica that can no
 * longer prove leadership never reconciles beside the new leader.
 */
async function main(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  const metrics = new OperatorMetrics();
  const kube = createKubeClients();
  const clients = createAwsClients();
  metrics.instrument(clients.apiGateway, 'apigateway');
  metrics.instrument(clients.dynamodb, 'dynamodb');
  metrics.instrument(clients.iam, 'iam');
  metrics.instrument(clients.scheduler, 'scheduler');
  metrics.instrument(clients.sfn, 'states');
  metrics.instrument(clients.sts, 'sts');
  metrics.instrument(clients.sqs, 'sqs');
  metrics.instrument(clients.eventBridge, 'events');
  // Reconciles waiting for a quota token or a shared proxy lend their slot (see ReconcileSlots).
  const slots = new ReconcileSlots(config.concurrency);
  const whileWaiting = <T>(wait: () => Promise<T>) => slots.whileWaiting(wait);
  const pacer = new AwsPacer(config.awsRateLimits, {
    whileWaiting,
    onWait: (service, operation, ms) =>
      metrics.awsPacingWait.observe({ service, operation }, ms / 1000),
  });
  pacer.instrument(clients.apiGateway, 'apigateway');
  pacer.instrument(clients.dynamodb, 'dynamodb');
  pacer.instrument(clients.iam, 'iam');
  pacer.instrument(clients.scheduler, 'scheduler');
  pacer.instrument(clients.sfn, 'states');
  pacer.instrument(clients.eventBridge, 'events');
  const region = await clients.sfn.config.region();
  const context = await loadAwsContext(clients.sts, region, {
    onRetry: (err, delayMs) =>
      log.warn({ err, retryInMs: delayMs }, 'could not ask STS who the operator is; retrying'),
  });
  log.info(
    { region: context.region, accountId: context.accountId, namespaces: config.namespaces },
    'starting',
  );

  const { recheckIntervalMs } = config;
  const secretCache: { controller?: Controller } = {};
  const proxyManager = new ProxyManager(clients.apiGateway, { logger: log });
  const proxies = new ProxyProvisioner({
    proxy: proxyManager,
    config,
    downloaders: (namespace) => secretCache.controller?.listDownloaders(namespace) ?? [],
    log: log.child({ subsystem: 'shared-proxies' }),
    whileWaiting,
  });
  const events = new KubeEventRecorder(kube, log);
  const executionLedger = new ExecutionLedger();
  const executionEvents: { consumer?: ExecutionEventConsumer } = {};
  const reconciler = new DownloaderReconciler({
    config,
    location: context,
    aws: {
      proxy: proxyManager,
      table: new TableManager(clients.dynamodb, { logger: log, recheckIntervalMs }),
      roles: new RoleManager(clients.iam, { logger: log, recheckIntervalMs }),
      stateMachine: new StateMachineManager(clients.sfn, context, {
        logger: log,
        recheckIntervalMs,
      }),
      schedule: new ScheduleManager(clients.scheduler, { logger: log }),
      executions: new ExecutionReader(clients.sfn),
      connection: new ConnectionManager(clients.eventBridge, { logger: log }),
    },
    downloaders: new DownloaderClient(kube),
    secrets: { get: (namespace, name) => secretCache.controller?.get(namespace, name) },
    events,
    now: () => new Date(),
    prices: loadPrices(config.pricesFile),
    onExecutionSeen: (status) => metrics.executions.inc({ status }),
    executionEvents: { active: () => executionEvents.consumer?.active() ?? false },
    executionLedger,
    proxies,
  });
  const controller = new Controller(kube, config, reconciler, log, metrics, undefined, slots);
  secretCache.controller = controller;
  if (config.executionEvents) {
    const index = new StateMachineIndex(context);
    executionEvents.consumer = new ExecutionEventConsumer({
      infrastructure: new ExecutionEventsInfrastructure(
        clients.sqs,
        clients.eventBridge,
        context,
        config.executionEventsQueue,
        { logger: log },
      ),
      openQueue: (queueUrl) => new ExecutionEventQueue(clients.sqs, queueUrl, { logger: log }),
      index,
      // Before the caches sync, so that the index hears the initial list.
      cache: shareDownloaderCache(controller.downloaderInformers(), index),
      writer: new KubeExecutionStatusWriter(kube),
      ledger: executionLedger,
      events,
      secrets: controller,
      log: log.child({ subsystem: 'execution-events' }),
      now: () => new Date(),
      metrics: executionEventMetrics(metrics.registry),
      onExecutionSeen: (status) => metrics.executions.inc({ status }),
      ensureIntervalMs: config.resyncIntervalMs,
    });
  }
  const startReconciling = async () => {
    // Events first: the first reconciles then know whether to poll executions.
    await executionEvents.consumer?.start();
    controller.startWorkers();
  };
  metrics.queueDepthSource = () => controller.queue.stats().depth;
  metrics.reconcilesSource = () => ({ working: slots.working, waiting: slots.waiting });

  const elector = config.leaderElect
    ? new LeaderElector(
        new KubeLeaseStore(kube, config.leaseNamespace, config.leaseName),
        config.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`,
        config,
        log,
      )
    : undefined;

  const server = config.metricsAddress
    ? await startServer(
        config.metricsAddress,
        {
          healthy: () => true,
          ready: () => controller.isSynced() && (!elector?.isLeader() || controller.isWorking()),
          metrics: () => metrics.render(),
        },
        log,
      )
    : undefined;

  const stopWork = async () => {
    await Promise.all([controller.stop(), executionEvents.consumer?.stop()]);
  };
  handleSignals(log, async () => {
    await withGrace(stopWork(), SHUTDOWN_GRACE_MS, log);
    await elector?.release();
    server?.close();
  });

  await controller.syncCaches();
  if (!elector) {
    metrics.leader.set(1);
    await startReconciling();
    return;
  }
  log.info({ identity: elector.identity, lease: config.leaseName }, 'waiting for leadership');
  void elector.run({
    onStartedLeading: () => {
      metrics.leader.set(1);
      void startReconciling();
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      // Exit at once: in-flight AWS calls are abandoned, which is safe because every change is
      // idempotent and found again by tags and names; the pod restarts as a candidate.
      process.exit(1);
    },
  });
}

function handleSignals(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

async function withGrace(work: Promise<void>, ms: number, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), ms);
  });
  const outcome = await Promise.race([work.then(() => 'done' as const), expired]);
  clearTimeout(timer);
  if (outcome === 'expired') log.warn({ graceMs: ms }, 'abandoned in-flight reconciles');
}

main().catch((err: unknown) => {
  console.error('downloader-operator failed to start:', err);
  process.exit(1);
});

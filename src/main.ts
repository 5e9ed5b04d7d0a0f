import { createAwsClients } from './aws/clients.js';
import { loadAwsContext } from './aws/context.js';
import { ExecutionReader } from './aws/executions.js';
import { ProxyManager } from './aws/proxy.js';
import { RoleManager } from './aws/roles.js';
import { ScheduleManager } from './aws/schedule.js';
import { StateMachineManager } from './aws/state-machine.js';
import { TableManager } from './aws/table.js';
import { ConfigError, loadConfig } from './config.js';
import { Controller } from './controller/controller.js';
import { DownloaderReconciler } from './controller/reconciler.js';
import { createKubeClients } from './kube/clients.js';
import { DownloaderClient } from './kube/downloader-client.js';
import { KubeEventRecorder } from './kube/events.js';
import { createLogger } from './log.js';
import { startServer } from './server.js';

/**
 * Starts the operator: configuration, clients, the control loop and the probe server; stops it
 * cleanly on SIGTERM or SIGINT (in-flight reconciles finish, informers stop).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError || (err instanceof Error && 'code' in err)) {
      console.error(`downloader-operator: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const kube = createKubeClients();
  const clients = createAwsClients();
  const region = await clients.sfn.config.region();
  const context = await loadAwsContext(clients.sts, region);
  log.info(
    { region: context.region, accountId: context.accountId, namespaces: config.namespaces },
    'starting',
  );

  const aws = {
    proxy: new ProxyManager(clients.apiGateway),
    table: new TableManager(clients.dynamodb),
    roles: new RoleManager(clients.iam),
    stateMachine: new StateMachineManager(clients.sfn, context),
    schedule: new ScheduleManager(clients.scheduler),
    executions: new ExecutionReader(clients.sfn),
  };
  // The controller owns the Secret cache the reconciler reads; it is made right after.
  const secretCache: { controller?: Controller } = {};
  const reconciler: DownloaderReconciler = new DownloaderReconciler({
    config,
    location: context,
    aws,
    downloaders: new DownloaderClient(kube),
    secrets: { get: (namespace, name) => secretCache.controller?.get(namespace, name) },
    events: new KubeEventRecorder(kube, log),
    now: () => new Date(),
  });
  const running = new Controller(kube, config, reconciler, log);
  secretCache.controller = running;
  const server = config.metricsAddress
    ? await startServer(
        config.metricsAddress,
        { healthy: () => true, ready: () => running.isReady() },
        log,
      )
    : undefined;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    running
      .stop()
      .then(() => server?.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'unclean stop');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await running.start();
}

main().catch((err: unknown) => {
  console.error('downloader-operator failed to start:', err);
  process.exit(1);
});

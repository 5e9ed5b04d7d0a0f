import type { Logger } from 'pino';
import { connectionDesired } from './transport.js';
import type { Downloader } from '../api/downloader.js';
import { isTerminal } from '../errors.js';
import type { EventRecorder } from '../kube/events.js';
import type { OperatorConfig } from '../config.js';
import type { AwsManagers } from './aws-managers.js';
import {
  ownerOf,
  scheduleDesired,
  schedulerRoleDesired,
  stateMachineDesired,
  stateMachineRoleDesired,
  tableDesired,
  type AwsLocation,
} from './desired.js';
import { removeResource } from './pipeline.js';
import type { ProxyProvisioner } from './shared-proxy.js';

export interface CleanupDeps {
  config: OperatorConfig;
  location: AwsLocation;
  aws: AwsManagers;
  events: EventRecorder;
  log: Logger;
  /** Releases the proxy: the Downloader's own, or its share of a shared one. */
  proxies: ProxyProvisioner;
}

/**
 * Deletes what the operator created for a Downloader, dependents first (schedule before the
 * state machine it starts, state machine before the proxy it calls), so no run starts against a
 * half-deleted pipeline. Each resource is looked up again, so a cleanup interrupted by a crash
 * resumes where it stopped; absent resources count as deleted. A resource that turns out to be
 * another Downloader's (a TerminalError from observe) is left alone. The table is deleted only
 * when this Downloader created it and its deletionPolicy is Delete. A shared proxy is deleted
 * only with its last user (see shared-proxy.ts).
 */
export async function cleanUp(downloader: Downloader, deps: CleanupDeps): Promise<void> {
  const { aws, config, location, events, log } = deps;
  const owner = ownerOf(downloader);
  const context = { downloader, events, log };
  const resources = downloader.status?.resources ?? {};
  const restApiId = resources.restApiId ?? '';
  const stateMachineArn = resources.stateMachineArn ?? '';

  const steps: Array<() => Promise<unknown>> = [
    () =>
      removeResource(
        aws.schedule,
        owner,
        scheduleDesired(downloader, config, stateMachineArn, ''),
        context,
      ),
    () =>
      config.schedulerRoleArn
        ? Promise.resolve()
        : removeResource(
            aws.roles,
            owner,
            schedulerRoleDesired(downloader, location, config, stateMachineArn),
            context,
          ),
    () =>
      removeResource(
        aws.stateMachine,
        owner,
        stateMachineDesired(downloader, location, config, restApiId || 'unknown', ''),
        context,
      ),
    () =>
      config.stateMachineRoleArn
        ? Promise.resolve()
        : removeResource(
            aws.roles,
            owner,
            stateMachineRoleDesired(downloader, location, config, restApiId || 'unknown', ''),
            context,
          ),
    () => deps.proxies.release(downloader, context),
    () => cleanUpTable(downloader, deps),
    // The HttpTask transport's connection, after the state machine that used it. Looked up
    // whatever the transport: it may have been switched since the connection was made.
    () => removeResource(aws.connection, owner, connectionDesired(downloader, ''), context),
  ];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      if (!isTerminal(err)) throw err;
      log.info({ reason: err.reason }, "left a resource that is not this Downloader's");
    }
  }
}

async function cleanUpTable(downloader: Downloader, deps: CleanupDeps): Promise<void> {
  const { aws, events, log } = deps;
  const desired = tableDesired(downloader);
  // read, not observe: observe refuses tables whose keys no longer match the spec, and a table
  // this Downloader created must still be deleted after its keys were changed in the spec.
  const table = await aws.table.read(ownerOf(downloader), desired);
  if (!table) return;
  if (desired.deletionPolicy === 'Delete' && table.createdByOwner) {
    await aws.table.delete(ownerOf(downloader), table);
    log.info({ kind: aws.table.kind, resource: desired.name }, 'deleted AWS resource');
    events.record(downloader, 'Normal', 'Deleted', `Deleted Table ${desired.name}`);
    return;
  }
  log.info({ resource: desired.name }, 'retained table');
  events.record(
    downloader,
    'Normal',
    'Retained',
    `Retained Table ${desired.name} (${table.createdByOwner ? 'deletionPolicy Retain' : 'adopted'})`,
  );
}

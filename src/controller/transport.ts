import type { Logger } from 'pino';
import type { Downloader } from '../api/downloader.js';
import { transportOf } from '../api/downloader-spec.js';
import { NO_CREDENTIAL_HEADER, type ConnectionDesired } from '../aws/connection.js';
import { resourceName, type Owner } from '../aws/owner.js';
import type { OperatorConfig } from '../config.js';
import type { EventRecorder } from '../kube/events.js';
import { stateMachineArn } from '../workflow/arn.js';
import {
  httpTaskStateMachinePolicy,
  policyJson,
  stateMachineTrustPolicy,
} from '../workflow/policies.js';
import type { AwsManagers } from './aws-managers.js';
import { INLINE_POLICY_NAME, names, ownerOf, type AwsLocation } from './desired.js';
import { ensureResource, removeResource } from './pipeline.js';

/**
 * The HttpTask transport (`spec.source.transport: HttpTask`): the state machine calls the source
 * itself with the Step Functions HTTP Task, authenticated by an EventBridge connection that holds
 * the credential, instead of through an API Gateway REST API. This module makes its desired
 * state and brings the transport in place of the other: switching a Downloader from one to the
 * other deletes what the old transport needed (the REST API, or the connection).
 */

/** The name of a Downloader's connection (EventBridge: 64 characters, [.\-_A-Za-z0-9]). */
export function connectionName(owner: Owner): string {
  return resourceName(owner, 'conn', 64, /[^A-Za-z0-9_.-]/g);
}

/** The source URL the HTTP Task requests paths below, without a trailing slash. */
export function httpTaskSourceUrl(downloader: Downloader): string {
  return downloader.spec.source.url.replace(/\/+$/, '');
}

/**
 * The connection of a Downloader: API_KEY with the auth header and value (prefix and Secret),
 * or, without auth, a harmless header (see NO_CREDENTIAL_HEADER). `authValue` undefined with
 * auth set (cleanup, where the value is not read) gives an empty value, never applied.
 */
export function connectionDesired(
  downloader: Downloader,
  authValue: string | undefined,
): ConnectionDesired {
  const auth = downloader.spec.source.auth;
  const name = connectionName(ownerOf(downloader));
  if (!auth) return { name, ...NO_CREDENTIAL_HEADER };
  return { name, header: auth.header, value: authValue ?? '' };
}

/** The state machine role of an HttpTask Downloader: same name as for ApiGateway, other policy. */
export function httpTaskRoleDesired(
  downloader: Downloader,
  location: AwsLocation,
  config: OperatorConfig,
  connectionArn: string,
  tableArn: string,
) {
  const owner = ownerOf(downloader);
  const { partition, region, accountId } = location;
  return {
    name: names.stateMachineRole(owner),
    description: `Step Functions role of Downloader ${owner.namespace}/${owner.name}`,
    trustPolicy: policyJson(stateMachineTrustPolicy(accountId)),
    inlinePolicyName: INLINE_POLICY_NAME,
    inlinePolicy: policyJson(
      httpTaskStateMachinePolicy({
        partition,
        stateMachineArn: stateMachineArn(partition, region, accountId, names.stateMachine(owner)),
        sourceUrl: httpTaskSourceUrl(downloader),
        method: downloader.spec.source.method,
        connectionArn,
        connectionName: connectionName(ownerOf(downloader)),
        tableArn,
      }),
    ),
    permissionsBoundaryArn: config.permissionsBoundaryArn,
  };
}

/** What the reconciler needs to bring the transport in place. */
export interface TransportContext {
  config: OperatorConfig;
  aws: AwsManagers;
  downloader: Downloader;
  events: EventRecorder;
  log: Logger;
}

/**
 * Ensures the connection of an HttpTask Downloader. Returns the connection's ARN, and whether
 * the status still names a REST API of the ApiGateway transport: the reconciler drops it from
 * the status and, once the state machine no longer calls it, releases it (ProxyProvisioner.
 * retire: deleted when no other Downloader shares it; the orphan sweep repairs a crash).
 */
export async function ensureHttpTaskTransport(
  context: TransportContext,
  authValue: string | undefined,
): Promise<{ connectionArn: string; leftProxy: boolean }> {
  const { aws, downloader, events, log } = context;
  const owner = ownerOf(downloader);
  const connection = await ensureResource(
    aws.connection,
    owner,
    connectionDesired(downloader, authValue),
    { downloader, events, log },
  );
  return {
    connectionArn: connection.arn,
    leftProxy: Boolean(downloader.status?.resources?.restApiId),
  };
}

/**
 * Deletes the connection of a Downloader that uses the ApiGateway transport again, if its
 * status records one. Returns whether it looked.
 */
export async function removeHttpTaskTransport(context: TransportContext): Promise<boolean> {
  const { aws, downloader, events, log } = context;
  if (transportOf(downloader.spec) === 'HttpTask') return false;
  if (!downloader.status?.resources?.connectionArn) return false;
  await removeResource(aws.connection, ownerOf(downloader), connectionDesired(downloader, ''), {
    downloader,
    events,
    log,
  });
  return true;
}

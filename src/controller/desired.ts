import type { Downloader } from '../api/downloader.js';
import type { Owner } from '../aws/owner.js';
import { resourceName } from '../aws/owner.js';
import { invokeEndpoint, type OperatorConfig } from '../config.js';
import { buildDefinition, renderDefinition } from '../workflow/definition.js';
import {
  invokedPaths,
  policyJson,
  schedulerPolicy,
  schedulerTrustPolicy,
  stateMachinePolicy,
  stateMachineTrustPolicy,
} from '../workflow/policies.js';

/**
 * Pure functions from a Downloader (and what earlier steps made) to the desired state of each AWS
 * resource. Names are deterministic per Downloader UID (see resourceName), which is how the
 * reconciler finds what it made before a crash. A shared proxy's desired state is made in
 * shared-proxy.ts; `pathPrefix` is then the path of `source.url`, which the state machine and
 * its role add to every path because the shared proxy forwards to the origin alone.
 */

/** Where the operator runs in AWS. */
export interface AwsLocation {
  region: string;
  accountId: string;
  partition: string;
}

export function ownerOf(downloader: Downloader): Owner {
  const { namespace = '', name = '', uid = '' } = downloader.metadata;
  return { namespace, name, uid };
}

export const names = {
  proxy: (owner: Owner) => resourceName(owner, 'proxy', 128),
  stateMachine: (owner: Owner) => resourceName(owner, '', 80),
  schedule: (owner: Owner) => resourceName(owner, '', 64),
  stateMachineRole: (owner: Owner) => resourceName(owner, 'sfn', 64, /[^A-Za-z0-9_+=,.@-]/g),
  schedulerRole: (owner: Owner) => resourceName(owner, 'sched', 64, /[^A-Za-z0-9_+=,.@-]/g),
};

/** The name of the inline policy on roles the operator creates. */
export const INLINE_POLICY_NAME = 'downloader-operator';

export function proxyDesired(
  downloader: Downloader,
  config: OperatorConfig,
  authValue: string | undefined,
) {
  const owner = ownerOf(downloader);
  const auth = downloader.spec.source.auth;
  return {
    name: names.proxy(owner),
    sourceUrl: downloader.spec.source.url.replace(/\/+$/, ''),
    stageName: config.stageName,
    auth: auth && authValue !== undefined ? { header: auth.header, value: authValue } : undefined,
    hintRestApiId: downloader.status?.resources?.restApiId,
  };
}

export function tableDesired(downloader: Downloader) {
  const { name, partitionKey, sortKey, deletionPolicy } = downloader.spec.table;
  return { name, partitionKey, sortKey, deletionPolicy };
}

export function stateMachineRoleDesired(
  downloader: Downloader,
  location: AwsLocation,
  config: OperatorConfig,
  restApiId: string,
  tableArn: string,
  pathPrefix = '',
) {
  const owner = ownerOf(downloader);
  const { method, path } = downloader.spec.source;
  return {
    name: names.stateMachineRole(owner),
    description: `Step Functions role of Downloader ${owner.namespace}/${owner.name}`,
    trustPolicy: policyJson(stateMachineTrustPolicy(location.accountId)),
    inlinePolicyName: INLINE_POLICY_NAME,
    inlinePolicy: policyJson(
      stateMachinePolicy({
        ...location,
        restApiId,
        stage: config.stageName,
        method,
        path: `${pathPrefix}${path}`,
        paths: invokedPaths(downloader.spec, pathPrefix),
        pathPrefix,
        tableArn,
      }),
    ),
    permissionsBoundaryArn: config.permissionsBoundaryArn,
  };
}

export function schedulerRoleDesired(
  downloader: Downloader,
  location: AwsLocation,
  config: OperatorConfig,
  stateMachineArn: string,
) {
  const owner = ownerOf(downloader);
  return {
    name: names.schedulerRole(owner),
    description: `EventBridge Scheduler role of Downloader ${owner.namespace}/${owner.name}`,
    trustPolicy: policyJson(schedulerTrustPolicy(location.accountId)),
    inlinePolicyName: INLINE_POLICY_NAME,
    inlinePolicy: policyJson(schedulerPolicy({ stateMachineArn })),
    permissionsBoundaryArn: config.permissionsBoundaryArn,
  };
}

/**
 * The state machine. `connectionArn` (transport HttpTask) makes its download an HTTP Task
 * authenticated by that connection; `restApiId` is then unused. `pathPrefix` goes before every
 * path invoked through a shared REST API (see shared-proxy.ts).
 */
export function stateMachineDesired(
  downloader: Downloader,
  location: AwsLocation,
  config: OperatorConfig,
  restApiId: string,
  roleArn: string,
  connectionArn?: string,
  pathPrefix = '',
) {
  const owner = ownerOf(downloader);
  const httpTask =
    connectionArn === undefined
      ? undefined
      : { sourceUrl: downloader.spec.source.url.replace(/\/+$/, ''), connectionArn };
  const definition = buildDefinition({
    namespace: owner.namespace,
    name: owner.name,
    spec: downloader.spec,
    apiEndpoint: invokeEndpoint(config.apigwInvokeEndpointTemplate, restApiId, location.region),
    stage: config.stageName,
    ...(pathPrefix ? { pathPrefix } : {}),
    tableName: downloader.spec.table.name,
    partition: location.partition,
    authType: 'IAM_ROLE',
    ...(httpTask ? { httpTask } : {}),
  });
  return {
    name: names.stateMachine(owner),
    definition: renderDefinition(definition),
    roleArn,
    type: downloader.spec.workflow.type,
  };
}

export function scheduleDesired(
  downloader: Downloader,
  config: OperatorConfig,
  stateMachineArn: string,
  roleArn: string,
) {
  const owner = ownerOf(downloader);
  const { expression, timezone, suspend } = downloader.spec.schedule;
  return {
    name: names.schedule(owner),
    groupName: config.scheduleGroup,
    expression,
    timezone,
    state: suspend ? ('DISABLED' as const) : ('ENABLED' as const),
    targetArn: stateMachineArn,
    roleArn,
    input: '{}',
    description: `Downloader ${owner.namespace}/${owner.name}`,
  };
}

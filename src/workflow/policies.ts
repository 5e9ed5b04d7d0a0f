import type { DownloaderSpec } from '../api/downloader-spec.js';
import { formatArn } from './arn.js';

/**
 * IAM policy documents for the roles the operator manages: who may assume them (trust policies)
 * and what they may do (inline policies), each limited to the one Downloader's resources.
 */

/** Values of a condition operator: key -> value or values. */
export type ConditionBlock = Record<string, Record<string, string | string[]>>;

/** One statement of an IAM policy document. */
export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: { Service: string | string[] };
  Action: string | string[];
  Resource?: string | string[];
  Condition?: ConditionBlock;
}

/** An IAM policy document. */
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** Service principal Step Functions assumes execution roles as. */
export const STATES_PRINCIPAL = 'states.amazonaws.com';
/** Service principal EventBridge Scheduler assumes execution roles as. */
export const SCHEDULER_PRINCIPAL = 'scheduler.amazonaws.com';

/** Options of the trust policies. */
export interface TrustOptions {
  /**
   * ARN pattern (wildcards allowed) the assuming resource must match, checked with ArnLike on
   * `aws:SourceArn`, for example the account's state machines or the operator's schedules.
   */
  sourceArn?: string;
}

function trustPolicy(service: string, accountId: string, options: TrustOptions): PolicyDocument {
  // aws:SourceAccount keeps another account's state machines or schedules from using the role
  // through the service (the confused deputy problem).
  const condition: ConditionBlock = { StringEquals: { 'aws:SourceAccount': accountId } };
  if (options.sourceArn) condition.ArnLike = { 'aws:SourceArn': options.sourceArn };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: service },
        Action: 'sts:AssumeRole',
        Condition: condition,
      },
    ],
  };
}

/** Trust policy of a state machine's execution role: Step Functions, from this account only. */
export function stateMachineTrustPolicy(accountId: string, options: TrustOptions = {}) {
  return trustPolicy(STATES_PRINCIPAL, accountId, options);
}

/** Trust policy of a schedule's execution role: EventBridge Scheduler, from this account only. */
export function schedulerTrustPolicy(accountId: string, options: TrustOptions = {}) {
  return trustPolicy(SCHEDULER_PRINCIPAL, accountId, options);
}

/** Where the proxy method the state machine invokes lives. */
export interface ExecuteApiTarget {
  partition: string;
  region: string;
  accountId: string;
  restApiId: string;
  stage: string;
  /** HTTP method of the source request, such as GET. */
  method: string;
  /** `spec.source.path`: a leading "/" and any query string are dropped. */
  path: string;
}

/**
 * The execute-api ARN of one method and path of a deployed stage:
 * `arn:partition:execute-api:region:account-id:api-id/stage/METHOD_HTTP_VERB/Resource-path`
 * (API Gateway developer guide, "Control access for invoking an API"). The resource path has no
 * leading "/" and no query; "/" itself gives an empty resource path (the root resource).
 */
export function executeApiArn(target: ExecuteApiTarget): string {
  const mark = target.path.indexOf('?');
  const path = (mark < 0 ? target.path : target.path.slice(0, mark)).replace(/^\/+/, '');
  return formatArn({
    partition: target.partition,
    service: 'execute-api',
    region: target.region,
    accountId: target.accountId,
    resource: `${target.restApiId}/${target.stage}/${target.method.toUpperCase()}/${path}`,
  });
}

/** What a Downloader's state machine touches. */
export interface StateMachinePolicyInput extends ExecuteApiTarget {
  /** ARN of the DynamoDB table items are written to. */
  tableArn: string;
  /**
   * Every path the state machine requests (`invokedPaths`), when there is more than `path`: the
   * fan-out paths, or `/*` when next links name the paths. Replaces `path` when given. Paths
   * here already carry `pathPrefix`.
   */
  paths?: readonly string[];
  /**
   * The path of `source.url` when the proxy forwards to the origin alone (a shared proxy): the
   * fallback for too many paths is then "any path under the prefix", not any path of the origin.
   */
  pathPrefix?: string;
}

/** The resource path that stands for "any path of this stage and method". */
export const ANY_PATH = '/*';

/**
 * The paths a Downloader's state machine requests through the proxy: `source.path`, or each of
 * `fanOut.paths`, or `/*` (any) when NextLink pagination follows links whose paths the source
 * chooses. Queries are not part of execute-api ARNs and are dropped. `pathPrefix` (the path of
 * `source.url` when the proxy is shared by the origin's Downloaders) goes before each, so the
 * role may invoke only what this Downloader asks for, not the rest of the origin.
 */
export function invokedPaths(spec: DownloaderSpec, pathPrefix = ''): string[] {
  const pagination = spec.source.pagination;
  if (pagination?.type === 'NextLink' && pagination.cursorParameter === undefined) {
    return [`${pathPrefix}${ANY_PATH}`];
  }
  const paths = spec.fanOut?.paths ?? [spec.source.path];
  return [...new Set(paths.map((path) => `${pathPrefix}${path.split('?')[0] ?? path}`))];
}

/**
 * The state machine role's policy: invoke exactly the proxied method and path(s) (this matters when
 * the invoke task signs with IAM_ROLE and the proxy requires AWS_IAM) and put items into exactly
 * the one table. No read, delete or scan; no other table, stage or path. When the paths make the
 * policy too large for IAM (ROLE_POLICY_MAX_CHARS), any path of the stage and method is allowed:
 * the proxy forwards to the one source anyway.
 */
export function stateMachinePolicy(input: StateMachinePolicyInput): PolicyDocument {
  const paths = input.paths && input.paths.length > 0 ? input.paths : [input.path];
  const document = invokeAndPutPolicy(
    input,
    paths.map((path) => executeApiArn({ ...input, path })),
  );
  if (policyJson(document).length <= ROLE_POLICY_MAX_CHARS) return document;
  // One ARN per fan-out path does not fit: any path of this proxy's stage and method instead.
  return invokeAndPutPolicy(input, [
    executeApiArn({ ...input, path: `${input.pathPrefix ?? ''}${ANY_PATH}` }),
  ]);
}

/**
 * IAM's limit on the inline policies of a role, in characters (whitespace does not count). A
 * fan-out of up to 100 paths of up to 2,048 characters, one ARN each, can exceed it, and IAM
 * then refuses PutRolePolicy (LimitExceeded) on every reconcile.
 */
export const ROLE_POLICY_MAX_CHARS = 10_240;

function invokeAndPutPolicy(input: StateMachinePolicyInput, invokeArns: string[]): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'InvokeSourceThroughProxy',
        Effect: 'Allow',
        Action: 'execute-api:Invoke',
        Resource: invokeArns.length === 1 ? (invokeArns[0] ?? '') : invokeArns,
      },
      {
        Sid: 'PutDownloadedItem',
        Effect: 'Allow',
        Action: 'dynamodb:PutItem',
        Resource: input.tableArn,
      },
    ],
  };
}

/** What the state machine of a Downloader with transport HttpTask touches. */
export interface HttpTaskPolicyInput {
  partition: string;
  /** ARN of the state machine the role runs (the resource of states:InvokeHTTPEndpoint). */
  stateMachineArn: string;
  /** `spec.source.url` without a trailing slash: requests go below it. */
  sourceUrl: string;
  /** HTTP method of the source request, such as GET. */
  method: string;
  /** ARN of the EventBridge connection holding the credential. */
  connectionArn: string;
  /** Name of that connection: EventBridge names its secret `events!connection/<name>/<id>`. */
  connectionName: string;
  /** ARN of the DynamoDB table items are written to. */
  tableArn: string;
}

/**
 * The prefix of the secrets EventBridge keeps connection credentials in; the HTTP Task reads the
 * connection's secret as the state machine's role.
 */
export const CONNECTION_SECRET_PREFIX = 'events!connection/';

/**
 * The state machine role's policy for the HTTP Task ("Call HTTPS APIs in Step Functions
 * workflows", IAM permissions): call HTTP endpoints under the source URL with the one method
 * (states:InvokeHTTPEndpoint, on its own state machine, with conditions on the endpoint and
 * method), read the credentials of the one connection (events:RetrieveConnectionCredentials),
 * read the secret EventBridge keeps them in (named after the connection, with an id EventBridge
 * chooses, hence the wildcard),
 * and put items into the one table.
 */
export function httpTaskStateMachinePolicy(input: HttpTaskPolicyInput): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'InvokeSource',
        Effect: 'Allow',
        Action: 'states:InvokeHTTPEndpoint',
        Resource: input.stateMachineArn,
        Condition: {
          StringEquals: { 'states:HTTPMethod': input.method.toUpperCase() },
          StringLike: { 'states:HTTPEndpoint': `${input.sourceUrl}/*` },
        },
      },
      {
        Sid: 'UseConnection',
        Effect: 'Allow',
        Action: 'events:RetrieveConnectionCredentials',
        Resource: input.connectionArn,
      },
      {
        Sid: 'ReadConnectionSecret',
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        Resource:
          `arn:${input.partition}:secretsmanager:*:*:secret:` +
          `${CONNECTION_SECRET_PREFIX}${input.connectionName}/*`,
      },
      {
        Sid: 'PutDownloadedItem',
        Effect: 'Allow',
        Action: 'dynamodb:PutItem',
        Resource: input.tableArn,
      },
    ],
  };
}

/** The schedule role's policy: start executions of exactly one state machine. */
export function schedulerPolicy(input: { stateMachineArn: string }): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'StartDownloaderExecution',
        Effect: 'Allow',
        Action: 'states:StartExecution',
        Resource: input.stateMachineArn,
      },
    ],
  };
}

/** The document as IAM's CreateRole, PutRolePolicy and UpdateAssumeRolePolicy take it. */
export function policyJson(document: PolicyDocument): string {
  return JSON.stringify(document);
}

/**
 * Parses a policy document as IAM returns it. GetRole and GetRolePolicy return documents
 * URL-encoded (RFC 3986), and the SDK does not decode them; plain JSON is accepted too.
 * Returns undefined for text that is neither.
 */
export function parsePolicyDocument(text: string): unknown {
  for (const candidate of [text, safeDecode(text)]) {
    if (candidate === undefined) continue;
    try {
      return JSON.parse(candidate) as unknown;
    } catch {
      // Try the next form.
    }
  }
  return undefined;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Keys whose value IAM treats the same as a string or a one-element list of it. */
const LIST_KEYS = new Set(['Action', 'NotAction', 'Resource', 'NotResource', 'Service', 'AWS']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function sortedEntries(record: Record<string, unknown>): [string, unknown][] {
  return Object.keys(record)
    .sort()
    .map((key) => [key, record[key]]);
}

function normalize(value: unknown, collapse = false): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => normalize(item));
    return collapse && items.length === 1 ? items[0] : items;
  }
  if (!isRecord(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [name, child] of sortedEntries(value)) {
    result[name] =
      name === 'Condition' ? normalizeCondition(child) : normalize(child, LIST_KEYS.has(name));
  }
  return result;
}

/** Condition is operator -> condition key -> value or values; each value list may collapse. */
function normalizeCondition(condition: unknown): unknown {
  if (!isRecord(condition)) return normalize(condition);
  const result: Record<string, unknown> = {};
  for (const [operator, block] of sortedEntries(condition)) {
    if (!isRecord(block)) {
      result[operator] = normalize(block);
      continue;
    }
    const keys: Record<string, unknown> = {};
    for (const [key, values] of sortedEntries(block)) keys[key] = normalize(values, true);
    result[operator] = keys;
  }
  return result;
}

/**
 * Whether a policy document from IAM (possibly URL-encoded) says the same as the desired one.
 * Key order, whitespace, and "x" versus ["x"] where IAM accepts either do not count; a
 * statement list in another order does (IAM keeps what it was given, so that means drift).
 */
export function policiesEqual(actual: string, desired: PolicyDocument | string): boolean {
  const parsed = parsePolicyDocument(actual);
  const wanted = typeof desired === 'string' ? parsePolicyDocument(desired) : desired;
  if (parsed === undefined || wanted === undefined) return false;
  return JSON.stringify(normalize(parsed)) === JSON.stringify(normalize(wanted));
}

import type { JsonValue, StateMachineDefinition } from './asl.js';
import { itemTemplate, selectTemplate } from './item-mapping.js';
import { buildMultiRequestDefinition, needsMultiRequestStates } from './multi-request.js';
import {
  DOWNLOAD_RETRY,
  DOWNLOAD_STATE,
  DOWNLOAD_TIMEOUT_SECONDS,
  MANAGED_BY_COMMENT,
  PERSIST_RETRY,
  PERSIST_STATE,
  PERSIST_TIMEOUT_SECONDS,
  copyRetriers,
  downloadParameters,
  downloadResource,
  downloadRetry,
  transportParameters,
  type DefinitionInput,
} from './tasks.js';

/**
 * The state machine of a Downloader, generated from its spec: the article's two Task states,
 * "download" (`apigateway:invoke` through the proxy, or the HTTP Task `http:invoke` with an
 * EventBridge connection; optionally narrowed by a ResultSelector)
 * and "persist" (`dynamodb:putItem`), plus retries, timeouts and a Comment naming the owner.
 * Pagination, fan-out and itemsPath make several requests or items per run: multi-request.ts.
 *
 * STANDARD and EXPRESS workflows get the same definition: the type is a CreateStateMachine
 * parameter, not part of ASL, and both types support everything used here.
 */

export {
  DOWNLOAD_RETRY,
  DOWNLOAD_STATE,
  DOWNLOAD_TIMEOUT_SECONDS,
  MANAGED_BY_COMMENT,
  PERSIST_RETRY,
  PERSIST_STATE,
  PERSIST_TIMEOUT_SECONDS,
};
export type { DefinitionInput, HttpTaskTarget, InvokeAuthType } from './tasks.js';

/**
 * The state machine definition for a Downloader. Pure: the same input always gives the same
 * definition (user maps are sorted), so `renderDefinition` of it can be compared with what is
 * deployed. Nothing from `spec.source.auth` is used: the proxy, or the HTTP Task's connection,
 * adds the credential.
 *
 * Throws DefinitionError (terminal) when the spec cannot be expressed, for example a header that
 * Step Functions refuses to send.
 *
 * Item paths that name a field the download result lacks are not detectable here; they fail at
 * run time with States.Runtime, which `classifyExecutionError` reports as ItemPathMismatch.
 */
export function buildDefinition(input: DefinitionInput): StateMachineDefinition {
  const { spec } = input;
  const partition = input.partition ?? 'aws';
  const comment = `Downloader ${input.namespace}/${input.name}, ${MANAGED_BY_COMMENT}`;
  if (needsMultiRequestStates(spec)) return buildMultiRequestDefinition(input, comment);

  const download = {
    Type: 'Task' as const,
    Resource: downloadResource(input),
    Parameters: transportParameters(input, downloadParameters(input)),
    ...(spec.select ? { ResultSelector: selectTemplate(spec.select) } : {}),
    TimeoutSeconds: DOWNLOAD_TIMEOUT_SECONDS,
    Retry: downloadRetry(input),
    Next: PERSIST_STATE,
  };
  const persist = {
    Type: 'Task' as const,
    Resource: `arn:${partition}:states:::dynamodb:putItem`,
    Parameters: { TableName: input.tableName, Item: itemTemplate(spec.item) },
    // The PutItem response (HTTP metadata) is of no use; keep the downloaded data as output.
    ResultPath: null,
    TimeoutSeconds: PERSIST_TIMEOUT_SECONDS,
    Retry: copyRetriers(PERSIST_RETRY),
    End: true as const,
  };

  return {
    Comment: comment,
    StartAt: DOWNLOAD_STATE,
    States: { [DOWNLOAD_STATE]: download, [PERSIST_STATE]: persist },
  };
}

/**
 * Order of ASL keywords in rendered definitions, so they read as in the AWS documentation; other
 * keys (user attribute names, header names) follow in code-point order.
 */
const KEY_ORDER = [
  'Comment',
  'ProcessorConfig',
  'Mode',
  'StartAt',
  'States',
  'Type',
  'Resource',
  'Choices',
  'Not',
  'Variable',
  'IsPresent',
  'IsNull',
  'IsString',
  'IsNumeric',
  'StringEquals',
  'StringMatches',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'Default',
  'Error',
  'Cause',
  'InputPath',
  'ItemsPath',
  'ItemSelector',
  'MaxConcurrency',
  'ItemProcessor',
  'Result',
  'Parameters',
  'ApiEndpoint',
  'ApiEndpoint.$',
  'Method',
  'Authentication',
  'ConnectionArn',
  'Stage',
  'Path',
  'Path.$',
  'QueryParameters',
  'Headers',
  'RequestBody',
  'AuthType',
  'TableName',
  'Item',
  'ResultSelector',
  'ResultPath',
  'OutputPath',
  'TimeoutSeconds',
  'Retry',
  'ErrorEquals',
  'IntervalSeconds',
  'MaxAttempts',
  'BackoffRate',
  'MaxDelaySeconds',
  'JitterStrategy',
  'Next',
  'End',
];
const KEY_RANK = new Map(KEY_ORDER.map((key, index) => [key, index]));

function compareKeys(a: string, b: string): number {
  const rankA = KEY_RANK.get(a) ?? KEY_ORDER.length;
  const rankB = KEY_RANK.get(b) ?? KEY_ORDER.length;
  if (rankA !== rankB) return rankA - rankB;
  return a < b ? -1 : a > b ? 1 : 0;
}

function canonical(value: unknown): JsonValue {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const result: Record<string, JsonValue> = {};
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record).sort(compareKeys)) {
      if (record[key] !== undefined) result[key] = canonical(record[key]);
    }
    return result;
  }
  return value as JsonValue;
}

/**
 * The definition as CreateStateMachine/UpdateStateMachine take it: JSON with a fixed key order
 * (ASL keywords first, in documentation order, then other keys sorted) and two-space indents,
 * so the same definition always renders to the same string.
 */
export function renderDefinition(definition: StateMachineDefinition): string {
  return JSON.stringify(canonical(definition), null, 2);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => deepEqual(item, b[index]));
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const recordA = a as Record<string, unknown>;
  const recordB = b as Record<string, unknown>;
  const keysA = Object.keys(recordA);
  if (keysA.length !== Object.keys(recordB).length) return false;
  return keysA.every((key) => Object.hasOwn(recordB, key) && deepEqual(recordA[key], recordB[key]));
}

/**
 * Whether two definition strings describe the same state machine: both are parsed and compared
 * as JSON values, so whitespace and key order (which AWS may change when it stores a definition)
 * do not count; array order does. A string that is not JSON equals nothing.
 */
export function definitionsEqual(a: string, b: string): boolean {
  try {
    return deepEqual(JSON.parse(a), JSON.parse(b));
  } catch {
    return false;
  }
}

import type { Logger } from 'pino';
import { RequeueAfter } from '../errors.js';

/**
 * Classification of AWS SDK v3 errors, in one place for every AWS module, the controller's retry
 * policy and its metrics. It looks at what the SDK gives as data: the exception's `name` (the
 * service's error code, also set on errors the SDK does not model), `$fault`, `$retryable` and
 * `$metadata.httpStatusCode`, and the `code` of Node network errors. Never at message text, which
 * services reword and which may echo request values.
 *
 * Status codes are used only where they mean one thing across services (429, 403, 5xx): a 404
 * alone is not "not found" (a wrong endpoint answers 404 too), and a 400 is anything.
 */

/** Words `awsErrorKind` returns: stable labels for metrics and log fields. */
export const AWS_ERROR_KINDS = [
  'notFound',
  'throttling',
  'accessDenied',
  'conflict',
  'transient',
  'other',
] as const;

export type AwsErrorKind = (typeof AWS_ERROR_KINDS)[number];

const NOT_FOUND_NAMES = new Set([
  'ResourceNotFoundException', // DynamoDB, Scheduler
  'TableNotFoundException',
  'NotFoundException', // API Gateway
  'NoSuchEntity', // IAM, as its error code
  'NoSuchEntityException', // IAM, as the SDK's exception class
  'StateMachineDoesNotExist',
  'ExecutionDoesNotExist',
  'ActivityDoesNotExist',
  'ResourceNotFound', // Step Functions tags
]);

// The SDK's own list (smithy service-error-classification) plus the DynamoDB and KMS variants.
const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'BandwidthLimitExceeded',
  'PriorRequestNotComplete',
  'SlowDown',
  'EC2ThrottledException',
  'KmsThrottlingException',
]);

const ACCESS_DENIED_NAMES = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnauthorizedOperation',
  'UnauthorizedException', // API Gateway
  'NotAuthorized',
]);

const CONFLICT_NAMES = new Set([
  'ConflictException',
  'ResourceInUseException', // DynamoDB: the table exists or is busy
  'TableAlreadyExistsException',
  'EntityAlreadyExists',
  'EntityAlreadyExistsException',
  'DeleteConflict',
  'DeleteConflictException',
  'StateMachineAlreadyExists',
  'ExecutionAlreadyExists',
  'ActivityAlreadyExists',
  'ResourceAlreadyExistsException', // EventBridge: a connection of that name exists
]);

const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalServerError',
  'InternalServerException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServiceFailure',
  'ServiceFailureException', // IAM's 500
  'ConcurrentModification',
  'ConcurrentModificationException', // IAM: another write to the same entity, retry succeeds
  'EntityTemporarilyUnmodifiable',
  'EntityTemporarilyUnmodifiableException',
]);

const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
]);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  $fault?: unknown;
  $retryable?: { throttling?: unknown };
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
}

function asShape(err: unknown): ErrorShape | undefined {
  return typeof err === 'object' && err !== null ? (err as ErrorShape) : undefined;
}

/** The AWS error name (exception class or error code), if `err` carries one. */
export function awsErrorName(err: unknown): string | undefined {
  const name = asShape(err)?.name;
  return typeof name === 'string' ? name : undefined;
}

function statusCode(err: unknown): number | undefined {
  const status = asShape(err)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Tests `err` and the errors it wraps (`cause`, a few levels), so that a caller wrapping an AWS
 * error for context does not change how it is classified.
 */
function anyInChain(err: unknown, test: (e: unknown) => boolean): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (test(current)) return true;
    current = asShape(current)?.cause;
  }
  return false;
}

function hasName(names: Set<string>) {
  return (e: unknown) => names.has(awsErrorName(e) ?? '');
}

/** The resource (table, role, state machine, execution, schedule, REST API...) does not exist. */
export function isNotFound(err: unknown): boolean {
  return anyInChain(err, hasName(NOT_FOUND_NAMES));
}

/** AWS asked us to slow down: retry later, and count it apart from real failures. */
export function isThrottling(err: unknown): boolean {
  return anyInChain(err, (e) => {
    if (THROTTLING_NAMES.has(awsErrorName(e) ?? '')) return true;
    if (asShape(e)?.$retryable?.throttling === true) return true;
    return statusCode(e) === 429;
  });
}

/** The operator's credentials may not do this (or may not pass a role), or are invalid. */
export function isAccessDenied(err: unknown): boolean {
  return anyInChain(
    err,
    (e) => ACCESS_DENIED_NAMES.has(awsErrorName(e) ?? '') || statusCode(e) === 403,
  );
}

/** The resource already exists, or is in a state that refuses the change right now. */
export function isConflict(err: unknown): boolean {
  return anyInChain(err, hasName(CONFLICT_NAMES));
}

/** Worth retrying unchanged: throttling, a server-side fault, or a network failure. */
export function isTransient(err: unknown): boolean {
  if (isThrottling(err)) return true;
  return anyInChain(err, (e) => {
    const shape = asShape(e);
    if (TRANSIENT_NAMES.has(awsErrorName(e) ?? '')) return true;
    if (shape?.$fault === 'server') return true;
    const status = statusCode(e);
    if (status !== undefined && status >= 500) return true;
    return typeof shape?.code === 'string' && NETWORK_ERROR_CODES.has(shape.code);
  });
}

/**
 * One word for `err`, for metrics labels and log fields. When several apply, the most specific
 * wins: notFound, throttling, accessDenied, conflict, then transient; anything else is "other".
 */
export function awsErrorKind(err: unknown): AwsErrorKind {
  if (isNotFound(err)) return 'notFound';
  if (isThrottling(err)) return 'throttling';
  if (isAccessDenied(err)) return 'accessDenied';
  if (isConflict(err)) return 'conflict';
  if (isTransient(err)) return 'transient';
  return 'other';
}

/**
 * Runs one AWS call, tracing it at debug level when a logger is given: the operation and, on
 * failure, the error's name and kind. Never the request or the error message, which may carry
 * values such as a secret header. The error is rethrown unchanged.
 */
export async function traced<T>(
  logger: Logger | undefined,
  operation: string,
  call: () => Promise<T>,
): Promise<T> {
  logger?.debug({ operation }, 'aws call');
  try {
    const result = await call();
    logger?.debug({ operation }, 'aws call done');
    return result;
  } catch (err) {
    logger?.debug(
      { operation, errName: awsErrorName(err), errKind: awsErrorKind(err) },
      'aws call failed',
    );
    throw err;
  }
}

/**
 * Replaces every occurrence of `secret` in the message (and stack, and the SDK's `Message`
 * field) of `err` and drops the raw response the SDK may keep on it, in place, so that an AWS
 * error echoing a request value can be rethrown with its class, name and metadata intact for
 * classification. Returns `err`.
 */
export function scrubSecret<E>(err: E, secret: string | undefined, replacement = '[redacted]'): E {
  if (!secret || typeof err !== 'object' || err === null) return err;
  const record = err as Record<string, unknown>;
  for (const key of ['message', 'Message', 'stack']) {
    const value = record[key];
    if (typeof value === 'string' && value.includes(secret)) {
      try {
        record[key] = value.split(secret).join(replacement);
      } catch {
        // A read-only property: nothing to do but leave the rest scrubbed.
      }
    }
  }
  // The raw HTTP response the SDK keeps on errors it could not parse: it may echo the request.
  for (const key of ['$response', '$responseBodyText']) {
    if (key in record) {
      try {
        delete record[key];
      } catch {
        // Not configurable: leave it.
      }
    }
  }
  return err;
}

/**
 * Default time after the operator created an IAM role during which "cannot assume the role"
 * answers are taken for IAM's eventual consistency rather than a wrong trust policy. The seed
 * article saw up to a minute; AWS documents no bound.
 */
export const ROLE_PROPAGATION_WINDOW_MS = 60_000;

/** Delay before trying again while a new role propagates. */
export const ROLE_PROPAGATION_REQUEUE_MS = 5_000;

/** True when a role created at `roleCreatedAt` (ISO time) is younger than `windowMs` at `nowMs`. */
export function roleMayBePropagating(
  roleCreatedAt: string | undefined,
  nowMs: number,
  windowMs = ROLE_PROPAGATION_WINDOW_MS,
): boolean {
  if (!roleCreatedAt) return false;
  const created = Date.parse(roleCreatedAt);
  return Number.isFinite(created) && nowMs - created < windowMs;
}

/** How a service refuses a role it cannot assume yet, and what the requeue then says. */
export interface RoleRefusal {
  /** The error name of the refusal: `AccessDeniedException` from Step Functions. */
  errorName: string;
  /** The condition reason of the requeue. */
  reason: string;
  /** Who cannot assume the role, for the message: `Step Functions`. */
  service: string;
}

/**
 * Runs `call`; when it fails with `refusal` for a role created (`roleCreatedAt`) less than
 * `windowMs` before `now()` at the failure, throws a requeue instead: IAM may still be
 * propagating the role.
 */
export async function whileRolePropagates<T>(
  role: { roleArn: string; roleCreatedAt?: string | undefined },
  refusal: RoleRefusal,
  window: { now: () => number; windowMs: number },
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const young = roleMayBePropagating(role.roleCreatedAt, window.now(), window.windowMs);
    if (young && awsErrorName(err) === refusal.errorName) {
      throw new RequeueAfter(
        ROLE_PROPAGATION_REQUEUE_MS,
        refusal.reason,
        `${refusal.service} cannot assume role ${role.roleArn} yet: IAM is still propagating ` +
          'the new role',
      );
    }
    throw err;
  }
}

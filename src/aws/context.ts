import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { parseArn } from '../workflow/arn.js';
import { isTransient } from './errors.js';

/**
 * Where the operator works in AWS: the region, the account and its partition. ARNs of resources
 * the operator names itself (a state machine, a table) are built from it instead of being read
 * back, so a resource can be found by its ARN before it exists.
 */
export interface AwsContext {
  region: string;
  accountId: string;
  /** `aws`, `aws-cn`, `aws-us-gov`...: the partition the caller's ARN names. */
  partition: string;
}

/** Options of `loadAwsContext`. */
export interface LoadAwsContextOptions {
  /** Told of each transient failure before waiting `delayMs` and asking again. */
  onRetry?: (err: unknown, delayMs: number) => void;
  /** Waits `ms`; injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** First and longest wait between attempts of GetCallerIdentity at start-up. */
export const CONTEXT_RETRY_BASE_MS = 1_000;
export const CONTEXT_RETRY_MAX_MS = 30_000;

/**
 * Asks STS who the operator is (GetCallerIdentity needs no permission) and returns its
 * context. `region` defaults to the STS client's. The partition comes from the caller's ARN,
 * which is right for every partition, including ones no region prefix table knows.
 *
 * The operator cannot start without it, so transient failures (throttling, 5xx, a dropped
 * connection) that outlast the SDK's own retries are retried here with capped exponential
 * backoff for as long as they last, rather than ending the process; other failures (no
 * credentials, access denied) are thrown at once.
 */
export async function loadAwsContext(
  sts: STSClient,
  region?: string,
  options: LoadAwsContextOptions = {},
): Promise<AwsContext> {
  const resolvedRegion = region ?? (await sts.config.region());
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  let identity;
  for (let attempt = 0; ; attempt++) {
    try {
      identity = await sts.send(new GetCallerIdentityCommand({}));
      break;
    } catch (err) {
      if (!isTransient(err)) throw err;
      const delayMs = Math.min(CONTEXT_RETRY_MAX_MS, CONTEXT_RETRY_BASE_MS * 2 ** attempt);
      options.onRetry?.(err, delayMs);
      await sleep(delayMs);
    }
  }

  const partition = identity.Arn ? parseArn(identity.Arn)?.partition : undefined;
  if (!identity.Account || !partition) {
    throw new Error('STS GetCallerIdentity returned no account or no parsable ARN');
  }
  return { region: resolvedRegion, accountId: identity.Account, partition };
}

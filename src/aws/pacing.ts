import { readFileSync } from 'node:fs';

/**
 * Client-side pacing of AWS API calls: token buckets sized to the documented AWS quotas, applied
 * as an AWS SDK middleware, so that the operator waits for a token instead of being throttled.
 *
 * Buckets. A rate limit keyed `service:Operation` is that operation's own bucket; one keyed
 * `service:*` is a single bucket every operation of the service shares (API Gateway's "total
 * operations" quota, DynamoDB's control-plane quota). A call takes a token from its operation's
 * bucket first, then from its service's shared bucket, so a call waiting on a slow bucket
 * (CreateRestApi, one every 3 s) holds no place in any other queue: calls of other operations go
 * on. Each bucket serves its callers first come, first served.
 *
 * Each attempt is paced, retries included: the middleware sits inside the SDK's retry loop and
 * before signing, so a long wait never makes a signature stale.
 *
 * Refill rates are paced at PACING_RATE_FACTOR of the quota: a request granted a token reaches
 * AWS a little later, and not always equally late, so pacing at exactly the quota would now and
 * then run a request over it.
 */

/** A token bucket: it refills at `ratePerSecond` and holds at most `burst` tokens. */
export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

/** Rate limits by `service:Operation` or `service:*`; service is the SDK signing name. */
export type RateLimits = Readonly<Record<string, RateLimit>>;

/** The share of each documented refill rate the pacer uses (see the module comment). */
export const PACING_RATE_FACTOR = 0.95;

const per = (seconds: number, burst = 1): RateLimit => ({ ratePerSecond: 1 / seconds, burst });
const rate = (ratePerSecond: number, burst: number): RateLimit => ({ ratePerSecond, burst });

/**
 * The documented default quotas of the operations the operator calls, per account and Region.
 * Where a quota differs by Region, the lower value ("all other Regions") is used.
 *
 * - API Gateway (Amazon API Gateway quotas, "creating, deploying and managing an API"; fixed):
 *   total operations 10/s with a burst of 40, and the per-action quotas below.
 * - Step Functions (Step Functions service quotas, "API action throttling", other Regions).
 * - EventBridge Scheduler (Scheduler quotas): 50/s per schedule operation, the lowest default the
 *   page has given (primary Regions now have 1,000-5,000); ListTagsForResource 10/s.
 * - DynamoDB: the control plane is throttled at 2,500 requests/s; the tag operations are
 *   documented at 10/s (ListTagsOfResource) and 5/s (TagResource, UntagResource). CreateTable and
 *   DeleteTable are limited by concurrency (500 tables changing at once), not by rate.
 * - EventBridge connections (HttpTask Downloaders): no per-action quota for the connection
 *   operations could be checked here, so 5/s for writes and 20/s for DescribeConnection are
 *   conservative assumptions, to be raised with --aws-rate-limits.
 * - IAM publishes no request rates; 10/s with a burst of 20, for the whole account, is a
 *   conservative assumption, to be raised with --aws-rate-limits where IAM allows more.
 */
export const AWS_DEFAULT_RATE_LIMITS: RateLimits = {
  'apigateway:*': rate(10, 40),
  'apigateway:CreateRestApi': per(3),
  'apigateway:CreateDeployment': per(5),
  'apigateway:DeleteRestApi': per(30),
  'apigateway:CreateResource': rate(5, 5),
  'apigateway:DeleteResource': rate(5, 5),
  'apigateway:GetResources': rate(2.5, 5),
  'apigateway:PutRestApi': rate(1, 1),

  'states:CreateStateMachine': rate(1, 100),
  'states:DeleteStateMachine': rate(1, 100),
  'states:UpdateStateMachine': rate(1, 100),
  'states:DescribeStateMachine': rate(20, 200),
  'states:ListStateMachines': rate(5, 100),
  'states:ListTagsForResource': rate(1, 100),
  'states:TagResource': rate(1, 200),
  'states:UntagResource': rate(1, 200),
  'states:StartExecution': rate(150, 800),
  'states:StopExecution': rate(25, 500),
  'states:DescribeExecution': rate(10, 250),
  'states:ListExecutions': rate(2, 100),
  'states:GetExecutionHistory': rate(20, 400),

  'scheduler:CreateSchedule': rate(50, 50),
  'scheduler:UpdateSchedule': rate(50, 50),
  'scheduler:GetSchedule': rate(50, 50),
  'scheduler:DeleteSchedule': rate(50, 50),
  'scheduler:ListSchedules': rate(50, 50),
  'scheduler:ListTagsForResource': rate(10, 10),

  'dynamodb:*': rate(2500, 2500),
  'dynamodb:ListTagsOfResource': rate(10, 10),
  'dynamodb:TagResource': rate(5, 5),
  'dynamodb:UntagResource': rate(5, 5),

  'events:CreateConnection': rate(5, 5),
  'events:UpdateConnection': rate(5, 5),
  'events:DeleteConnection': rate(5, 5),
  'events:DescribeConnection': rate(20, 20),

  'iam:*': rate(10, 20),
};

/** A malformed rate limit setting; the message names the part at fault. */
export class RateLimitsError extends Error {
  override readonly name = 'RateLimitsError';
}

const KEY = /^[a-z0-9-]+:(\*|[A-Z][A-Za-z0-9]*)$/;

function checkKey(key: string): string {
  if (!KEY.test(key)) {
    throw new RateLimitsError(
      `"${key}" is not service:Operation or service:* (for example apigateway:CreateRestApi)`,
    );
  }
  return key;
}

function checkLimit(key: string, ratePerSecond: number, burst: number): RateLimit {
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
    throw new RateLimitsError(`${key}: the rate must be a positive number of calls per second`);
  }
  if (!Number.isFinite(burst) || burst < 1) {
    throw new RateLimitsError(`${key}: the burst must be at least 1`);
  }
  return { ratePerSecond, burst };
}

/** `rate/burst` (`0.333/1`), or `off`; undefined for off. */
function parseLimitText(key: string, text: string): RateLimit | undefined {
  const value = text.trim();
  if (value === 'off') return undefined;
  const match = /^([0-9.eE+-]+)\/([0-9.eE+-]+)$/.exec(value);
  if (!match) throw new RateLimitsError(`${key}: "${value}" is not rate/burst (for example 2/100)`);
  return checkLimit(key, Number(match[1]), Number(match[2]));
}

function parseJsonLimits(text: string, where: string): Array<[string, RateLimit | undefined]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RateLimitsError(`${where} is not JSON`, { cause: err });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RateLimitsError(`${where} must be an object keyed by service:Operation`);
  }
  return Object.entries(parsed).map(([rawKey, value]): [string, RateLimit | undefined] => {
    const key = checkKey(rawKey);
    if (typeof value === 'string') return [key, parseLimitText(key, value)];
    if (value && typeof value === 'object') {
      const { ratePerSecond, burst } = value as Record<string, unknown>;
      return [key, checkLimit(key, Number(ratePerSecond), Number(burst))];
    }
    throw new RateLimitsError(`${key}: give "rate/burst", "off" or {ratePerSecond, burst}`);
  });
}

/**
 * Reads the `--aws-rate-limits` setting into the limits to pace with:
 * - empty or `default`: AWS_DEFAULT_RATE_LIMITS;
 * - `off`: none (no pacing);
 * - `key=rate/burst,...` (`apigateway:CreateRestApi=0.333/1,states:*=2/100`): the defaults with
 *   these changed or added; `key=off` removes one;
 * - inline JSON (`{"iam:*": "20/40"}`) or the path of a JSON file: the same, as an object whose
 *   values are `"rate/burst"`, `"off"` or `{"ratePerSecond": 2, "burst": 100}`.
 */
export function parseRateLimits(
  setting: string | undefined,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): RateLimits {
  const text = (setting ?? '').trim();
  if (text === '' || text === 'default') return AWS_DEFAULT_RATE_LIMITS;
  if (text === 'off') return {};

  let entries: Array<[string, RateLimit | undefined]>;
  if (text.startsWith('{')) {
    entries = parseJsonLimits(text, 'the rate limits');
  } else if (!text.includes('=')) {
    let content: string;
    try {
      content = readFile(text);
    } catch (err) {
      throw new RateLimitsError(`cannot read the rate limits file ${text}`, { cause: err });
    }
    entries = parseJsonLimits(content, `the rate limits file ${text}`);
  } else {
    entries = text
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part): [string, RateLimit | undefined] => {
        const at = part.indexOf('=');
        if (at < 0) throw new RateLimitsError(`"${part}" is not service:Operation=rate/burst`);
        const key = checkKey(part.slice(0, at).trim());
        return [key, parseLimitText(key, part.slice(at + 1))];
      });
  }

  const limits: Record<string, RateLimit> = { ...AWS_DEFAULT_RATE_LIMITS };
  for (const [key, limit] of entries) {
    if (limit) limits[key] = limit;
    else delete limits[key];
  }
  return limits;
}

/** Time and timers, injected so tests control them. */
export interface PacingClock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): { cancel(): void };
}

export const systemPacingClock: PacingClock = {
  now: () => performance.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
};

/** Tokens within this of a whole token count as one: float refills never quite reach 1. */
const EPSILON = 1e-9;

/** One bucket with its own first-come, first-served queue of waiting callers. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly waiters: Array<() => void> = [];
  private timer: { cancel(): void } | undefined;

  constructor(
    readonly limit: RateLimit,
    private readonly clock: PacingClock,
  ) {
    this.tokens = limit.burst;
    this.updatedAt = clock.now();
  }

  /** Callers waiting for a token. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Takes a token if one is there and nobody waits; false otherwise (then call `take`). */
  tryTake(): boolean {
    this.refill();
    if (this.waiters.length > 0 || this.tokens < 1 - EPSILON) return false;
    this.tokens -= 1;
    return true;
  }

  /** Resolves once the caller holds a token; callers before it are served first. */
  take(): Promise<void> {
    this.refill();
    if (this.waiters.length === 0 && this.tokens >= 1 - EPSILON) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.schedule();
    });
  }

  private refill(): void {
    const now = this.clock.now();
    const earned = ((now - this.updatedAt) / 1000) * this.limit.ratePerSecond;
    this.tokens = Math.min(this.limit.burst, this.tokens + earned);
    this.updatedAt = now;
  }

  private schedule(): void {
    if (this.timer || this.waiters.length === 0) return;
    const missing = Math.max(0, 1 - this.tokens);
    const delayMs = Math.max(0, Math.ceil((missing / this.limit.ratePerSecond) * 1000 - 1e-6));
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.release();
    }, delayMs);
  }

  private release(): void {
    this.refill();
    while (this.waiters.length > 0 && this.tokens >= 1 - EPSILON) {
      this.tokens -= 1;
      this.waiters.shift()?.();
    }
    this.schedule();
  }
}

/** Options of AwsPacer. */
export interface AwsPacerOptions {
  clock?: PacingClock;
  /** Share of each refill rate to pace at; default PACING_RATE_FACTOR. */
  rateFactor?: number;
  /** Told of each paced call and how long it waited (0 when a token was there). */
  onWait?: (service: string, operation: string, waitedMs: number) => void;
  /**
   * Wraps each wait for a token that is not there yet; the controller lends the caller's
   * reconcile slot meanwhile (ReconcileSlots.whileWaiting).
   */
  whileWaiting?: <T>(wait: () => Promise<T>) => Promise<T>;
}

/** The part of an AWS SDK v3 client the pacer needs. */
export interface PaceableClient {
  middlewareStack: { addRelativeTo: (...args: never[]) => void };
}

/** Paces AWS calls by (service, operation); one instance serves every client of the process. */
export class AwsPacer {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly clock: PacingClock;
  private readonly rateFactor: number;

  constructor(
    private readonly limits: RateLimits,
    private readonly options: AwsPacerOptions = {},
  ) {
    this.clock = options.clock ?? systemPacingClock;
    this.rateFactor = options.rateFactor ?? PACING_RATE_FACTOR;
  }

  /** True when no limit is set: pacing is off. */
  get off(): boolean {
    return Object.keys(this.limits).length === 0;
  }

  /**
   * Waits for a token of the operation's bucket, then of the service's shared one (each only if
   * a limit is set for it), and returns how long that took in ms.
   */
  async acquire(service: string, operation: string): Promise<number> {
    const buckets = [this.bucket(`${service}:${operation}`), this.bucket(`${service}:*`)].filter(
      (b): b is TokenBucket => b !== undefined,
    );
    if (buckets.length === 0) return 0;
    const start = this.clock.now();
    const whileWaiting = this.options.whileWaiting ?? ((wait) => wait());
    for (const bucket of buckets) {
      if (!bucket.tryTake()) await whileWaiting(() => bucket.take());
    }
    const waitedMs = this.clock.now() - start;
    this.options.onWait?.(service, operation, waitedMs);
    return waitedMs;
  }

  /** Callers waiting on the bucket of `key` (`service:Operation` or `service:*`), for tests. */
  waiting(key: string): number {
    return this.buckets.get(key)?.waiting ?? 0;
  }

  /**
   * Adds the pacing middleware to an SDK client: each attempt of each call waits for its
   * tokens. `service` is the signing name the limits are keyed by (apigateway, states...).
   */
  instrument(client: PaceableClient, service: string): void {
    if (this.off) return;
    const middleware =
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        await this.acquire(service, operation);
        return next(args);
      };
    (client.middlewareStack.addRelativeTo as (m: unknown, o: unknown) => void)(middleware, {
      name: 'downloaderOperatorPacing',
      relation: 'before',
      toMiddleware: 'httpSigningMiddleware',
      override: true,
    });
  }

  private bucket(key: string): TokenBucket | undefined {
    let bucket = this.buckets.get(key);
    if (bucket) return bucket;
    const limit = this.limits[key];
    if (!limit) return undefined;
    bucket = new TokenBucket(
      { ratePerSecond: limit.ratePerSecond * this.rateFactor, burst: limit.burst },
      this.clock,
    );
    this.buckets.set(key, bucket);
    return bucket;
  }
}

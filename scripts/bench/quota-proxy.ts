import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AWS_DEFAULT_RATE_LIMITS, type RateLimits } from '../../src/aws/pacing.js';

/**
 * A proxy in front of the local AWS that enforces AWS control-plane quotas, which moto never
 * does: each request takes a token from its operation's bucket and its service's shared bucket
 * (the same keys as --aws-rate-limits), and when either is empty it is answered with the
 * service's throttling error, shaped as AWS sends it, instead of reaching moto.
 *
 * Requests are told apart by the SigV4 credential scope (service), X-Amz-Target (JSON
 * protocols), Action (query protocols) or method and path (API Gateway, Scheduler). The data
 * path of deployed APIs, moto's own API and the launcher's endpoints pass unmetered.
 */

const REST_OPERATIONS: Array<[string, RegExp, string]> = [
  ['POST', /^\/restapis$/, 'CreateRestApi'],
  ['GET', /^\/restapis$/, 'GetRestApis'],
  ['GET', /^\/restapis\/[^/]+$/, 'GetRestApi'],
  ['DELETE', /^\/restapis\/[^/]+$/, 'DeleteRestApi'],
  ['GET', /^\/restapis\/[^/]+\/resources$/, 'GetResources'],
  ['POST', /^\/restapis\/[^/]+\/resources\/[^/]+$/, 'CreateResource'],
  ['DELETE', /^\/restapis\/[^/]+\/resources\/[^/]+$/, 'DeleteResource'],
  ['PUT', /^\/restapis\/[^/]+\/resources\/[^/]+\/methods\/[^/]+$/, 'PutMethod'],
  ['DELETE', /^\/restapis\/[^/]+\/resources\/[^/]+\/methods\/[^/]+$/, 'DeleteMethod'],
  ['PUT', /^\/restapis\/[^/]+\/resources\/[^/]+\/methods\/[^/]+\/integration$/, 'PutIntegration'],
  ['GET', /^\/restapis\/[^/]+\/resources\/[^/]+\/methods\/[^/]+\/integration$/, 'GetIntegration'],
  ['POST', /^\/restapis\/[^/]+\/deployments$/, 'CreateDeployment'],
  ['GET', /^\/restapis\/[^/]+\/deployments\/[^/]+$/, 'GetDeployment'],
  ['GET', /^\/restapis\/[^/]+\/stages\/[^/]+$/, 'GetStage'],
  ['POST', /^\/schedules\/[^/]+$/, 'CreateSchedule'],
  ['PUT', /^\/schedules\/[^/]+$/, 'UpdateSchedule'],
  ['GET', /^\/schedules\/[^/]+$/, 'GetSchedule'],
  ['DELETE', /^\/schedules\/[^/]+$/, 'DeleteSchedule'],
  ['GET', /^\/schedules$/, 'ListSchedules'],
  ['GET', /^\/tags\/.+$/, 'ListTagsForResource'],
  ['POST', /^\/tags\/.+$/, 'TagResource'],
];

const UNMETERED = /^\/(restapis\/[^/]+\/[^/]+\/_user_request_(\/|$)|moto-api|_launcher)/;

/** Service and operation of one request. */
export function operationOf(
  method: string,
  path: string,
  headers: http.IncomingHttpHeaders,
  body: string,
): { service: string; operation: string } | undefined {
  if (UNMETERED.test(path)) return undefined;
  const authorization = String(headers.authorization ?? '');
  const service = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization)?.[1];
  if (!service) return undefined;
  const target = String(headers['x-amz-target'] ?? '');
  if (target) return { service, operation: target.slice(target.indexOf('.') + 1) };
  if (service === 'iam' || service === 'sts') {
    return { service, operation: new URLSearchParams(body).get('Action') ?? 'Unknown' };
  }
  const known = REST_OPERATIONS.find(([m, pattern]) => m === method && pattern.test(path));
  return { service, operation: known?.[2] ?? `${method} ${path}` };
}

/** The throttling answer of each protocol, as AWS sends it. */
export function throttlingAnswer(service: string): {
  status: number;
  headers: Record<string, string>;
  body: string;
} {
  const requestId = randomUUID();
  if (service === 'iam' || service === 'sts') {
    const ns = `https://${service}.amazonaws.com/doc/${service === 'iam' ? '2010-05-08' : '2011-06-15'}/`;
    return {
      status: 400,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body:
        `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>Throttling</Code>` +
        `<Message>Rate exceeded</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  if (service === 'apigateway' || service === 'scheduler') {
    const code = service === 'apigateway' ? 'TooManyRequestsException' : 'ThrottlingException';
    return {
      status: 429,
      headers: {
        'content-type': 'application/json',
        'x-amzn-requestid': requestId,
        'x-amzn-errortype': code,
      },
      body: JSON.stringify({ message: 'Too Many Requests' }),
    };
  }
  const type =
    service === 'dynamodb'
      ? 'com.amazonaws.dynamodb.v20120810#ThrottlingException'
      : 'ThrottlingException';
  return {
    status: 400,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId },
    body: JSON.stringify({ __type: type, message: 'Rate exceeded' }),
  };
}

/** A server-side bucket: a request either finds a token now or is throttled. */
class Bucket {
  private tokens: number;
  private at = performance.now();
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  available(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.ratePerSecond);
    this.at = now;
    return this.tokens >= 1;
  }
  take(): void {
    this.tokens -= 1;
  }
}

/** Requests and throttled requests per `service:operation`. */
export interface QuotaCounts {
  requests: Map<string, number>;
  throttled: Map<string, number>;
}

/** The running proxy. */
export class QuotaProxy {
  private readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly buckets = new Map<string, Bucket>();
  readonly counts: QuotaCounts = { requests: new Map(), throttled: new Map() };

  private constructor(
    private readonly target: URL,
    private readonly limits: RateLimits,
  ) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  /** Starts a proxy to `target` on a free loopback port. */
  static async start(target: string, limits = AWS_DEFAULT_RATE_LIMITS): Promise<QuotaProxy> {
    const proxy = new QuotaProxy(new URL(target), limits);
    await new Promise<void>((ok) => proxy.server.listen(0, '127.0.0.1', ok));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
    this.agent.destroy();
  }

  private bucket(key: string): Bucket | undefined {
    let bucket = this.buckets.get(key);
    const limit = this.limits[key];
    if (!bucket && limit) {
      bucket = new Bucket(limit.ratePerSecond, limit.burst);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const call = operationOf(req.method ?? 'GET', path, req.headers, body.toString());
      if (call) {
        const key = `${call.service}:${call.operation}`;
        this.counts.requests.set(key, (this.counts.requests.get(key) ?? 0) + 1);
        const buckets = [this.bucket(key), this.bucket(`${call.service}:*`)].filter(
          (b): b is Bucket => b !== undefined,
        );
        if (!buckets.every((b) => b.available())) {
          this.counts.throttled.set(key, (this.counts.throttled.get(key) ?? 0) + 1);
          const answer = throttlingAnswer(call.service);
          res.writeHead(answer.status, answer.headers).end(answer.body);
          return;
        }
        for (const b of buckets) b.take();
      }
      this.forward(req, res, body);
    });
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const upstream = http.request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': String(body.length) },
        agent: this.agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  }
}

/**
 * The least time the quotas allow for `calls` (by `service:operation`): every bucket starts
 * full, so a bucket with burst b and rate r needs (c - b) / r seconds for c calls; the slowest
 * bucket decides. A lower bound: it ignores that some calls must wait for others.
 */
export function quotaMinimum(
  calls: Map<string, number>,
  limits: RateLimits = AWS_DEFAULT_RATE_LIMITS,
): { seconds: number; bucket: string } {
  const perBucket = new Map<string, number>();
  for (const [key, count] of calls) {
    const service = key.slice(0, key.indexOf(':'));
    for (const bucket of [key, `${service}:*`]) {
      if (limits[bucket]) perBucket.set(bucket, (perBucket.get(bucket) ?? 0) + count);
    }
  }
  let best = { seconds: 0, bucket: '' };
  for (const [bucket, count] of perBucket) {
    const limit = limits[bucket];
    if (!limit) continue;
    const seconds = Math.max(0, (count - limit.burst) / limit.ratePerSecond);
    if (seconds > best.seconds) best = { seconds, bucket };
  }
  return best;
}

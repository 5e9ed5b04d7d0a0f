import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Prng } from './prng.js';

/**
 * A fault-injecting HTTP proxy between the operator and the local AWS (moto). The operator's
 * AWS_ENDPOINT_URL points here; each request to one of moto's AWS APIs is either forwarded
 * unchanged or answered with a fault, chosen by a seeded generator:
 *
 * - `throttle`: the throttling error of the service's protocol, shaped as AWS sends it
 *   (JSON 1.0 services: 400 and `{"__type": "...ThrottlingException"}`; API Gateway: 429
 *   TooManyRequestsException; Scheduler: 429 ThrottlingException; IAM and STS: 400 XML
 *   `<Code>Throttling</Code>`);
 * - `error500`, `error503`: a server fault in the protocol's shape;
 * - `resetBefore`: the connection is destroyed before the request reaches moto;
 * - `resetAfter`: moto processes the request, then the connection is destroyed before the
 *   answer is sent, so the client cannot know the change was made (a lost response);
 * - `slow`: the request is forwarded after a delay.
 *
 * Rules (`addRule`) answer chosen requests with a given fault whatever the rate, for example
 * AccessDeniedException for every DynamoDB call naming one table.
 *
 * The data path of deployed REST APIs (`/restapis/<id>/<stage>/_user_request_/...`), moto's
 * own API (`/moto-api`) and the launcher's debug endpoints are always forwarded unless
 * `faultDataPath` is set. The generator is seeded, so the sequence of decisions repeats for a
 * seed; which request meets which decision depends on the order requests arrive in.
 */

/** Faults the proxy picks at random. */
export const RANDOM_FAULT_KINDS = [
  'throttle',
  'error500',
  'error503',
  'resetBefore',
  'resetAfter',
  'slow',
] as const;
export type RandomFaultKind = (typeof RANDOM_FAULT_KINDS)[number];

/** Every fault, rules included. */
export type FaultKind = RandomFaultKind | 'accessDenied';

/** The wire protocol of an AWS service, which decides how its errors look. */
export type AwsProtocol = 'json' | 'rest-json' | 'query';

const PROTOCOLS: Record<string, AwsProtocol> = {
  dynamodb: 'json',
  states: 'json',
  apigateway: 'rest-json',
  scheduler: 'rest-json',
  iam: 'query',
  sts: 'query',
};

/** What the proxy understood of one request. */
export interface AwsRequestInfo {
  /** Signing name of the service: dynamodb, states, apigateway, scheduler, iam, sts... */
  service: string;
  protocol: AwsProtocol;
  /** The API operation, for example CreateRestApi, or `METHOD /path` when unknown. */
  operation: string;
  /** Name of the resource a Create* call makes, when the request names it. */
  resourceName?: string;
  /** True for requests that are not AWS API calls (data path, moto and launcher endpoints). */
  passThrough: boolean;
}

/** API Gateway and Scheduler operations by method and path (REST protocols). */
const REST_OPERATIONS: Array<[string, RegExp, string]> = [
  ['POST', /^\/restapis$/, 'CreateRestApi'],
  ['GET', /^\/restapis$/, 'GetRestApis'],
  ['GET', /^\/restapis\/[^/]+$/, 'GetRestApi'],
  ['DELETE', /^\/restapis\/[^/]+$/, 'DeleteRestApi'],
  ['GET', /^\/restapis\/[^/]+\/resources$/, 'GetResources'],
  ['POST', /^\/restapis\/[^/]+\/resources\/[^/]+$/, 'CreateResource'],
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
];

const DATA_PATH = /^\/restapis\/[^/]+\/[^/]+\/_user_request_(\/|$)/;

function headerValue(headers: http.IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

function parseJson(body: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const asString = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : undefined;

/** Works out the service, protocol, operation and created resource name of a request. */
export function classifyRequest(
  method: string,
  url: string,
  headers: http.IncomingHttpHeaders,
  body: string,
): AwsRequestInfo {
  const path = url.split('?')[0] ?? '/';
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(
    headerValue(headers, 'authorization'),
  );
  const target = headerValue(headers, 'x-amz-target');
  let service = scope?.[1];
  if (!service) {
    if (target.startsWith('DynamoDB')) service = 'dynamodb';
    else if (target.startsWith('AWSStepFunctions')) service = 'states';
    else if (path.startsWith('/restapis')) service = 'apigateway';
    else if (path.startsWith('/schedules')) service = 'scheduler';
    else service = 'unknown';
  }
  const passThrough =
    DATA_PATH.test(path) || path.startsWith('/moto-api') || path.startsWith('/_launcher');
  const protocol = PROTOCOLS[service] ?? 'json';

  let operation = `${method} ${path}`;
  let resourceName: string | undefined;
  if (target) {
    operation = target.slice(target.indexOf('.') + 1);
    const json = parseJson(body);
    if (operation === 'CreateTable') resourceName = asString(json.TableName);
    if (operation === 'CreateStateMachine') resourceName = asString(json.name);
  } else if (protocol === 'query') {
    const form = new URLSearchParams(body);
    operation = form.get('Action') ?? operation;
    if (operation === 'CreateRole') resourceName = form.get('RoleName') ?? undefined;
  } else {
    const known = REST_OPERATIONS.find(([m, pattern]) => m === method && pattern.test(path));
    if (known) operation = known[2];
    if (operation === 'CreateRestApi') resourceName = asString(parseJson(body).name);
    if (operation === 'CreateSchedule') {
      resourceName = decodeURIComponent(path.split('/')[2] ?? '');
    }
  }
  return {
    service,
    protocol,
    operation,
    ...(resourceName ? { resourceName } : {}),
    passThrough,
  };
}

/** An HTTP answer. */
export interface FaultAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const XML_NAMESPACES: Record<string, string> = {
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
};

/** The error code, HTTP status and message of a fault, per service. */
function errorCode(
  service: string,
  fault: 'throttle' | 'error500' | 'error503' | 'accessDenied',
): { code: string; status: number; message: string } {
  const protocol = PROTOCOLS[service] ?? 'json';
  switch (fault) {
    case 'throttle':
      if (service === 'apigateway') {
        return { code: 'TooManyRequestsException', status: 429, message: 'Too Many Requests' };
      }
      if (protocol === 'rest-json') {
        return { code: 'ThrottlingException', status: 429, message: 'Rate exceeded' };
      }
      if (protocol === 'query')
        return { code: 'Throttling', status: 400, message: 'Rate exceeded' };
      return {
        code:
          service === 'dynamodb'
            ? 'com.amazonaws.dynamodb.v20120810#ThrottlingException'
            : 'ThrottlingException',
        status: 400,
        message: 'Rate of requests exceeds the allowed throughput.',
      };
    case 'error500':
      if (protocol === 'query') {
        return {
          code: service === 'iam' ? 'ServiceFailure' : 'InternalFailure',
          status: 500,
          message: 'Request processing has failed due to some unknown error.',
        };
      }
      if (service === 'dynamodb') {
        return {
          code: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
          status: 500,
          message: 'Internal server error',
        };
      }
      if (service === 'scheduler') {
        return { code: 'InternalServerException', status: 500, message: 'Internal error' };
      }
      return { code: 'InternalFailure', status: 500, message: 'Internal failure' };
    case 'error503':
      return {
        code: protocol === 'query' ? 'ServiceUnavailable' : 'ServiceUnavailableException',
        status: 503,
        message: 'Service is unavailable. Try again later.',
      };
    case 'accessDenied':
      return {
        code:
          service === 'dynamodb'
            ? 'com.amazon.coral.service#AccessDeniedException'
            : protocol === 'query'
              ? 'AccessDenied'
              : 'AccessDeniedException',
        status: protocol === 'json' ? 400 : 403,
        message:
          'User: arn:aws:sts::123456789012:assumed-role/downloader-operator/test is not ' +
          `authorized to perform: ${service}:* because no identity-based policy allows it`,
      };
  }
}

/** The error answer AWS gives for `fault` on a request to `service`. */
export function errorAnswer(
  service: string,
  fault: 'throttle' | 'error500' | 'error503' | 'accessDenied',
): FaultAnswer {
  const { code, status, message } = errorCode(service, fault);
  const requestId = randomUUID();
  const protocol = PROTOCOLS[service] ?? 'json';
  const bareCode = code.slice(code.indexOf('#') + 1);
  if (protocol === 'query') {
    const type = status >= 500 ? 'Receiver' : 'Sender';
    const namespace = XML_NAMESPACES[service] ?? XML_NAMESPACES.iam;
    return {
      status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body:
        `<ErrorResponse xmlns="${namespace}"><Error><Type>${type}</Type><Code>${code}</Code>` +
        `<Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  if (protocol === 'json') {
    return {
      status,
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': requestId,
        'x-amzn-errortype': `${bareCode}:`,
      },
      body: JSON.stringify({ __type: code, message }),
    };
  }
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': bareCode,
      ...(status === 429 ? { 'retry-after': '1' } : {}),
    },
    body: JSON.stringify(service === 'apigateway' ? { message } : { Message: message }),
  };
}

/** A request matcher and the fault it gets, before any random decision. */
export interface FaultRule {
  service?: string;
  operation?: string;
  /** Matches when the request body contains this text (a table name, a role name...). */
  bodyIncludes?: string;
  fault: FaultKind;
  /** How many requests the rule answers; unlimited when left out. */
  times?: number;
}

/** Settings of the proxy. */
export interface FaultProxyOptions {
  /** moto's endpoint, for example http://127.0.0.1:4566. */
  target: string;
  seed: number;
  /** Probability that a request to an AWS API gets a random fault. */
  rate?: number;
  /** Relative weights of the random faults; default all equal. */
  kinds?: Partial<Record<RandomFaultKind, number>>;
  /** Services that get random faults; default all. */
  services?: readonly string[];
  /** Delay range of `slow`, in ms. */
  slowMs?: readonly [number, number];
  /** Fault the REST API data path too (off by default). */
  faultDataPath?: boolean;
}

/** Counters of one service or operation. */
export interface FaultCounters {
  requests: number;
  forwarded: number;
  faults: Partial<Record<FaultKind, number>>;
}

/** A Create* call moto answered with success, as seen by the proxy. */
export interface CreateRecord {
  service: string;
  operation: string;
  resourceName?: string;
  /**
   * Identity of what moto made, from its answer (REST API id, ARN, role id): two records of one
   * name with different ids are two resources; with the same id, an idempotent create.
   */
  resourceId?: string;
  /** Whether the client got the answer (false for resetAfter: the change was made unseen). */
  delivered: boolean;
  at: number;
}

const CREATE_OPERATIONS = new Set([
  'CreateRestApi',
  'CreateTable',
  'CreateStateMachine',
  'CreateRole',
  'CreateSchedule',
]);

/** The id of the resource a Create* answer describes. */
function createdId(operation: string, body: string): string | undefined {
  if (operation === 'CreateRole') return /<RoleId>([^<]+)<\/RoleId>/.exec(body)?.[1];
  const json = parseJson(body);
  switch (operation) {
    case 'CreateRestApi':
      return asString(json.id);
    case 'CreateTable':
      return asString((json.TableDescription as Record<string, unknown> | undefined)?.TableArn);
    case 'CreateStateMachine':
      return asString(json.stateMachineArn);
    case 'CreateSchedule':
      return asString(json.ScheduleArn);
    default:
      return undefined;
  }
}

/**
 * Names that moto answered Create* for with more than one distinct resource: duplicates, which
 * only a blind retry of a non-idempotent create makes.
 */
export function createdTwice(records: readonly CreateRecord[]): string[] {
  const ids = new Map<string, Set<string>>();
  for (const record of records) {
    const key = `${record.operation} ${record.resourceName ?? '?'}`;
    const set = ids.get(key) ?? new Set<string>();
    set.add(record.resourceId ?? `unknown-${record.at}`);
    ids.set(key, set);
  }
  return [...ids].filter(([, set]) => set.size > 1).map(([key]) => key);
}

function emptyCounters(): FaultCounters {
  return { requests: 0, forwarded: 0, faults: {} };
}

/** The running proxy. */
export class AwsFaultProxy {
  private readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly prng: Prng;
  private rate: number;
  private kinds: Partial<Record<RandomFaultKind, number>>;
  private rules: FaultRule[] = [];
  private readonly byService = new Map<string, FaultCounters>();
  private readonly byOperation = new Map<string, FaultCounters>();
  private readonly createRecords: CreateRecord[] = [];
  private readonly targetUrl: URL;

  private constructor(private readonly options: FaultProxyOptions) {
    this.prng = new Prng(options.seed);
    this.rate = options.rate ?? 0;
    this.kinds = options.kinds ?? Object.fromEntries(RANDOM_FAULT_KINDS.map((k) => [k, 1]));
    this.targetUrl = new URL(options.target);
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  /** Starts a proxy on a free loopback port. */
  static async start(options: FaultProxyOptions): Promise<AwsFaultProxy> {
    const proxy = new AwsFaultProxy(options);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The endpoint to give clients as AWS_ENDPOINT_URL. */
  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Changes the probability of a random fault from now on. */
  setRate(rate: number): void {
    this.rate = rate;
  }

  /** Changes the weights of the random faults from now on. */
  setKinds(kinds: Partial<Record<RandomFaultKind, number>>): void {
    this.kinds = kinds;
  }

  /** Adds a rule; returns a function that removes it. */
  addRule(rule: FaultRule): () => void {
    const entry = { ...rule };
    this.rules.push(entry);
    return () => {
      this.rules = this.rules.filter((r) => r !== entry);
    };
  }

  /** Counters per service. */
  serviceStats(): Record<string, FaultCounters> {
    return Object.fromEntries(this.byService);
  }

  /** Counters per `service:operation`. */
  operationStats(): Record<string, FaultCounters> {
    return Object.fromEntries(this.byOperation);
  }

  /** Totals over every AWS API request. */
  totals(): FaultCounters {
    const total = emptyCounters();
    for (const counters of this.byService.values()) {
      total.requests += counters.requests;
      total.forwarded += counters.forwarded;
      for (const [kind, n] of Object.entries(counters.faults) as Array<[FaultKind, number]>) {
        total.faults[kind] = (total.faults[kind] ?? 0) + n;
      }
    }
    return total;
  }

  /** Successful Create* calls moto answered, in order. */
  creates(): CreateRecord[] {
    return [...this.createRecords];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  private count(info: AwsRequestInfo, update: (c: FaultCounters) => void): void {
    for (const [map, key] of [
      [this.byService, info.service],
      [this.byOperation, `${info.service}:${info.operation}`],
    ] as const) {
      let counters = map.get(key);
      if (!counters) {
        counters = emptyCounters();
        map.set(key, counters);
      }
      update(counters);
    }
  }

  private decide(info: AwsRequestInfo, body: string): FaultKind | undefined {
    const rule = this.rules.find(
      (r) =>
        (r.service === undefined || r.service === info.service) &&
        (r.operation === undefined || r.operation === info.operation) &&
        (r.bodyIncludes === undefined || body.includes(r.bodyIncludes)) &&
        (r.times === undefined || r.times > 0),
    );
    if (rule) {
      if (rule.times !== undefined) rule.times -= 1;
      return rule.fault;
    }
    if (info.passThrough && !this.options.faultDataPath) return undefined;
    if (this.options.services && !this.options.services.includes(info.service)) return undefined;
    if (this.rate <= 0 || !this.prng.chance(this.rate)) return undefined;
    return this.prng.weighted(this.kinds);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined);
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const info = classifyRequest(
        req.method ?? 'GET',
        req.url ?? '/',
        req.headers,
        body.toString(),
      );
      const fault = this.decide(info, body.toString());
      this.count(info, (c) => {
        c.requests += 1;
        if (fault) c.faults[fault] = (c.faults[fault] ?? 0) + 1;
      });
      switch (fault) {
        case undefined:
          return this.forward(req, res, body, info, false);
        case 'resetBefore':
          req.socket.destroy();
          return;
        case 'resetAfter':
          return this.forward(req, res, body, info, true);
        case 'slow': {
          const [min, max] = this.options.slowMs ?? [500, 2_500];
          setTimeout(() => this.forward(req, res, body, info, false), this.prng.int(min, max));
          return;
        }
        default: {
          const answer = errorAnswer(info.service, fault);
          res.writeHead(answer.status, {
            ...answer.headers,
            'content-length': Buffer.byteLength(answer.body),
          });
          res.end(answer.body);
        }
      }
    });
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    info: AwsRequestInfo,
    dropAnswer: boolean,
  ): void {
    const upstream = http.request(
      {
        host: this.targetUrl.hostname,
        port: this.targetUrl.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': String(body.length) },
        agent: this.agent,
      },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          const status = answer.statusCode ?? 502;
          this.count(info, (c) => (c.forwarded += 1));
          if (CREATE_OPERATIONS.has(info.operation) && status >= 200 && status < 300) {
            const resourceId = createdId(info.operation, Buffer.concat(parts).toString());
            this.createRecords.push({
              service: info.service,
              operation: info.operation,
              ...(info.resourceName ? { resourceName: info.resourceName } : {}),
              ...(resourceId ? { resourceId } : {}),
              delivered: !dropAnswer,
              at: Date.now(),
            });
          }
          if (dropAnswer) {
            req.socket.destroy();
            return;
          }
          const headers = { ...answer.headers };
          delete headers['transfer-encoding'];
          const payload = Buffer.concat(parts);
          headers['content-length'] = String(payload.length);
          res.writeHead(status, headers);
          res.end(payload);
        });
      },
    );
    upstream.on('error', () => req.socket.destroy());
    upstream.end(body);
  }
}

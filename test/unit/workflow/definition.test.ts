import type { DownloaderSpec } from '../../../src/api/downloader-spec.js';
import type { Retrier, StateMachineDefinition, TaskState } from '../../../src/workflow/asl.js';
import {
  DOWNLOAD_RETRY,
  DOWNLOAD_STATE,
  DOWNLOAD_TIMEOUT_SECONDS,
  PERSIST_RETRY,
  PERSIST_STATE,
  PERSIST_TIMEOUT_SECONDS,
  buildDefinition,
  definitionsEqual,
  renderDefinition,
} from '../../../src/workflow/definition.js';
import { DefinitionError } from '../../../src/workflow/definition-error.js';
import { parseQueryParameters, splitPath } from '../../../src/workflow/source-request.js';
import { aslErrors } from './asl-validate.js';
import { ARTICLE_ENDPOINT, eveSpec, inputFor } from './fixtures.js';

/** The definition of the seed article's section 3, verbatim. */
const ARTICLE_DEFINITION = {
  StartAt: 'Get player count',
  States: {
    'Get player count': {
      Type: 'Task',
      Resource: 'arn:aws:states:::apigateway:invoke',
      Parameters: {
        ApiEndpoint: 'xxxxxxxxxx.execute-api.us-east-1.amazonaws.com',
        Stage: 'prod',
        Method: 'GET',
        Path: '/v2/status',
      },
      Next: 'Store player count',
    },
    'Store player count': {
      Type: 'Task',
      Resource: 'arn:aws:states:::dynamodb:putItem',
      Parameters: {
        TableName: 'PlayerCountTable',
        Item: {
          pk: { 'S.$': '$.Headers.Date[0]' },
          count: { 'N.$': 'States.Format($.ResponseBody.players)' },
        },
      },
      End: true,
    },
  },
};

const download = (definition: StateMachineDefinition): TaskState => {
  const state = definition.States[DOWNLOAD_STATE];
  if (state?.Type !== 'Task') throw new Error('no download state');
  return state;
};

const persist = (definition: StateMachineDefinition): TaskState => {
  const state = definition.States[PERSIST_STATE];
  if (state?.Type !== 'Task') throw new Error('no persist state');
  return state;
};

/**
 * The retrier Step Functions would use for an error: the first whose ErrorEquals matches, where
 * States.ALL matches everything and States.TaskFailed everything but States.Timeout.
 */
function retrierFor(retry: readonly Retrier[] | undefined, error: string): Retrier | undefined {
  return retry?.find((retrier) =>
    retrier.ErrorEquals.some(
      (name) =>
        name === error ||
        name === 'States.ALL' ||
        (name === 'States.TaskFailed' && error !== 'States.Timeout'),
    ),
  );
}

/** How many times Step Functions would retry an error (MaxAttempts defaults to 3). */
function retriesFor(retry: readonly Retrier[] | undefined, error: string): number {
  const retrier = retrierFor(retry, error);
  return retrier ? (retrier.MaxAttempts ?? 3) : 0;
}

const AUTH = {
  secretRef: { name: 'esi-secret-name', key: 'esi-secret-key' },
  header: 'X-Esi-Credential',
  prefix: 'Token-Prefix ',
};
const AUTH_STRINGS = ['esi-secret-name', 'esi-secret-key', 'X-Esi-Credential', 'Token-Prefix'];

describe('buildDefinition', () => {
  it('gives the EVE example the article states plus retries, timeouts and a Comment', () => {
    const definition = buildDefinition(inputFor(eveSpec()));

    expect(definition).toEqual({
      Comment: 'Downloader eve/eve-player-count, managed by downloader-operator',
      StartAt: 'Download',
      States: {
        Download: {
          Type: 'Task',
          Resource: 'arn:aws:states:::apigateway:invoke',
          Parameters: {
            ApiEndpoint: ARTICLE_ENDPOINT,
            Method: 'GET',
            Stage: 'prod',
            Path: '/v2/status',
            AuthType: 'NO_AUTH',
          },
          TimeoutSeconds: DOWNLOAD_TIMEOUT_SECONDS,
          Retry: DOWNLOAD_RETRY,
          Next: 'Persist',
        },
        Persist: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:putItem',
          Parameters: {
            TableName: 'PlayerCountTable',
            Item: {
              count: { 'N.$': "States.Format('{}', $.ResponseBody.players)" },
              pk: { 'S.$': '$.Headers.Date[0]' },
            },
          },
          ResultPath: null,
          TimeoutSeconds: PERSIST_TIMEOUT_SECONDS,
          Retry: PERSIST_RETRY,
          End: true,
        },
      },
    });
    expect(aslErrors(definition)).toBe('');
  });

  it('equals the article definition once the operator additions are taken out', () => {
    const definition = JSON.parse(renderDefinition(buildDefinition(inputFor(eveSpec()))));

    // What the operator adds or names differently, undone: the state names, the Comment, the
    // explicit default AuthType, retries, timeouts and ResultPath. The article writes
    // States.Format($.x), which AWS rejects (the first argument is the template); the operator
    // writes States.Format('{}', $.x).
    const names: Record<string, string> = {
      Download: 'Get player count',
      Persist: 'Store player count',
    };
    const states: Record<string, unknown> = {};
    for (const [name, state] of Object.entries(definition.States)) {
      const { Retry, TimeoutSeconds, ResultPath, ...rest } = state as Record<string, unknown>;
      expect([Retry, TimeoutSeconds]).not.toContain(undefined);
      void ResultPath;
      const task = rest as { Next?: string; Parameters: Record<string, unknown> };
      if (task.Next) task.Next = names[task.Next] ?? task.Next;
      delete task.Parameters.AuthType;
      states[names[name] ?? name] = task;
    }
    const article = JSON.stringify({ StartAt: names[definition.StartAt], States: states }).replace(
      /States\.Format\('\{\}', ([^)]+)\)/g,
      'States.Format($1)',
    );

    expect(JSON.parse(article)).toEqual(ARTICLE_DEFINITION);
  });

  it('wraps N paths in States.Format and leaves S, B and BOOL paths as they are', () => {
    const spec = eveSpec({
      item: {
        pk: { S: '$.ResponseBody.id' },
        count: { N: '$.ResponseBody.players' },
        blob: { B: '$.ResponseBody.blob' },
        online: { BOOL: '$.ResponseBody.vip' },
      },
    });

    const item = persist(buildDefinition(inputFor(spec))).Parameters?.Item;

    expect(item).toEqual({
      blob: { 'B.$': '$.ResponseBody.blob' },
      count: { 'N.$': "States.Format('{}', $.ResponseBody.players)" },
      online: { 'BOOL.$': '$.ResponseBody.vip' },
      pk: { 'S.$': '$.ResponseBody.id' },
    });
  });

  it('writes literals as DynamoDB wants: strings for S, B, N and booleans for BOOL, NULL', () => {
    const spec = eveSpec({
      item: {
        pk: { S: 'tranquility' },
        weight: { N: '-12.5e3' },
        data: { B: 'aGVsbG8=' },
        up: { BOOL: 'true' },
        down: { BOOL: 'false' },
        nothing: { NULL: 'true' },
      },
    });

    const item = persist(buildDefinition(inputFor(spec))).Parameters?.Item;

    expect(item).toEqual({
      data: { B: 'aGVsbG8=' },
      down: { BOOL: false },
      nothing: { NULL: true },
      pk: { S: 'tranquility' },
      up: { BOOL: true },
      weight: { N: '-12.5e3' },
    });
  });

  it('sends the path without its query, and the query as lists keeping repeated keys', () => {
    const spec = eveSpec({ source: { path: '/v1/markets?type=34&region=10&type=35&flag' } });

    const parameters = download(buildDefinition(inputFor(spec))).Parameters;

    expect(parameters?.Path).toBe('/v1/markets');
    expect(parameters?.QueryParameters).toEqual({
      flag: [''],
      region: ['10'],
      type: ['34', '35'],
    });
  });

  it('omits QueryParameters, Headers and RequestBody when the spec has none', () => {
    const spec = eveSpec({ source: { path: '/v2/status?', headers: {} } });

    const parameters = download(buildDefinition(inputFor(spec))).Parameters ?? {};

    expect(Object.keys(parameters)).toEqual(['ApiEndpoint', 'Method', 'Stage', 'Path', 'AuthType']);
  });

  it('sends static headers as one-value lists, sorted by name', () => {
    const spec = eveSpec({
      source: { headers: { 'User-Agent': 'downloader/1.0', Accept: 'application/json' } },
    });

    const headers = download(buildDefinition(inputFor(spec))).Parameters?.Headers;

    expect(headers).toEqual({ Accept: ['application/json'], 'User-Agent': ['downloader/1.0'] });
    expect(Object.keys(headers ?? {})).toEqual(['Accept', 'User-Agent']);
  });

  it('puts nothing of source.auth in the definition: no header, prefix, Secret name or key', () => {
    const spec = eveSpec({ source: { auth: AUTH, headers: { Accept: 'application/json' } } });

    const rendered = renderDefinition(buildDefinition(inputFor(spec)));

    for (const text of AUTH_STRINGS) expect(rendered).not.toContain(text);
    expect(rendered).not.toMatch(/authorization/i);
    expect(download(JSON.parse(rendered)).Parameters?.AuthType).toBe('NO_AUTH');
  });

  it('adds a ResultSelector for select, whose names the item paths then read', () => {
    const spec = eveSpec({
      select: { players: '$.ResponseBody.players', date: '$.Headers.Date[0]' },
      item: { pk: { S: '$.date' }, count: { N: '$.players' } },
    });

    const definition = buildDefinition(inputFor(spec));

    expect(download(definition).ResultSelector).toEqual({
      'date.$': '$.Headers.Date[0]',
      'players.$': '$.ResponseBody.players',
    });
    expect(persist(definition).Parameters?.Item).toEqual({
      count: { 'N.$': "States.Format('{}', $.players)" },
      pk: { 'S.$': '$.date' },
    });
  });

  it('has no ResultSelector without select', () => {
    expect(download(buildDefinition(inputFor(eveSpec())))).not.toHaveProperty('ResultSelector');
  });

  it('uses the given AuthType, partition and table name', () => {
    const input = inputFor(eveSpec(), {
      authType: 'IAM_ROLE',
      partition: 'aws-cn',
      tableName: 'AdoptedTable',
    });

    const definition = buildDefinition(input);

    expect(download(definition).Resource).toBe('arn:aws-cn:states:::apigateway:invoke');
    expect(download(definition).Parameters?.AuthType).toBe('IAM_ROLE');
    expect(persist(definition).Resource).toBe('arn:aws-cn:states:::dynamodb:putItem');
    expect(persist(definition).Parameters?.TableName).toBe('AdoptedTable');
  });

  it('gives STANDARD and EXPRESS workflows the same definition', () => {
    const standard = buildDefinition(inputFor(eveSpec({ workflow: { type: 'STANDARD' } })));
    const express = buildDefinition(inputFor(eveSpec({ workflow: { type: 'EXPRESS' } })));

    expect(renderDefinition(express)).toBe(renderDefinition(standard));
  });

  it('renders the same string whatever order the spec maps come in', () => {
    const forward = eveSpec({
      source: { headers: { A: '1', B: '2' }, path: '/x?b=1&a=2' },
      select: { one: '$.a', two: '$.b' },
      item: { pk: { S: '$.one' }, other: { N: '$.two' } },
    });
    const backward = eveSpec({
      source: { headers: { B: '2', A: '1' }, path: '/x?a=2&b=1' },
      select: { two: '$.b', one: '$.a' },
      item: { other: { N: '$.two' }, pk: { S: '$.one' } },
    });

    expect(renderDefinition(buildDefinition(inputFor(backward)))).toBe(
      renderDefinition(buildDefinition(inputFor(forward))),
    );
  });

  describe('download retries', () => {
    const retry = DOWNLOAD_RETRY;

    it.each([429, 500, 502, 503, 504])(
      'retries ApiGateway.%i with exponential backoff and full jitter',
      (status) => {
        const retrier = retrierFor(retry, `ApiGateway.${status}`);

        expect(retrier?.ErrorEquals).toContain(`ApiGateway.${status}`);
        expect(retrier?.MaxAttempts).toBeGreaterThan(0);
        expect(retrier?.MaxAttempts).toBeLessThanOrEqual(5);
        expect(retrier?.BackoffRate).toBeGreaterThan(1);
        expect(retrier?.JitterStrategy).toBe('FULL');
        expect(retrier?.MaxDelaySeconds).toBeDefined();
      },
    );

    it('waits longer before retrying a 429 than a 5xx', () => {
      const throttled = retrierFor(retry, 'ApiGateway.429');
      const failed = retrierFor(retry, 'ApiGateway.503');

      expect(throttled?.IntervalSeconds).toBeGreaterThan(failed?.IntervalSeconds ?? 0);
    });

    it('never retries a 4xx other than 429', () => {
      const retried = range(400, 499).filter(
        (status) => status !== 429 && retriesFor(retry, `ApiGateway.${status}`) > 0,
      );

      expect(retried).toEqual([]);
    });

    it('never retries redirects or 501 Not Implemented', () => {
      for (const status of [301, 302, 307, 308, 501, 505]) {
        expect(retriesFor(retry, `ApiGateway.${status}`)).toBe(0);
      }
    });

    it('retries a hung attempt and a failure without HTTP status a bounded number of times', () => {
      expect(retriesFor(retry, 'States.Timeout')).toBeGreaterThan(0);
      expect(retriesFor(retry, 'ApiGateway.SocketTimeoutException')).toBeGreaterThan(0);
      expect(retriesFor(retry, 'ApiGateway.SocketTimeoutException')).toBeLessThanOrEqual(3);
    });

    it('bounds the worst-case total wait below the five minutes of an Express execution', () => {
      const waits = retry.map((retrier) => {
        let total = 0;
        let delay = retrier.IntervalSeconds ?? 1;
        for (let attempt = 0; attempt < (retrier.MaxAttempts ?? 3); attempt++) {
          total += Math.min(delay, retrier.MaxDelaySeconds ?? Infinity);
          delay *= retrier.BackoffRate ?? 2;
        }
        return total;
      });

      expect(waits.reduce((sum, wait) => sum + wait, 0)).toBeLessThan(120);
    });
  });

  describe('put-item retries', () => {
    it.each([
      'DynamoDB.ProvisionedThroughputExceededException',
      'DynamoDB.ThrottlingException',
      'DynamoDB.RequestLimitExceeded',
      'DynamoDB.InternalServerError',
      'DynamoDB.ServiceUnavailable',
      'States.Timeout',
    ])('retries %s with backoff and full jitter', (error) => {
      const retrier = retrierFor(PERSIST_RETRY, error);

      expect(retrier?.MaxAttempts).toBeGreaterThan(0);
      expect(retrier?.BackoffRate).toBeGreaterThan(1);
      expect(retrier?.JitterStrategy).toBe('FULL');
    });

    it.each([
      'DynamoDB.ValidationException',
      'DynamoDB.AccessDeniedException',
      'DynamoDB.ResourceNotFoundException',
      'DynamoDB.ConditionalCheckFailedException',
    ])('does not retry %s', (error) => {
      expect(retriesFor(PERSIST_RETRY, error)).toBe(0);
    });
  });

  describe('on a spec admission should have refused', () => {
    it.each([
      ['X-Amz-Date', { 'X-Amz-Date': 'now' }],
      ['Host', { host: 'example.com' }],
      ['Authorization', { Authorization: 'Bearer x' }],
      ['X-Forwarded-For', { 'X-Forwarded-For': '1.2.3.4' }],
    ])('throws HeaderNotAllowed for a %s header', (_name, headers) => {
      const build = () => buildDefinition(inputFor(eveSpec({ source: { headers } })));

      expect(build).toThrow(DefinitionError);
      expect(build).toThrow(expect.objectContaining({ reason: 'HeaderNotAllowed' }));
    });

    it.each([
      ['two types', { S: '$.a', N: '$.b' }],
      ['no type', {}],
      ['an unknown type', { SS: '$.a' }],
      ['a non-numeric N literal', { N: 'many' }],
      ['a BOOL literal other than true or false', { BOOL: 'yes' }],
      ['a NULL path', { NULL: '$.a' }],
    ])('throws InvalidItemMapping for an entry with %s', (_case, entry) => {
      const spec = eveSpec({ item: { pk: { S: '$.id' }, bad: entry } });

      expect(() => buildDefinition(inputFor(spec))).toThrow(
        expect.objectContaining({
          reason: 'InvalidItemMapping',
          message: expect.stringMatching(/bad/),
        }),
      );
    });

    it('throws InvalidSelect for a select value that is not a path', () => {
      const spec = eveSpec({ select: { players: 'ResponseBody.players' } });

      expect(() => buildDefinition(inputFor(spec))).toThrow(
        expect.objectContaining({ reason: 'InvalidSelect' }),
      );
    });
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

/** Varied specs, each of which must give a valid definition free of credentials. */
const VARIED_SPECS: [string, DownloaderSpec][] = [
  ['the EVE example', eveSpec()],
  ['a source with auth', eveSpec({ source: { auth: AUTH } })],
  [
    'static headers',
    eveSpec({ source: { headers: { Accept: 'application/json', 'User-Agent': 'dl/1' } } }),
  ],
  ['a query string with repeated keys', eveSpec({ source: { path: '/v1/x?a=1&a=2&b=%20c' } })],
  [
    'select, with the item reading the selected fields',
    eveSpec({
      select: { date: '$.Headers.Date[0]', players: '$.ResponseBody.players' },
      item: { pk: { S: '$.date' }, count: { N: '$.players' } },
    }),
  ],
  [
    'a numeric sort key',
    eveSpec({
      table: { sortKey: { name: 'at', type: 'N' } },
      item: { pk: { S: '$.Headers.Date[0]' }, at: { N: '$.ResponseBody.time' } },
    }),
  ],
  [
    'every item type as a path',
    eveSpec({
      item: {
        pk: { S: '$.ResponseBody.id' },
        n: { N: '$.ResponseBody.n' },
        b: { B: '$.ResponseBody.b' },
        ok: { BOOL: '$.ResponseBody.ok' },
      },
    }),
  ],
  [
    'every item type as a literal',
    eveSpec({
      item: {
        pk: { S: 'constant' },
        n: { N: '42' },
        b: { B: 'AAE=' },
        yes: { BOOL: 'true' },
        none: { NULL: 'true' },
      },
    }),
  ],
  ['an EXPRESS workflow', eveSpec({ workflow: { type: 'EXPRESS' } })],
  [
    'a POST with query and headers',
    eveSpec({
      source: {
        method: 'POST',
        path: '/search?q=ships',
        headers: { 'Content-Type': 'text/plain' },
      },
    }),
  ],
  ['the root path', eveSpec({ source: { path: '/' } })],
  [
    'bracketed and indexed paths',
    eveSpec({
      item: {
        pk: { S: "$.ResponseBody['server version']" },
        first: { N: '$.ResponseBody.items[0].count' },
      },
    }),
  ],
  [
    'auth with a custom header, select and EXPRESS together',
    eveSpec({
      source: { auth: AUTH, path: '/v3/secure?datasource=tq' },
      select: { players: '$.ResponseBody.players' },
      item: { pk: { S: 'players' }, count: { N: '$.players' } },
      workflow: { type: 'EXPRESS' },
    }),
  ],
];

describe('the ASL check used by these tests', () => {
  it('rejects a definition with a dangling Next and a malformed path', () => {
    const broken = JSON.parse(renderDefinition(buildDefinition(inputFor(eveSpec()))));
    broken.States[PERSIST_STATE].ResultPath = '$.a[';
    broken.States[DOWNLOAD_STATE].Next = 'Nowhere';

    expect(aslErrors(broken)).not.toBe('');
  });
});

describe.each(VARIED_SPECS)('the definition for %s', (_name, spec) => {
  const definition = buildDefinition(inputFor(spec));
  const rendered = renderDefinition(definition);

  it('is valid ASL', () => {
    expect(aslErrors(definition)).toBe('');
  });

  it('renders to JSON that parses back to the same definition', () => {
    expect(JSON.parse(rendered)).toEqual(definition);
  });

  it('carries no credential setting', () => {
    for (const text of AUTH_STRINGS) expect(rendered).not.toContain(text);
  });

  it('downloads with the spec method and writes to the table', () => {
    expect(download(definition).Parameters?.Method).toBe(spec.source.method);
    expect(persist(definition).Parameters?.TableName).toBe(spec.table.name);
  });
});

describe('renderDefinition', () => {
  it('puts ASL keywords first, in documentation order, with two-space indents', () => {
    const rendered = renderDefinition(buildDefinition(inputFor(eveSpec())));

    expect(rendered.startsWith('{\n  "Comment": ')).toBe(true);
    const keys = [...rendered.matchAll(/"(Type|Resource|Parameters|Retry|Next|End)":/g)].map(
      (match) => match[1],
    );
    expect(keys.slice(0, 5)).toEqual(['Type', 'Resource', 'Parameters', 'Retry', 'Next']);
  });

  it('renders the same definition to the same string every time', () => {
    const input = inputFor(eveSpec({ source: { auth: AUTH, headers: { A: '1' } } }));

    expect(renderDefinition(buildDefinition(input))).toBe(renderDefinition(buildDefinition(input)));
  });
});

describe('definitionsEqual', () => {
  const rendered = renderDefinition(buildDefinition(inputFor(eveSpec())));

  it('holds when AWS stored the definition with other whitespace and key order', () => {
    const reformatted = JSON.stringify(reverseKeys(JSON.parse(rendered)));

    expect(reformatted).not.toBe(rendered);
    expect(definitionsEqual(reformatted, rendered)).toBe(true);
  });

  it('fails when a value was edited in the console', () => {
    const edited = rendered.replace('"prod"', '"dev"');

    expect(definitionsEqual(edited, rendered)).toBe(false);
  });

  it('fails when retriers were reordered, since their order matters', () => {
    const definition = JSON.parse(rendered);
    definition.States.Download.Retry.reverse();

    expect(definitionsEqual(JSON.stringify(definition), rendered)).toBe(false);
  });

  it('fails when a field was added', () => {
    const definition = JSON.parse(rendered);
    definition.TimeoutSeconds = 60;

    expect(definitionsEqual(JSON.stringify(definition), rendered)).toBe(false);
  });

  it('fails for text that is not JSON', () => {
    expect(definitionsEqual('{"StartAt":', rendered)).toBe(false);
  });
});

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(record)
      .reverse()
      .map((key) => [key, reverseKeys(record[key])]),
  );
}

describe('splitPath', () => {
  it('keeps a path without a query as it is', () => {
    expect(splitPath('/v2/status')).toEqual({ path: '/v2/status', query: {} });
  });

  it('decodes query values, reading + as a space, and keeps the path encoded', () => {
    expect(splitPath('/a%2Fb?name=tranquility+server&x=%C3%A9%26')).toEqual({
      path: '/a%2Fb',
      query: { name: ['tranquility server'], x: ['é&'] },
    });
  });

  it('throws InvalidSourcePath for a path that does not start with /', () => {
    expect(() => splitPath('v2/status')).toThrow(
      expect.objectContaining({ reason: 'InvalidSourcePath' }),
    );
  });
});

describe('parseQueryParameters', () => {
  it('collects repeated keys into one list in their order', () => {
    expect(parseQueryParameters('id=3&id=1&id=2')).toEqual({ id: ['3', '1', '2'] });
  });

  it('gives an empty map for an empty query', () => {
    expect(parseQueryParameters('')).toEqual({});
  });
});

describe('item types written by kubectl', () => {
  it('reads the key "false" as N, since YAML 1.1 turns an unquoted N into false', async () => {
    const { attributeTemplate } = await import('../../../src/workflow/item-mapping.js');
    expect(attributeTemplate('count', { false: '$.ResponseBody.players' })).toEqual({
      'N.$': "States.Format('{}', $.ResponseBody.players)",
    });
  });
});

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { parse } from 'yaml';
import type { Downloader } from '../../../src/api/downloader.js';
import { createTestNamespace, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import { AwsInventory } from '../operator/aws-inventory.js';
import { condition, getDownloader, readyDownloader } from '../operator/downloaders.js';

/**
 * Pagination, fan-out and itemsPath end to end: the real operator reconciles each Downloader
 * into the local cloud, run-now starts one execution, and the test counts what reached the
 * table and which requests reached the stand-in API. Each Downloader's source path carries a
 * scope of its own, so its requests (and the page count switched for it) are told apart.
 */

const aws = new AwsInventory();
const upstream = process.env.UPSTREAM_URL ?? '';
const run = randomBytes(3).toString('hex');

interface UpstreamRequest {
  path: string;
  query: Record<string, string>;
}

async function control(scope: string, settings: Record<string, number>): Promise<void> {
  const response = await fetch(`${upstream}/_control`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ scope, ...settings }),
  });
  if (!response.ok) throw new Error(`upstream /_control answered ${response.status}`);
}

async function requestsOf(scope: string): Promise<UpstreamRequest[]> {
  const response = await fetch(`${upstream}/_requests?scope=${scope}`);
  return ((await response.json()) as { requests: UpstreamRequest[] }).requests;
}

/**
 * Applies a manifest as JSON: YAML written by a YAML 1.2 library leaves N unquoted, which
 * kubectl (YAML 1.1) would read as false.
 */
function apply(namespace: string, manifest: unknown): void {
  kubectlOk(['apply', '-n', namespace, '-f', '-'], JSON.stringify(manifest));
}

/** A Downloader of the stand-in API, kept from firing on its schedule: only run-now runs it. */
function downloader(name: string, spec: Record<string, unknown>): Downloader {
  return {
    apiVersion: 'downloader.dev/v1alpha1',
    kind: 'Downloader',
    metadata: { name },
    spec: {
      schedule: { expression: 'rate(1 hour)', suspend: true },
      ...spec,
    },
  } as unknown as Downloader;
}

/** The example manifest, pointed at the stand-in and at a scope and table of its own. */
function example(file: string, table: string): Downloader {
  const d = parse(readFileSync(`examples/${file}`, 'utf8')) as Downloader;
  d.spec.source.url = upstream;
  d.spec.table.name = table;
  d.spec.schedule.suspend = true;
  return d;
}

/** One case: a Downloader, and what a run of it must leave. */
interface Case {
  name: string;
  table: string;
  scope: string;
  manifest: Downloader;
  /** Upstream switches for the scope, set before the run. */
  settings?: Record<string, number>;
}

const cases: Record<string, Case> = {};

function addCase(
  key: string,
  build: (names: { table: string; scope: string }) => Downloader,
  settings?: Record<string, number>,
): void {
  const name = `pg-${key}`;
  const table = `Paging-${key}-${run}`;
  const scope = `${key}-${run}`;
  cases[key] = { name, table, scope, manifest: build({ table, scope }), settings };
  cases[key].manifest.metadata.name = name;
}

addCase('example', ({ table, scope }) => {
  const d = example('paged-orders.yaml', table);
  d.spec.source.path = `/v2/markets/orders?scope=${scope}`;
  return d;
});

addCase(
  'capped',
  ({ table, scope }) =>
    downloader('', {
      source: {
        url: upstream,
        path: `/v2/markets/orders?scope=${scope}`,
        pagination: { type: 'PageNumber', pageCountHeader: 'X-Pages', maxPages: 2 },
      },
      itemsPath: '$.ResponseBody',
      table: { name: table, partitionKey: { name: 'order_id', type: 'N' } },
      item: { order_id: { N: '$.order_id' } },
    }),
  { pages: 5 },
);

addCase('per-page', ({ table, scope }) =>
  downloader('', {
    source: {
      url: upstream,
      path: `/v2/markets/orders?scope=${scope}`,
      pagination: { type: 'PageNumber', pageCountHeader: 'X-Pages', maxPages: 10 },
    },
    table: { name: table, partitionKey: { name: 'page', type: 'N' } },
    item: {
      page: { N: '$.request.page' },
      first_order: { N: '$.ResponseBody[0].order_id' },
      pages: { S: "$.Headers['X-Pages'][0]" },
    },
  }),
);

addCase(
  'cursor',
  ({ table, scope }) =>
    downloader('', {
      source: {
        url: upstream,
        path: `/v2/cursor?scope=${scope}`,
        pagination: {
          type: 'NextLink',
          nextPath: '$.ResponseBody.next',
          cursorParameter: 'cursor',
          maxPages: 10,
        },
      },
      itemsPath: '$.ResponseBody.items',
      table: { name: table, partitionKey: { name: 'id', type: 'S' } },
      item: { id: { S: '$.id' }, page: { N: '$.request.page' }, index: { N: '$.request.index' } },
    }),
  { pages: 4 },
);

addCase(
  'links',
  ({ table, scope }) =>
    downloader('', {
      source: {
        url: upstream,
        path: `/v2/links?scope=${scope}`,
        pagination: { type: 'NextLink', nextPath: '$.ResponseBody.next', maxPages: 2 },
      },
      itemsPath: '$.ResponseBody.items',
      table: { name: table, partitionKey: { name: 'id', type: 'S' } },
      item: { id: { S: '$.id' }, value: { N: '$.value' } },
    }),
  { pages: 3 },
);

addCase('fan-out', ({ table, scope }) => {
  const d = example('fan-out.yaml', table);
  d.spec.source.path = `/?scope=${scope}`;
  d.spec.fanOut = {
    paths: ['/v2/universe/systems/1', '/v2/universe/systems/2', '/v2/universe/systems/3'],
    concurrency: 3,
  };
  return d;
});

addCase(
  'fan-out-pages',
  ({ table, scope }) =>
    downloader('', {
      source: {
        url: upstream,
        path: `/v2/markets/orders?scope=${scope}`,
        pagination: { type: 'PageNumber', pageCountHeader: 'X-Pages', maxPages: 10 },
      },
      fanOut: { query: { parameter: 'type_id', values: ['34', '35'] }, concurrency: 2 },
      itemsPath: '$.ResponseBody',
      table: {
        name: table,
        partitionKey: { name: 'type', type: 'S' },
        sortKey: { name: 'order_id', type: 'N' },
      },
      item: {
        type: { S: '$.request.value' },
        order_id: { N: '$.order_id' },
        page: { N: '$.request.page' },
      },
    }),
  { pages: 2 },
);

addCase('no-count', ({ table, scope }) =>
  downloader('', {
    source: {
      url: upstream,
      path: `/v2/markets/orders?scope=${scope}`,
      pagination: { type: 'PageNumber', pageCountHeader: 'X-Total-Pages', maxPages: 10 },
    },
    itemsPath: '$.ResponseBody',
    table: { name: table, partitionKey: { name: 'order_id', type: 'N' } },
    item: { order_id: { N: '$.order_id' } },
  }),
);

/** Runs a case once with run-now and returns the Downloader once the execution ended. */
async function runOnce(namespace: string, c: Case): Promise<Downloader> {
  await eventually(`${c.name} to be Ready`, () => readyDownloader(namespace, c.name), 120_000);
  kubectlOk(['annotate', '-n', namespace, `downloader/${c.name}`, 'downloader.dev/run-now=once']);
  return eventually(
    `the run of ${c.name} to end`,
    () => {
      const d = getDownloader(namespace, c.name);
      const status = d?.status?.lastExecution?.status;
      return d?.status?.lastRunNow === 'once' && status && status !== 'RUNNING' ? d : undefined;
    },
    120_000,
  );
}

describe('Downloaders with pagination, fan-out and itemsPath', () => {
  let namespace: string;
  let operator: OperatorProcess;
  const runs = new Map<string, Promise<Downloader>>();

  /** The finished run of a case, started for all cases at once in beforeAll. */
  const finished = (key: string): Promise<Downloader> => {
    const result = runs.get(key);
    if (!result) throw new Error(`no run for ${key}`);
    return result;
  };

  beforeAll(async () => {
    namespace = createTestNamespace('paging');
    // One reconcile per Downloader at once, unpaced: these tests are about runs, not quotas.
    operator = startOperator(
      ['--namespaces', namespace, '--execution-poll-interval', '2', '--concurrency', '8'],
      { AWS_RATE_LIMITS: 'off' },
    );
    for (const c of Object.values(cases)) {
      if (c.settings) await control(c.scope, c.settings);
      apply(namespace, c.manifest);
    }
    for (const [key, c] of Object.entries(cases)) {
      const result = runOnce(namespace, c);
      // Awaited by the test of the case; a rejection is reported there, not here.
      result.catch(() => undefined);
      runs.set(key, result);
    }
  });

  afterAll(async () => {
    await operator?.stop();
  });

  it('stores every order of every page of the paged-orders example, one item per order', async () => {
    const c = cases.example!;
    const done = await finished('example');

    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    const items = await aws.items(c.table);
    expect(items).toHaveLength(3 * 3);
    expect(items.map((item) => Number(item.order_id?.N)).sort((a, b) => a - b)).toEqual([
      1000, 1001, 1002, 2000, 2001, 2002, 3000, 3001, 3002,
    ]);
    const page2 = items.find((item) => item.order_id?.N === '2001');
    expect(page2).toMatchObject({
      page: { N: '2' },
      price: { N: '5.5' },
      type_id: { N: '34' },
      is_buy_order: { BOOL: false },
      seen_at: { S: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    });
    const requested = (await requestsOf(c.scope)).map((r) => r.query.page).sort();
    expect(requested).toEqual(['1', '2', '3']);
  });

  it('downloads no more than maxPages pages when the source has more', async () => {
    const c = cases.capped!;
    const done = await finished('capped');

    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    expect(await aws.items(c.table)).toHaveLength(2 * 3);
    const requested = (await requestsOf(c.scope)).map((r) => r.query.page).sort();
    expect(requested).toEqual(['1', '2']);
  });

  it('writes one item per page without itemsPath, reading the page number and headers', async () => {
    const c = cases['per-page']!;
    const done = await finished('per-page');

    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    const items = await aws.items(c.table);
    expect(items.sort((a, b) => Number(a.page?.N) - Number(b.page?.N))).toEqual([
      { page: { N: '1' }, first_order: { N: '1000' }, pages: { S: '3' } },
      { page: { N: '2' }, first_order: { N: '2000' }, pages: { S: '3' } },
      { page: { N: '3' }, first_order: { N: '3000' }, pages: { S: '3' } },
    ]);
  });

  it('follows a cursor until the page whose next is null, sending it as the cursor parameter', async () => {
    const c = cases.cursor!;
    const done = await finished('cursor');

    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    const items = await aws.items(c.table);
    expect(items).toHaveLength(4 * 3);
    expect(items.find((item) => item.id?.S === 'c4-2')).toEqual({
      id: { S: 'c4-2' },
      page: { N: '4' },
      index: { N: '2' },
    });
    const requests = await requestsOf(c.scope);
    expect(requests.map((r) => r.query.cursor ?? '')).toEqual([
      '',
      Buffer.from('page:2').toString('base64url'),
      Buffer.from('page:3').toString('base64url'),
      Buffer.from('page:4').toString('base64url'),
    ]);
    expect(requests.every((r) => r.path === '/v2/cursor')).toBe(true);
  });

  it('follows next links as paths, keeping the query, and stops at maxPages', async () => {
    const c = cases.links!;
    const done = await finished('links');

    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    expect((await aws.items(c.table)).map((item) => item.id?.S).sort()).toEqual([
      'l1-0',
      'l1-1',
      'l1-2',
      'l2-0',
      'l2-1',
      'l2-2',
    ]);
    const requests = await requestsOf(c.scope);
    expect(requests.map((r) => [r.path, r.query.scope])).toEqual([
      ['/v2/links', c.scope],
      ['/v2/links/2', c.scope],
    ]);
  });

  it('fans out over three paths and stores each result, keyed by its path', async () => {
    const c = cases['fan-out']!;
    const done = await finished('fan-out');

    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    const items = await aws.items(c.table);
    expect(items.map((item) => [item.path?.S, item.name?.S]).sort()).toEqual([
      ['/v2/universe/systems/1', 'System-1'],
      ['/v2/universe/systems/2', 'System-2'],
      ['/v2/universe/systems/3', 'System-3'],
    ]);
    const paths = (await requestsOf(c.scope)).map((r) => r.path).sort();
    expect(paths).toEqual([
      '/v2/universe/systems/1',
      '/v2/universe/systems/2',
      '/v2/universe/systems/3',
    ]);
  });

  it('grants the role exactly the fan-out paths', async () => {
    const c = cases['fan-out']!;
    const d = await finished('fan-out');
    const role = d.status?.resources?.stateMachineRoleArn?.split('/').pop();

    const policy = await aws.iam.send(
      new GetRolePolicyCommand({ RoleName: role, PolicyName: 'downloader-operator' }),
    );

    const document = JSON.parse(decodeURIComponent(policy.PolicyDocument ?? '{}')) as {
      Statement: Array<{ Action: string; Resource: string | string[] }>;
    };
    const invoke = document.Statement.find((s) => s.Action === 'execute-api:Invoke');
    expect(invoke?.Resource).toEqual(
      c.manifest.spec.fanOut?.paths?.map((path) =>
        expect.stringMatching(new RegExp(`/downloader/GET${path}$`)),
      ),
    );
  });

  it('combines fan-out over query values with pages and lists: values x pages x items', async () => {
    const c = cases['fan-out-pages']!;
    const done = await finished('fan-out-pages');

    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    const items = await aws.items(c.table);
    expect(items).toHaveLength(2 * 2 * 3);
    expect(items.find((item) => item.order_id?.N === '35002001')).toEqual({
      type: { S: '35' },
      order_id: { N: '35002001' },
      page: { N: '2' },
    });
    const requested = (await requestsOf(c.scope)).map((r) => `${r.query.type_id}/${r.query.page}`);
    expect(requested.sort()).toEqual(['34/1', '34/2', '35/1', '35/2']);
  });

  it('fails with PageCountUnreadable when the first page lacks the page count header', async () => {
    const c = cases['no-count']!;
    const done = await finished('no-count');

    expect(done.status?.lastExecution?.status).toBe('FAILED');
    expect(condition(done, 'LastRunSucceeded')).toMatchObject({
      status: 'False',
      reason: 'PageCountUnreadable',
    });
    // The first page was stored before the count was read.
    expect(await aws.items(c.table)).toHaveLength(3);
  });
});

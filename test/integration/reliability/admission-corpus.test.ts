import { stringify } from 'yaml';
import { createTestNamespace } from '../kubectl.js';
import { kubectlAsync, recordFigures } from './harness.js';

/**
 * Invalid and hostile Downloaders the API server must refuse at admission, each with a message
 * naming the field: more of them than test/integration/admission.test.ts holds, and hostile
 * ones (injection, traversal, oversize, unknown fields), for the new fields (pagination,
 * fan-out, itemsPath) too. Every case differs from those of admission.test.ts.
 */

type Spec = Record<string, Record<string, unknown>>;

const valid = () => ({
  apiVersion: 'downloader.dev/v1alpha1',
  kind: 'Downloader',
  metadata: { name: 'hostile-case' },
  spec: {
    source: { url: 'https://esi.evetech.net', path: '/v2/status' },
    table: { name: 'PlayerCountTable', partitionKey: { name: 'pk', type: 'S' } },
    item: { pk: { S: '$.Headers.Date[0]' }, count: { N: '$.ResponseBody.players' } },
    schedule: { expression: 'rate(1 minute)' },
  } as Spec,
});

const auth = (extra: Record<string, unknown> = {}) => ({
  secretRef: { name: 'tok', key: 'token' },
  ...extra,
});

const many = <T>(n: number, make: (i: number) => [string, T]) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => make(i)));

/** [title, how to break a valid spec, the field the message must name]. */
export const HOSTILE_CASES: Array<[string, (s: Spec) => void, string]> = [
  ['a javascript: URL', (s) => (s.source!.url = 'javascript:alert(1)'), 'spec.source.url'],
  ['a file URL', (s) => (s.source!.url = 'file:///etc/passwd'), 'spec.source.url'],
  ['a URL with a fragment', (s) => (s.source!.url = 'https://a.example/x#f'), 'spec.source.url'],
  [
    'a URL with credentials in it',
    (s) => (s.source!.url = 'https://user:pass@esi.evetech.net'),
    'spec.source.url',
  ],
  [
    'a URL over 2048 characters',
    (s) => (s.source!.url = `https://a.example/${'x'.repeat(2048)}`),
    'spec.source.url',
  ],
  ['a path with a space', (s) => (s.source!.path = '/v2/ status'), 'spec.source.path'],
  ['a path with a fragment', (s) => (s.source!.path = '/v2/status#x'), 'spec.source.path'],
  ['a lowercase method', (s) => (s.source!.method = 'get'), 'spec.source.method'],
  [
    'a header value with a line break (header injection)',
    (s) => (s.source!.headers = { 'X-A': 'v\r\nX-Injected: 1' }),
    'spec.source.headers',
  ],
  [
    'a header value over 1024 characters',
    (s) => (s.source!.headers = { 'X-A': 'v'.repeat(1025) }),
    'spec.source.headers',
  ],
  [
    '33 static headers',
    (s) => (s.source!.headers = many(33, (i) => [`X-H${i}`, 'v'])),
    'spec.source.headers',
  ],
  [
    'an auth header name with a colon',
    (s) => (s.source!.auth = auth({ header: 'X-Key:' })),
    'spec.source.auth.header',
  ],
  [
    'an auth prefix with a line break',
    (s) => (s.source!.auth = auth({ prefix: 'Bearer\n' })),
    'spec.source.auth.prefix',
  ],
  [
    'an auth prefix over 64 characters',
    (s) => (s.source!.auth = auth({ prefix: 'p'.repeat(65) })),
    'spec.source.auth.prefix',
  ],
  [
    'a Secret name that climbs paths',
    (s) => (s.source!.auth = { secretRef: { name: '../other', key: 'token' } }),
    'spec.source.auth.secretRef.name',
  ],
  [
    'a Secret key with a slash',
    (s) => (s.source!.auth = { secretRef: { name: 'tok', key: 'a/b' } }),
    'spec.source.auth.secretRef.key',
  ],
  [
    'an empty secretRef namespace',
    (s) => (s.source!.auth = { secretRef: { name: 'tok', key: 'token', namespace: '' } }),
    'spec.source.auth.secretRef.namespace',
  ],
  ['a table name over 255 characters', (s) => (s.table!.name = 't'.repeat(256)), 'spec.table.name'],
  ['a table name with non-ASCII letters', (s) => (s.table!.name = 'Tâble'), 'spec.table.name'],
  [
    'an empty partition key name',
    (s) => (s.table!.partitionKey = { name: '', type: 'S' }),
    'spec.table.partitionKey.name',
  ],
  [
    'a lowercase key type',
    (s) => (s.table!.partitionKey = { name: 'pk', type: 's' }),
    'spec.table.partitionKey.type',
  ],
  [
    'a sort key the item does not map',
    (s) => (s.table!.sortKey = { name: 'sk', type: 'S' }),
    'spec.item',
  ],
  ['NULL with false', (s) => (s.item!.gone = { NULL: 'false' }), 'spec.item'],
  [
    '51 item attributes',
    (s) =>
      Object.assign(
        s.item!,
        many(50, (i) => [`a${i}`, { S: 'x' }]),
      ),
    'spec.item',
  ],
  [
    'an item attribute name over 255 characters',
    (s) => (s.item![`a${'x'.repeat(255)}`] = { S: 'x' }),
    'spec.item',
  ],
  ['a filter JSONPath', (s) => (s.item!.count = { N: '$.a[?(@.x)]' }), 'spec.item'],
  ['a wildcard JSONPath', (s) => (s.item!.count = { N: '$.a[*]' }), 'spec.item'],
  [
    'a select value that is not a JSONPath',
    (s) => (s.select = { players: 'players' }),
    'spec.select',
  ],
  [
    'rate(0 minutes)',
    (s) => (s.schedule!.expression = 'rate(0 minutes)'),
    'spec.schedule.expression',
  ],
  [
    'a seven-field cron',
    (s) => (s.schedule!.expression = 'cron(0 12 * * ? * *)'),
    'spec.schedule.expression',
  ],
  [
    'an at() with a zone suffix',
    (s) => (s.schedule!.expression = 'at(2030-01-01T00:00:00Z)'),
    'spec.schedule.expression',
  ],
  [
    'a time zone that climbs paths',
    (s) => (s.schedule!.timezone = '../../etc/passwd'),
    'spec.schedule.timezone',
  ],
  ['a number for suspend', (s) => (s.schedule!.suspend = 1), 'spec.schedule.suspend'],
  ['an unknown spec field', (s) => (s.sourcee = {}), 'spec.sourcee'],
  ['a lowercase workflow type', (s) => (s.workflow = { type: 'standard' }), 'spec.workflow.type'],
  [
    'NextLink pagination without nextPath',
    (s) => (s.source!.pagination = { type: 'NextLink', maxPages: 5 }),
    'spec.source.pagination.nextPath',
  ],
  [
    'PageNumber pagination with both a count header and a count path',
    (s) =>
      (s.source!.pagination = {
        type: 'PageNumber',
        maxPages: 5,
        pageCountHeader: 'X-Pages',
        pageCountPath: '$.ResponseBody.pages',
      }),
    'spec.source.pagination',
  ],
  [
    'maxPages over 1000',
    (s) =>
      (s.source!.pagination = { type: 'PageNumber', maxPages: 1001, pageCountHeader: 'X-Pages' }),
    'spec.source.pagination.maxPages',
  ],
  [
    'fanOut with both paths and query',
    (s) => (s.fanOut = { paths: ['/a'], query: { parameter: 'id', values: ['1'] } }),
    'spec.fanOut',
  ],
  [
    'a fan-out path with a query string',
    (s) => (s.fanOut = { paths: ['/a?b=1'] }),
    'spec.fanOut.paths[0]',
  ],
  [
    'a fan-out concurrency of 41',
    (s) => (s.fanOut = { paths: ['/a'], concurrency: 41 }),
    'spec.fanOut.concurrency',
  ],
  [
    'itemsPath with select',
    (s) => {
      s.itemsPath = '$.ResponseBody' as unknown as Record<string, unknown>;
      s.select = { players: '$.ResponseBody.players' };
    },
    'spec.select',
  ],
  [
    '$.request.page without pagination',
    (s) => (s.item!.page = { N: '$.request.page' }),
    'spec.item',
  ],
  ['an unknown $.request field', (s) => (s.item!.who = { S: '$.request.secret' }), 'spec.item'],
];

describe(`admission of ${HOSTILE_CASES.length} more invalid and hostile Downloaders`, () => {
  let namespace: string;
  const refused: string[] = [];

  beforeAll(() => {
    namespace = createTestNamespace('reladmit');
  });

  afterAll(() => {
    recordFigures('admission-corpus', { cases: HOSTILE_CASES.length, refused: refused.length });
  });

  it('accepts the valid base every case starts from', async () => {
    const result = await kubectlAsync(['apply', '--dry-run=server', '-n', namespace, '-f', '-'], {
      input: stringify(valid()),
    });
    expect(result.stderr).toBe('');
  });

  it.each(HOSTILE_CASES.map(([title, breakIt, field], i) => [title, field, breakIt, i] as const))(
    'rejects %s with a message naming %s',
    async (_, field, breakIt, index) => {
      const manifest = valid();
      manifest.metadata.name = `hostile-${index}`;
      breakIt(manifest.spec);
      const result = await kubectlAsync(['create', '-n', namespace, '-f', '-'], {
        input: stringify(manifest),
      });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(field);
      refused.push(field);
    },
  );

  it('stores none of them', async () => {
    const result = await kubectlAsync(['get', 'dl', '-n', namespace, '-o', 'name']);
    expect(result.stdout).toBe('');
  });
});

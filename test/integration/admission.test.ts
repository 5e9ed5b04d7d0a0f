import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { createTestNamespace, kubectl, kubectlOk } from './kubectl.js';

type Manifest = Record<string, unknown> & { spec: Record<string, unknown> };

const valid = (): Manifest => ({
  apiVersion: 'downloader.dev/v1alpha1',
  kind: 'Downloader',
  metadata: { name: 'invalid-case' },
  spec: {
    source: { url: 'https://esi.evetech.net', path: '/v2/status' },
    table: { name: 'PlayerCountTable', partitionKey: { name: 'pk', type: 'S' } },
    item: { pk: { S: '$.Headers.Date[0]' }, count: { N: '$.ResponseBody.players' } },
    schedule: { expression: 'rate(1 minute)' },
  },
});

type Spec = Record<string, Record<string, unknown>>;

/** Each case breaks one thing in a valid Downloader and names the field the error must name. */
const invalidCases: Array<[string, (spec: Spec) => void, string]> = [
  ['an ftp url', (s) => (s.source!.url = 'ftp://esi.evetech.net'), 'spec.source.url'],
  ['a url without scheme', (s) => (s.source!.url = 'esi.evetech.net'), 'spec.source.url'],
  ['a url with a query', (s) => (s.source!.url = 'https://a.example?x=1'), 'spec.source.url'],
  ['a path without a leading slash', (s) => (s.source!.path = 'v2/status'), 'spec.source.path'],
  ['an unknown method', (s) => (s.source!.method = 'FETCH'), 'spec.source.method'],
  [
    'an Authorization static header',
    (s) => (s.source!.headers = { authorization: 'Bearer x' }),
    'spec.source.headers',
  ],
  [
    'a header name with a space',
    (s) => (s.source!.headers = { 'Bad Name': 'x' }),
    'spec.source.headers',
  ],
  [
    'a secret ref naming another namespace',
    (s) => (s.source!.auth = { secretRef: { name: 'tok', key: 'token', namespace: 'other' } }),
    'spec.source.auth.secretRef.namespace',
  ],
  [
    'a secret ref without key',
    (s) => (s.source!.auth = { secretRef: { name: 'tok' } }),
    'spec.source.auth.secretRef.key',
  ],
  [
    'a static header that auth also sets',
    (s) => {
      s.source!.auth = { secretRef: { name: 'tok', key: 'token' }, header: 'X-Api-Key' };
      s.source!.headers = { 'x-api-key': 'plain' };
    },
    'spec.source.headers',
  ],
  ['a two-letter table name', (s) => (s.table!.name = 'ab'), 'spec.table.name'],
  ['a table name with spaces', (s) => (s.table!.name = 'bad name!'), 'spec.table.name'],
  [
    'an unknown key type',
    (s) => (s.table!.partitionKey = { name: 'pk', type: 'X' }),
    'spec.table.partitionKey.type',
  ],
  [
    'a sort key equal to the partition key',
    (s) => (s.table!.sortKey = { name: 'pk', type: 'S' }),
    'spec.table.sortKey.name',
  ],
  [
    'an unknown deletion policy',
    (s) => (s.table!.deletionPolicy = 'Orphan'),
    'spec.table.deletionPolicy',
  ],
  ['an unknown DynamoDB type', (s) => (s.item!.count = { NUMBER: '$.x' }), 'spec.item'],
  ['two types for one attribute', (s) => (s.item!.count = { N: '1', S: 'x' }), 'spec.item'],
  ['an item without the partition key', (s) => delete s.item!.pk, 'spec.item'],
  ['a partition key of the wrong type', (s) => (s.item!.pk = { N: '$.x' }), 'spec.item'],
  ['a non-numeric N literal', (s) => (s.item!.count = { N: 'many' }), 'spec.item'],
  ['a BOOL literal that is not a boolean', (s) => (s.item!.ok = { BOOL: 'yes' }), 'spec.item'],
  ['a recursive-descent JSONPath', (s) => (s.item!.count = { N: '$..players' }), 'spec.item'],
  [
    'a schedule in words',
    (s) => (s.schedule!.expression = 'every minute'),
    'spec.schedule.expression',
  ],
  [
    'rate(1 minutes)',
    (s) => (s.schedule!.expression = 'rate(1 minutes)'),
    'spec.schedule.expression',
  ],
  [
    'rate(5 minute)',
    (s) => (s.schedule!.expression = 'rate(5 minute)'),
    'spec.schedule.expression',
  ],
  [
    'a five-field cron',
    (s) => (s.schedule!.expression = 'cron(0 12 * * ?)'),
    'spec.schedule.expression',
  ],
  [
    'a cron without ?',
    (s) => (s.schedule!.expression = 'cron(0 12 * * * *)'),
    'spec.schedule.expression',
  ],
  [
    'an at() without time',
    (s) => (s.schedule!.expression = 'at(2030-01-01)'),
    'spec.schedule.expression',
  ],
  [
    'a malformed time zone',
    (s) => (s.schedule!.timezone = 'Not a zone!'),
    'spec.schedule.timezone',
  ],
  ['a string for suspend', (s) => (s.schedule!.suspend = 'sometimes'), 'spec.schedule.suspend'],
  ['an unknown workflow type', (s) => (s.workflow = { type: 'FAST' }), 'spec.workflow.type'],
  ['an unknown transport', (s) => (s.source!.transport = 'Lambda'), 'spec.source.transport'],
  ['no table', (s) => delete s.table, 'spec.table'],
  ['a select name with a dash', (s) => (s.select = { 'bad-name': '$.x' }), 'spec.select'],
];

describe('admission of Downloaders', () => {
  let namespace: string;

  beforeAll(() => {
    namespace = createTestNamespace('admission');
  });

  it.each(['eve-player-count.yaml', 'with-auth-secret.yaml', 'http-task.yaml'])(
    'accepts the example %s applied with kubectl',
    (file) => {
      const out = kubectlOk(['apply', '-n', namespace, '-f', `examples/${file}`]);
      expect(out).toMatch(/downloader\.downloader\.dev\/\S+ created/);
    },
  );

  it('fills the defaults a user leaves out', () => {
    const docs = parseAllDocuments(readFileSync('examples/eve-player-count.yaml', 'utf8'));
    const name = (docs[0]?.toJS() as Manifest).metadata as { name: string };
    const got = JSON.parse(
      kubectlOk(['get', 'downloader', name.name, '-n', namespace, '-o', 'json']),
    ) as Manifest;
    expect(got.spec).toMatchObject({
      source: { method: 'GET', transport: 'ApiGateway' },
      table: { deletionPolicy: 'Retain' },
      schedule: { timezone: 'UTC', suspend: false },
      workflow: { type: 'STANDARD' },
    });
  });

  it('lists Downloaders by short name with the READY, SCHEDULE, LAST RUN, LAST SUCCESS and AGE columns', () => {
    const header = kubectlOk(['get', 'dl', '-n', namespace]).split('\n')[0];
    expect(header?.split(/\s{2,}/)).toEqual([
      'NAME',
      'READY',
      'SCHEDULE',
      'LAST RUN',
      'LAST SUCCESS',
      'AGE',
    ]);
  });

  it.each(invalidCases.map(([title, breakIt, field]) => [title, field, breakIt] as const))(
    'rejects %s with a message naming %s',
    (_, field, breakIt) => {
      const manifest = valid();
      breakIt(manifest.spec as Spec);
      const result = kubectl(['apply', '-n', namespace, '-f', '-'], stringify(manifest));
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(field);
      expect(result.stderr).toMatch(/Downloader "invalid-case" is invalid/);
    },
  );

  it('stores nothing for a rejected Downloader', () => {
    const result = kubectl(['get', 'dl', 'invalid-case', '-n', namespace]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('NotFound');
  });
});

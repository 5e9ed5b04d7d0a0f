import { createTestNamespace, kubectl, kubectlOk } from '../kubectl.js';

/**
 * Admission of source.pagination, fanOut and itemsPath by the real API server: the examples
 * apply, the defaults are left to the operator, and each broken manifest is refused with a
 * message naming the field. Manifests go to kubectl as JSON, so the `N` key type stays a string.
 */

type Spec = Record<string, Record<string, unknown> | string>;
type Manifest = { metadata: { name: string }; spec: Spec } & Record<string, unknown>;

const PAGE_NUMBER = { type: 'PageNumber', pageCountHeader: 'X-Pages', maxPages: 50 };
const NEXT_LINK = {
  type: 'NextLink',
  nextPath: '$.ResponseBody.next',
  cursorParameter: 'cursor',
  maxPages: 20,
};

/** A valid paged, fanned-out Downloader writing one item per order. */
const valid = (): Manifest => ({
  apiVersion: 'downloader.dev/v1alpha1',
  kind: 'Downloader',
  metadata: { name: 'paging-case' },
  spec: {
    source: {
      url: 'https://esi.evetech.net',
      path: '/v1/markets/10000002/orders/',
      pagination: { ...PAGE_NUMBER },
    },
    fanOut: { query: { parameter: 'type_id', values: ['34', '35'] } },
    itemsPath: '$.ResponseBody',
    table: { name: 'Orders', partitionKey: { name: 'order_id', type: 'N' } },
    item: {
      order_id: { N: '$.order_id' },
      type: { S: '$.request.value' },
      page: { N: '$.request.page' },
      index: { N: '$.request.index' },
      at: { S: '$.request.time' },
    },
    schedule: { expression: 'rate(5 minutes)' },
  },
});

const source = (s: Spec) => s.source as Record<string, unknown>;
const pagination = (s: Spec) => source(s).pagination as Record<string, unknown>;
const fanOut = (s: Spec) => s.fanOut as Record<string, unknown>;
const item = (s: Spec) => s.item as Record<string, unknown>;

/** Each case breaks one thing and names the field the error must name. */
const invalidCases: Array<[string, (spec: Spec) => void, string, RegExp]> = [
  [
    'an unknown pagination type',
    (s) => (pagination(s).type = 'Offset'),
    'spec.source.pagination.type',
    /Unsupported value/,
  ],
  [
    'PageNumber without a page count',
    (s) => delete pagination(s).pageCountHeader,
    'spec.source.pagination',
    /exactly one of pageCountHeader and pageCountPath/,
  ],
  [
    'PageNumber with two page counts',
    (s) => (pagination(s).pageCountPath = '$.ResponseBody.pages'),
    'spec.source.pagination',
    /exactly one of pageCountHeader and pageCountPath/,
  ],
  [
    'PageNumber with nextPath',
    (s) => (pagination(s).nextPath = '$.ResponseBody.next'),
    'spec.source.pagination',
    /belong to NextLink/,
  ],
  [
    'pagination without maxPages',
    (s) => delete pagination(s).maxPages,
    'spec.source.pagination.maxPages',
    /Required value/,
  ],
  [
    'maxPages above 1000',
    (s) => (pagination(s).maxPages = 1001),
    'spec.source.pagination.maxPages',
    /less than or equal to 1000/,
  ],
  [
    'a page concurrency above 40',
    (s) => (pagination(s).concurrency = 41),
    'spec.source.pagination.concurrency',
    /less than or equal to 40/,
  ],
  [
    'a first page of 2',
    (s) => (pagination(s).firstPage = 2),
    'spec.source.pagination.firstPage',
    /less than or equal to 1/,
  ],
  [
    'a page parameter with &',
    (s) => (pagination(s).pageParameter = 'page&x'),
    'spec.source.pagination.pageParameter',
    /should match/,
  ],
  [
    'a page count header that is not a header name',
    (s) => (pagination(s).pageCountHeader = 'X Pages'),
    'spec.source.pagination.pageCountHeader',
    /should match/,
  ],
  [
    'NextLink without nextPath',
    (s) => (source(s).pagination = { type: 'NextLink', maxPages: 5 }),
    'spec.source.pagination.nextPath',
    /NextLink pagination needs nextPath/,
  ],
  [
    'NextLink with PageNumber fields',
    (s) => (source(s).pagination = { ...NEXT_LINK, concurrency: 3 }),
    'spec.source.pagination',
    /belong to PageNumber pagination/,
  ],
  [
    'a recursive nextPath',
    (s) => (source(s).pagination = { ...NEXT_LINK, nextPath: '$..next' }),
    'spec.source.pagination.nextPath',
    /should match/,
  ],
  [
    'fanOut with paths and query',
    (s) => (fanOut(s).paths = ['/v2/a']),
    'spec.fanOut',
    /exactly one of paths and query/,
  ],
  [
    'fanOut with neither paths nor query',
    (s) => delete fanOut(s).query,
    'spec.fanOut',
    /exactly one of paths and query/,
  ],
  [
    'a fan-out path with a query string',
    (s) => {
      s.fanOut = { paths: ['/v2/a?x=1'] };
      delete item(s).type;
    },
    'spec.fanOut.paths[0]',
    /should match/,
  ],
  [
    'a fan-out path without a leading slash',
    (s) => {
      s.fanOut = { paths: ['v2/a'] };
      delete item(s).type;
    },
    'spec.fanOut.paths[0]',
    /should match/,
  ],
  [
    'a duplicate fan-out value',
    (s) => (fanOut(s).query = { parameter: 'type_id', values: ['34', '34'] }),
    'spec.fanOut.query.values[1]',
    /Duplicate value/,
  ],
  [
    'more than 100 fan-out paths',
    (s) => {
      s.fanOut = { paths: Array.from({ length: 101 }, (_, i) => `/v2/s/${i}`) };
      delete item(s).type;
    },
    'spec.fanOut.paths',
    /must have at most 100 items/,
  ],
  [
    'a fan-out parameter equal to the page parameter',
    (s) => (fanOut(s).query = { parameter: 'page', values: ['1'] }),
    'spec.fanOut.query.parameter',
    /must differ from the page or cursor parameter/,
  ],
  [
    'a fan-out parameter equal to the cursor parameter',
    (s) => {
      source(s).pagination = { ...NEXT_LINK };
      fanOut(s).query = { parameter: 'cursor', values: ['1'] };
    },
    'spec.fanOut.query.parameter',
    /must differ from the page or cursor parameter/,
  ],
  [
    'a fan-out concurrency of 0',
    (s) => (fanOut(s).concurrency = 0),
    'spec.fanOut.concurrency',
    /greater than or equal to 1/,
  ],
  [
    'an itemsPath that is not a JSONPath',
    (s) => (s.itemsPath = 'ResponseBody'),
    'spec.itemsPath',
    /should match/,
  ],
  [
    'select with itemsPath',
    (s) => (s.select = { price: '$.ResponseBody.price' }),
    'spec.select',
    /select does not combine with itemsPath/,
  ],
  [
    'an unknown request field',
    (s) => (item(s).cursor = { S: '$.request.cursor' }),
    'spec.item',
    /item paths under \$\.request are/,
  ],
  [
    '$.request.page without pagination',
    (s) => delete source(s).pagination,
    'spec.item',
    /\$\.request\.page needs source\.pagination/,
  ],
  [
    '$.request.value without fanOut',
    (s) => delete s.fanOut,
    'spec.item',
    /\$\.request\.value needs fanOut/,
  ],
  [
    '$.request.index without itemsPath',
    (s) => delete s.itemsPath,
    'spec.item',
    /\$\.request\.index needs itemsPath/,
  ],
];

function applyJson(namespace: string, manifest: unknown) {
  return kubectl(['apply', '-n', namespace, '-f', '-'], JSON.stringify(manifest));
}

describe('admission of pagination, fan-out and itemsPath', () => {
  let namespace: string;

  beforeAll(() => {
    namespace = createTestNamespace('admission-paging');
  });

  it.each(['paged-orders.yaml', 'fan-out.yaml'])(
    'accepts the example %s applied with kubectl',
    (file) => {
      const out = kubectlOk(['apply', '-n', namespace, '-f', `examples/${file}`]);
      expect(out).toMatch(/downloader\.downloader\.dev\/\S+ created/);
    },
  );

  it('accepts the valid case, with an N key type, and leaves the page defaults to the operator', () => {
    const result = applyJson(namespace, valid());
    expect(result.stderr).toBe('');

    const got = JSON.parse(
      kubectlOk(['get', 'downloader', 'paging-case', '-n', namespace, '-o', 'json']),
    ) as Manifest;
    expect(got.spec.source).toMatchObject({ pagination: PAGE_NUMBER });
    expect(pagination(got.spec)).not.toHaveProperty('pageParameter');
    expect(fanOut(got.spec).concurrency).toBe(5);
    kubectlOk(['delete', 'downloader', 'paging-case', '-n', namespace, '--wait=false']);
  });

  it("accepts NextLink following links, and $['request'] as an element field", () => {
    const manifest = valid();
    manifest.metadata.name = 'links-case';
    source(manifest.spec).pagination = {
      type: 'NextLink',
      nextPath: '$.ResponseBody.next',
      maxPages: 5,
    };
    delete item(manifest.spec).page;
    item(manifest.spec).request_id = { S: "$['request'].id" };

    expect(applyJson(namespace, manifest).stderr).toBe('');
  });

  it.each(
    invalidCases.map(
      ([title, breakIt, field, message]) => [title, field, breakIt, message] as const,
    ),
  )('rejects %s with a message naming %s', (_, field, breakIt, message) => {
    const manifest = valid();
    breakIt(manifest.spec);

    const result = applyJson(namespace, manifest);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Downloader "paging-case" is invalid/);
    expect(result.stderr).toContain(field);
    expect(result.stderr).toMatch(message);
  });
});

import type { DownloaderSpec, PaginationSpec } from '../../../src/api/downloader-spec.js';
import type {
  ChoiceState,
  MapState,
  PassState,
  State,
  StateMachineDefinition,
  TaskState,
} from '../../../src/workflow/asl.js';
import { buildDefinition, renderDefinition } from '../../../src/workflow/definition.js';
import {
  ITEM_WRITE_CONCURRENCY,
  MULTI_REQUEST_ERRORS,
  MULTI_REQUEST_STATES as S,
  needsMultiRequestStates,
} from '../../../src/workflow/multi-request.js';
import { aslErrors } from './asl-validate.js';
import { eveSpec, inputFor } from './fixtures.js';

const INVOKE = 'arn:aws:states:::apigateway:invoke';
const PUT_ITEM = 'arn:aws:states:::dynamodb:putItem';

const ORDERS_ITEM: DownloaderSpec['item'] = {
  pk: { N: '$.order_id' },
  price: { N: '$.price' },
};

const pageNumber = (fields: Partial<PaginationSpec> = {}): PaginationSpec => ({
  type: 'PageNumber',
  pageCountHeader: 'X-Pages',
  maxPages: 50,
  ...fields,
});

const nextLink = (fields: Partial<PaginationSpec> = {}): PaginationSpec => ({
  type: 'NextLink',
  nextPath: '$.ResponseBody.next',
  cursorParameter: 'cursor',
  maxPages: 20,
  ...fields,
});

/** The orders example: a paged list of orders, keyed by order id. */
function ordersSpec(
  parts: {
    pagination?: PaginationSpec;
    fanOut?: DownloaderSpec['fanOut'];
    itemsPath?: string;
    item?: DownloaderSpec['item'];
    select?: DownloaderSpec['select'];
    path?: string;
  } = {},
): DownloaderSpec {
  const spec = eveSpec({
    source: {
      path: parts.path ?? '/v2/markets/orders?datasource=tranquility',
      ...(parts.pagination ? { pagination: parts.pagination } : {}),
    },
    table: { partitionKey: { name: 'pk', type: 'N' } },
    item: parts.item ?? ORDERS_ITEM,
    ...(parts.select ? { select: parts.select } : {}),
  });
  if (parts.fanOut) spec.fanOut = parts.fanOut;
  if (parts.itemsPath) spec.itemsPath = parts.itemsPath;
  return spec;
}

/** Every state of a definition, Map iterations included, with the scope it sits in. */
function allStates(definition: StateMachineDefinition): Array<[string, State, string]> {
  const found: Array<[string, State, string]> = [];
  const visit = (states: Record<string, State>, scope: string) => {
    for (const [name, state] of Object.entries(states)) {
      found.push([name, state, scope]);
      if (state.Type === 'Map') visit(state.ItemProcessor.States, name);
    }
  };
  visit(definition.States, '');
  return found;
}

function stateNamed<T extends State>(definition: StateMachineDefinition, name: string): T {
  const entry = allStates(definition).find(([found]) => found === name);
  if (!entry) throw new Error(`no state ${name}`);
  return entry[1] as T;
}

const tasks = (definition: StateMachineDefinition, resource: string): TaskState[] =>
  allStates(definition)
    .map(([, state]) => state)
    .filter((state): state is TaskState => state.Type === 'Task' && state.Resource === resource);

/** Whether a state's output is `{}`: OutputPath null, or a Pass whose Result is `{}`. */
function outputIsEmpty(state: State): boolean {
  if ('OutputPath' in state && state.OutputPath === null) return true;
  return (
    state.Type === 'Pass' &&
    JSON.stringify(state.Result) === '{}' &&
    state.ResultPath === undefined &&
    state.OutputPath === undefined
  );
}

const AUTH = {
  secretRef: { name: 'orders-secret-name', key: 'orders-secret-key' },
  header: 'X-Orders-Credential',
  prefix: 'Token-Prefix ',
};

/** Each feature alone and in combination; each must give a valid, small-state definition. */
const SPECS: Array<[string, DownloaderSpec]> = [
  ['itemsPath alone', ordersSpec({ itemsPath: '$.ResponseBody' })],
  [
    'PageNumber, one item per page',
    ordersSpec({ pagination: pageNumber(), item: { pk: { N: '$.request.page' } } }),
  ],
  [
    'PageNumber with itemsPath',
    ordersSpec({ pagination: pageNumber(), itemsPath: '$.ResponseBody' }),
  ],
  [
    'PageNumber from a body count, numbered from 0, with select',
    ordersSpec({
      pagination: pageNumber({
        pageCountHeader: undefined,
        pageCountPath: '$.ResponseBody.meta.pages',
        firstPage: 0,
        pageParameter: 'p',
        concurrency: 10,
      }),
      select: { first: '$.ResponseBody.orders[0].order_id' },
      item: { pk: { N: '$.first' }, page: { N: '$.request.page' } },
    }),
  ],
  [
    'PageNumber capped at one page',
    ordersSpec({ pagination: pageNumber({ maxPages: 1 }), itemsPath: '$.ResponseBody' }),
  ],
  [
    'NextLink with a cursor',
    ordersSpec({ pagination: nextLink(), itemsPath: '$.ResponseBody.items' }),
  ],
  [
    'NextLink following paths',
    ordersSpec({
      pagination: nextLink({ cursorParameter: undefined }),
      itemsPath: '$.ResponseBody.items',
    }),
  ],
  [
    'NextLink, one item per page',
    ordersSpec({ pagination: nextLink(), item: { pk: { N: '$.request.page' } } }),
  ],
  [
    'fan-out over paths',
    ordersSpec({
      fanOut: { paths: ['/v2/systems/1', '/v2/systems/2', '/v2/systems/3'], concurrency: 3 },
      item: { pk: { N: '$.ResponseBody.id' }, path: { S: '$.request.value' } },
    }),
  ],
  [
    'fan-out over query values with select',
    ordersSpec({
      fanOut: { query: { parameter: 'type_id', values: ['34', '35'] }, concurrency: 5 },
      select: { id: '$.ResponseBody.id' },
      item: { pk: { N: '$.id' }, type: { S: '$.request.value' } },
    }),
  ],
  [
    'fan-out over query values, PageNumber and itemsPath',
    ordersSpec({
      fanOut: { query: { parameter: 'type_id', values: ['34', '35'] }, concurrency: 2 },
      pagination: pageNumber(),
      itemsPath: '$.ResponseBody',
      item: {
        pk: { N: '$.order_id' },
        type: { S: '$.request.value' },
        page: { N: '$.request.page' },
        index: { N: '$.request.index' },
        at: { S: '$.request.time' },
      },
    }),
  ],
  [
    'fan-out over paths with NextLink paths and itemsPath',
    ordersSpec({
      fanOut: { paths: ['/a', '/b'], concurrency: 2 },
      pagination: nextLink({ cursorParameter: undefined }),
      itemsPath: "$.ResponseBody['data']",
    }),
  ],
  [
    'fan-out over paths with a cursor, one item per page',
    ordersSpec({
      fanOut: { paths: ['/a', '/b'], concurrency: 2 },
      pagination: nextLink(),
      item: { pk: { N: '$.ResponseBody.id' }, path: { S: '$.request.value' } },
    }),
  ],
];

describe.each(SPECS)('the definition for %s', (_name, spec) => {
  const definition = buildDefinition(inputFor(spec));
  const states = allStates(definition);

  it('is valid ASL', () => {
    expect(aslErrors(definition)).toBe('');
  });

  it('names every state once, Map iterations included', () => {
    const names = states.map(([name]) => name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('discards every write result and ends every Map iteration with an empty output', () => {
    for (const task of tasks(definition, PUT_ITEM)) expect(task.ResultPath).toBeNull();
    for (const [, state] of states) {
      if (state.Type !== 'Map') continue;
      expect(state.ResultPath).toBeNull();
      for (const inner of Object.values(state.ItemProcessor.States)) {
        if ('End' in inner && inner.End) expect(outputIsEmpty(inner)).toBe(true);
      }
    }
  });

  it('bounds every Map with MaxConcurrency', () => {
    for (const [, state] of states) {
      if (state.Type === 'Map') expect(state.MaxConcurrency).toBeGreaterThan(0);
    }
  });

  it('downloads with the download retries and writes to the table', () => {
    const downloads = tasks(definition, INVOKE);
    expect(downloads.length).toBeGreaterThan(0);
    for (const task of downloads) {
      expect(task.Retry?.length).toBeGreaterThan(0);
      expect(task.TimeoutSeconds).toBeGreaterThan(0);
    }
    for (const task of tasks(definition, PUT_ITEM)) {
      expect(task.Parameters?.TableName).toBe(spec.table.name);
    }
  });

  it('keeps every path the items read under the response, element or request', () => {
    for (const task of tasks(definition, PUT_ITEM)) {
      const text = JSON.stringify(task.Parameters?.Item);
      const paths = [...text.matchAll(/(\$\$?\.[A-Za-z.]+)/g)].map((match) => match[1]);
      for (const path of paths) {
        expect(path).toMatch(
          /^\$\.(response|element)\b|^\$\.(page|value|index)$|^\$\$\.Execution\.StartTime$/,
        );
      }
    }
  });

  it('carries no credential setting', () => {
    const withAuth = { ...spec, source: { ...spec.source, auth: AUTH } };
    const rendered = renderDefinition(buildDefinition(inputFor(withAuth)));
    for (const text of Object.values(AUTH.secretRef)) expect(rendered).not.toContain(text);
    expect(rendered).not.toContain(AUTH.header);
  });

  it('renders to JSON that parses back to the same definition', () => {
    expect(JSON.parse(renderDefinition(definition))).toEqual(definition);
  });
});

describe('needsMultiRequestStates', () => {
  it('holds for pagination, fanOut and itemsPath, and not for a plain spec', () => {
    expect(needsMultiRequestStates(eveSpec())).toBe(false);
    expect(needsMultiRequestStates(ordersSpec({ itemsPath: '$.ResponseBody' }))).toBe(true);
    expect(needsMultiRequestStates(ordersSpec({ pagination: nextLink() }))).toBe(true);
    expect(needsMultiRequestStates(ordersSpec({ fanOut: { paths: ['/a'], concurrency: 1 } }))).toBe(
      true,
    );
  });

  it('leaves the plain definition as it was, even for an item reading $.request.time', () => {
    const plain = buildDefinition(inputFor(eveSpec()));
    const timed = buildDefinition(
      inputFor(
        eveSpec({ item: { pk: { S: '$.request.time' }, count: { N: '$.ResponseBody.players' } } }),
      ),
    );

    expect(Object.keys(timed.States)).toEqual(Object.keys(plain.States));
    const persist = timed.States.Persist as TaskState;
    expect(persist.Parameters?.Item).toMatchObject({ pk: { 'S.$': '$$.Execution.StartTime' } });
  });
});

describe('PageNumber pagination', () => {
  const spec = ordersSpec({
    pagination: pageNumber({ maxPages: 40, concurrency: 8 }),
    itemsPath: '$.ResponseBody',
    item: { pk: { N: '$.order_id' }, page: { N: '$.request.page' } },
  });
  const definition = buildDefinition(inputFor(spec));

  it('downloads the first page with the page parameter set, keeping the static query', () => {
    const first = stateNamed<TaskState>(definition, S.downloadFirstPage);

    expect(definition.StartAt).toBe(S.downloadFirstPage);
    expect(first.Parameters).toMatchObject({
      Path: '/v2/markets/orders',
      QueryParameters: { datasource: ['tranquility'], page: ['1'] },
    });
    // At the top the execution input is replaced, so whatever started the run does not matter.
    expect(first.ResultSelector).toEqual({ 'response.$': '$', page: 1 });
    expect(first.Next).toBe(S.writeFirstPageItems);
  });

  it('reads the count from the header as sent, parses it and caps it at maxPages', () => {
    expect(stateNamed<PassState>(definition, S.readPageCount).Parameters).toEqual({
      'pageCount.$': "$.response.Headers['X-Pages'][0]",
    });
    expect(stateNamed<PassState>(definition, S.parsePageCount).Parameters).toEqual({
      'pageCount.$': 'States.StringToJson($.pageCount)',
    });
    const count = stateNamed<ChoiceState>(definition, S.countPages);
    expect(count.Choices).toEqual([
      { Not: { Variable: '$.pageCount', IsNumeric: true }, Next: S.pageCountUnreadable },
      { Variable: '$.pageCount', NumericGreaterThan: 40, Next: S.listCappedPages },
      { Variable: '$.pageCount', NumericGreaterThan: 1, Next: S.listPages },
    ]);
    expect(count.Default).toBe(S.done);
    expect(stateNamed(definition, S.pageCountUnreadable)).toMatchObject({
      Type: 'Fail',
      Error: MULTI_REQUEST_ERRORS.pageCountUnreadable,
    });
  });

  it('lists the remaining pages with States.ArrayRange, up to the count or the cap', () => {
    expect(stateNamed<PassState>(definition, S.listPages).Parameters).toEqual({
      'pages.$': 'States.ArrayRange(2, $.pageCount, 1)',
    });
    expect(stateNamed<PassState>(definition, S.listCappedPages).Parameters).toEqual({
      'pages.$': 'States.ArrayRange(2, 40, 1)',
    });
  });

  it('maps over the pages with the concurrency asked, each page number as a query value', () => {
    const pages = stateNamed<MapState>(definition, S.downloadPages);
    expect(pages).toMatchObject({
      ItemsPath: '$.pages',
      ItemSelector: { 'page.$': '$$.Map.Item.Value' },
      MaxConcurrency: 8,
      ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: S.downloadPage },
      ResultPath: null,
      OutputPath: null,
      End: true,
    });
    const page = stateNamed<TaskState>(definition, S.downloadPage);
    expect(page.Parameters?.QueryParameters).toEqual({
      datasource: ['tranquility'],
      'page.$': "States.Array(States.Format('{}', $.page))",
    });
    expect(page.ResultPath).toBe('$.response');
  });

  it('writes each element of each page with the page number from the state', () => {
    const write = stateNamed<MapState>(definition, S.writePageItems);
    expect(write).toMatchObject({
      ItemsPath: '$.response.ResponseBody',
      ItemSelector: {
        'element.$': '$$.Map.Item.Value',
        'index.$': '$$.Map.Item.Index',
        'page.$': '$.page',
      },
      MaxConcurrency: ITEM_WRITE_CONCURRENCY,
    });
    expect(stateNamed<TaskState>(definition, S.putPageItem).Parameters?.Item).toEqual({
      page: { 'N.$': "States.Format('{}', $.page)" },
      pk: { 'N.$': "States.Format('{}', $.element.order_id)" },
    });
  });

  it('replaces a page parameter written in source.path and applies the defaults', () => {
    const d = buildDefinition(
      inputFor(ordersSpec({ path: '/orders?page=7&x=1', pagination: pageNumber() })),
    );

    expect(stateNamed<TaskState>(d, S.downloadFirstPage).Parameters?.QueryParameters).toEqual({
      page: ['1'],
      x: ['1'],
    });
    expect(stateNamed<MapState>(d, S.downloadPages).MaxConcurrency).toBe(5);
  });

  it('numbers from 0 and reads a body count that may be a number or a string', () => {
    const d = buildDefinition(
      inputFor(
        ordersSpec({
          pagination: pageNumber({
            pageCountHeader: undefined,
            pageCountPath: '$.ResponseBody.total_pages',
            firstPage: 0,
            pageParameter: 'p',
          }),
        }),
      ),
    );

    expect(stateNamed<TaskState>(d, S.downloadFirstPage).Parameters?.QueryParameters).toEqual({
      datasource: ['tranquility'],
      p: ['0'],
    });
    expect(stateNamed<PassState>(d, S.readPageCount)).toMatchObject({
      Parameters: { 'pageCount.$': '$.response.ResponseBody.total_pages' },
      Next: S.checkPageCountType,
    });
    expect(stateNamed<ChoiceState>(d, S.checkPageCountType).Choices).toEqual([
      { Variable: '$.pageCount', IsString: true, Next: S.parsePageCount },
    ]);
    expect(stateNamed<PassState>(d, S.listPages).Parameters).toEqual({
      'pages.$': 'States.ArrayRange(1, States.MathAdd($.pageCount, -1), 1)',
    });
    expect(stateNamed<PassState>(d, S.listCappedPages).Parameters).toEqual({
      'pages.$': 'States.ArrayRange(1, 49, 1)',
    });
  });

  it('with maxPages 1 downloads and stores the first page only', () => {
    const d = buildDefinition(inputFor(ordersSpec({ pagination: pageNumber({ maxPages: 1 }) })));

    expect(Object.keys(d.States).sort()).toEqual([S.downloadFirstPage, S.persistFirstPage]);
    expect(d.States[S.persistFirstPage]).toMatchObject({ End: true, OutputPath: null });
  });
});

describe('NextLink pagination', () => {
  const definition = buildDefinition(
    inputFor(
      ordersSpec({
        path: '/v2/cursor?limit=100&cursor=start',
        pagination: nextLink({ maxPages: 7 }),
        itemsPath: '$.ResponseBody.items',
      }),
    ),
  );

  it('downloads the first page as source.path says, cursor included', () => {
    const first = stateNamed<TaskState>(definition, S.downloadFirstPage);
    expect(first.Parameters?.QueryParameters).toEqual({ cursor: ['start'], limit: ['100'] });
    expect(first.ResultSelector).toEqual({ 'response.$': '$', page: 1 });
    expect(first.Next).toBe(S.writePageItems);
    expect(stateNamed<MapState>(definition, S.writePageItems).Next).toBe(S.findNextPage);
  });

  it('stops on a missing, null or empty next, or after maxPages pages', () => {
    const find = stateNamed<ChoiceState>(definition, S.findNextPage);
    const next = '$.response.ResponseBody.next';
    expect(find.Choices).toEqual([
      { Variable: next, IsPresent: false, Next: S.done },
      { Variable: next, IsNull: true, Next: S.done },
      { Variable: next, StringEquals: '', Next: S.done },
      { Variable: '$.page', NumericGreaterThanEquals: 7, Next: S.done },
    ]);
    expect(find.Default).toBe(S.nextPage);
  });

  it('counts the page and keeps only the cursor, which replaces the one in source.path', () => {
    expect(stateNamed<PassState>(definition, S.nextPage)).toMatchObject({
      Parameters: {
        'page.$': 'States.MathAdd($.page, 1)',
        'cursor.$': '$.response.ResponseBody.next',
      },
      Next: S.downloadNextPage,
    });
    const next = stateNamed<TaskState>(definition, S.downloadNextPage);
    expect(next.Parameters?.QueryParameters).toEqual({
      'cursor.$': "States.Array(States.Format('{}', $.cursor))",
      limit: ['100'],
    });
    expect(next.ResultPath).toBe('$.response');
    expect(next.Next).toBe(S.writePageItems);
  });

  it('requests a next link as the Path, after checking it is a path without query', () => {
    const d = buildDefinition(
      inputFor(
        ordersSpec({
          path: '/v2/links?scope=x',
          pagination: nextLink({ cursorParameter: undefined }),
        }),
      ),
    );

    const next = stateNamed<TaskState>(d, S.downloadNextPage);
    expect(next.Parameters).toMatchObject({
      'Path.$': '$.cursor',
      QueryParameters: { scope: ['x'] },
    });
    expect(next.Parameters).not.toHaveProperty('Path');
    expect(stateNamed<ChoiceState>(d, S.findNextPage).Choices.slice(4)).toEqual([
      {
        Not: { Variable: '$.response.ResponseBody.next', StringMatches: '/*' },
        Next: S.nextLinkUnsupported,
      },
      {
        Variable: '$.response.ResponseBody.next',
        StringMatches: '*?*',
        Next: S.nextLinkUnsupported,
      },
    ]);
    expect(stateNamed(d, S.nextLinkUnsupported)).toMatchObject({
      Type: 'Fail',
      Error: MULTI_REQUEST_ERRORS.nextLinkUnsupported,
    });
  });
});

describe('fan-out', () => {
  it('lists the paths in a Pass state and maps over them, each as the Path', () => {
    const d = buildDefinition(
      inputFor(
        ordersSpec({
          path: '/ignored?datasource=tq',
          fanOut: { paths: ['/v2/systems/1', '/v2/systems/2'], concurrency: 2 },
          item: { pk: { N: '$.ResponseBody.id' }, path: { S: '$.request.value' } },
        }),
      ),
    );

    expect(d.StartAt).toBe(S.fanOutTargets);
    expect(d.States[S.fanOutTargets]).toMatchObject({
      Type: 'Pass',
      Result: { targets: ['/v2/systems/1', '/v2/systems/2'] },
      Next: S.fanOut,
    });
    expect(d.States[S.fanOut]).toMatchObject({
      ItemsPath: '$.targets',
      ItemSelector: { 'value.$': '$$.Map.Item.Value' },
      MaxConcurrency: 2,
      ResultPath: null,
      OutputPath: null,
    });
    const download = stateNamed<TaskState>(d, S.download);
    expect(download.Parameters).toMatchObject({
      'Path.$': '$.value',
      QueryParameters: { datasource: ['tq'] },
    });
    expect(download.ResultPath).toBe('$.response');
    expect(stateNamed<TaskState>(d, S.persist)).toMatchObject({
      Parameters: {
        Item: {
          path: { 'S.$': '$.value' },
          pk: { 'N.$': "States.Format('{}', $.response.ResponseBody.id)" },
        },
      },
      OutputPath: null,
      End: true,
    });
  });

  it('sends each query value in its parameter, replacing one in source.path, and starts pages at 1', () => {
    const d = buildDefinition(
      inputFor(
        ordersSpec({
          path: '/orders?type_id=1&x=y',
          fanOut: { query: { parameter: 'type_id', values: ['34', '35'] }, concurrency: 2 },
          pagination: pageNumber(),
        }),
      ),
    );

    expect(d.States[S.fanOut]).toMatchObject({
      ItemSelector: { 'value.$': '$$.Map.Item.Value', page: 1 },
    });
    const first = stateNamed<TaskState>(d, S.downloadFirstPage);
    expect(first.Parameters?.QueryParameters).toEqual({
      page: ['1'],
      'type_id.$': 'States.Array($.value)',
      x: ['y'],
    });
    // In an iteration the response goes beside the value, and the page count keeps it.
    expect(first.ResultPath).toBe('$.response');
    expect(stateNamed<PassState>(d, S.readPageCount).Parameters).toMatchObject({
      'value.$': '$.value',
    });
    expect(stateNamed<MapState>(d, S.downloadPages).ItemSelector).toEqual({
      'page.$': '$$.Map.Item.Value',
      'value.$': '$.value',
    });
  });
});

describe('item paths', () => {
  it('read select names through to the selected path under the response', () => {
    const d = buildDefinition(
      inputFor(
        ordersSpec({
          pagination: nextLink(),
          select: { id: '$.ResponseBody.id', date: "$.Headers['Date'][0]" },
          item: { pk: { N: '$.id' }, at: { S: '$.date' }, raw: { S: '$.ResponseBody.name' } },
        }),
      ),
    );

    expect(stateNamed<TaskState>(d, S.downloadFirstPage)).not.toHaveProperty('ResultSelector.id');
    expect(stateNamed<TaskState>(d, S.persistPage).Parameters?.Item).toEqual({
      at: { 'S.$': "$.response.Headers['Date'][0]" },
      pk: { 'N.$': "States.Format('{}', $.response.ResponseBody.id)" },
      raw: { 'S.$': '$.response.ResponseBody.name' },
    });
  });

  it("read $ as the element and $['request'] as an element field, not the request", () => {
    const d = buildDefinition(
      inputFor(
        ordersSpec({
          itemsPath: '$.ResponseBody.ids',
          item: { pk: { N: '$' }, r: { S: "$['request'].id" }, i: { N: '$.request.index' } },
        }),
      ),
    );

    expect(stateNamed<TaskState>(d, S.putItem).Parameters?.Item).toEqual({
      i: { 'N.$': "States.Format('{}', $.index)" },
      pk: { 'N.$': "States.Format('{}', $.element)" },
      r: { 'S.$': "$.element['request'].id" },
    });
  });
});

describe('on a spec admission should have refused', () => {
  it.each<[string, DownloaderSpec, string]>([
    [
      'PageNumber without a page count',
      ordersSpec({ pagination: pageNumber({ pageCountHeader: undefined }) }),
      'InvalidPagination',
    ],
    [
      'PageNumber with both page counts',
      ordersSpec({ pagination: pageNumber({ pageCountPath: '$.x' }) }),
      'InvalidPagination',
    ],
    [
      'NextLink without nextPath',
      ordersSpec({ pagination: nextLink({ nextPath: undefined }) }),
      'InvalidPagination',
    ],
    [
      'fanOut with paths and query',
      ordersSpec({
        fanOut: { paths: ['/a'], query: { parameter: 'q', values: ['1'] }, concurrency: 1 },
      }),
      'InvalidFanOut',
    ],
    [
      'select with itemsPath',
      ordersSpec({ itemsPath: '$.ResponseBody', select: { a: '$.b' } }),
      'InvalidSelect',
    ],
    [
      '$.request.page without pagination',
      ordersSpec({ itemsPath: '$.ResponseBody', item: { pk: { N: '$.request.page' } } }),
      'InvalidItemMapping',
    ],
    [
      '$.request.index without itemsPath',
      ordersSpec({ pagination: nextLink(), item: { pk: { N: '$.request.index' } } }),
      'InvalidItemMapping',
    ],
    [
      '$.request.value without fanOut',
      ordersSpec({ pagination: nextLink(), item: { pk: { N: '$.request.value' } } }),
      'InvalidItemMapping',
    ],
  ])('throws DefinitionError for %s', (_name, spec, reason) => {
    expect(() => buildDefinition(inputFor(spec))).toThrow(expect.objectContaining({ reason }));
  });
});

import { Type, type Static } from '@sinclair/typebox';
import { MapOf, StringEnum } from './schema-kit.js';

/**
 * The schema of `Downloader.spec`: the one definition from which both the TypeScript types and
 * the CRD's OpenAPI schema (with defaults and CEL admission rules) are made.
 */

/** HTTP methods a source may be called with. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/** DynamoDB key attribute types. */
export const KEY_TYPES = ['S', 'N', 'B'] as const;
/** DynamoDB attribute types an item mapping may produce. */
export const ITEM_TYPES = ['S', 'N', 'B', 'BOOL', 'NULL'] as const;
/**
 * kubectl reads manifests as YAML 1.1, where an unquoted `N` is the boolean false, so
 * `count: {N: $.x}` reaches the API server as `{"false": "$.x"}`. Only N can arrive that way, so
 * "false" is accepted as N; `normalizeItemType` maps it back.
 */
export const YAML11_N_ALIAS = 'false';

/** The DynamoDB type an item mapping key stands for, undoing kubectl's YAML 1.1 reading of N. */
export function normalizeItemType(key: string): string {
  return key === YAML11_N_ALIAS ? 'N' : key;
}
export const DELETION_POLICIES = ['Retain', 'Delete'] as const;
export const WORKFLOW_TYPES = ['STANDARD', 'EXPRESS'] as const;
/**
 * How the state machine reaches the source: through an API Gateway REST API proxy
 * (`apigateway:invoke`), or directly with the Step Functions HTTP Task (`http:invoke`) and an
 * EventBridge connection holding the credential.
 */
export const TRANSPORTS = ['ApiGateway', 'HttpTask'] as const;
/** How a paged source says how many pages there are, or where the next one is. */
export const PAGINATION_TYPES = ['PageNumber', 'NextLink'] as const;
/** Upper bound of pagination.maxPages: States.ArrayRange makes arrays of at most 1000 items. */
export const MAX_PAGES_LIMIT = 1000;
/** Upper bound of Map concurrency: an inline Map runs at most 40 iterations at once. */
export const MAX_MAP_CONCURRENCY = 40;
/** Upper bound of fanOut.paths and fanOut.query.values. */
export const MAX_FAN_OUT = 100;
/** What item paths may read under `$.request` when the request varies (pages, fan-out, lists). */
export const REQUEST_CONTEXT_FIELDS = ['page', 'value', 'index', 'time'] as const;

const HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";
/**
 * A header value: no control character but tab. A line break would end the header and start
 * another (header injection), and no HTTP client sends one.
 */
const HEADER_VALUE = '^[^\\x00-\\x08\\x0A-\\x1F\\x7F]*$';
/** A JSONPath of the subset Step Functions accepts in `.$` fields: dots, indexes, quoted keys. */
const JSON_PATH = "^\\$(\\.[A-Za-z_][A-Za-z0-9_-]*|\\[[0-9]+\\]|\\['[^']+'\\])*$";
const celJsonPath = celString(JSON_PATH);
const NUMBER = '^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$';
/** An item path that reads the request context rather than the downloaded data. */
const REQUEST_PATH = '^\\$\\.request([.\\[]|$)';
const REQUEST_CONTEXT_PATH = `^\\$\\.request\\.(${REQUEST_CONTEXT_FIELDS.join('|')})$`;
/** A query parameter name: no whitespace and none of the characters that delimit a query. */
const QUERY_PARAMETER = '^[^\\s&=#?]+$';

/** Escapes a string for a single-quoted CEL literal. */
function celString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

const SecretKeyRef = Type.Object(
  {
    name: Type.String({
      description: "Name of a Secret in the Downloader's own namespace.",
      minLength: 1,
      maxLength: 253,
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    }),
    key: Type.String({
      description: 'Key within the Secret whose value is the credential.',
      minLength: 1,
      maxLength: 253,
      pattern: '^[-._a-zA-Z0-9]+$',
    }),
    namespace: Type.Optional(
      Type.String({
        description:
          'Not allowed: a Downloader reads Secrets of its own namespace only. Present so that a ' +
          'manifest naming another namespace is rejected instead of silently pruned.',
        maxLength: 63,
      }),
    ),
  },
  {
    description: 'Reference to the Secret key holding the credential.',
    'x-kubernetes-validations': [
      {
        rule: '!has(self.__namespace__)',
        message:
          'secretRef.namespace is not allowed: a Downloader may only read Secrets of its own namespace',
        fieldPath: '.namespace',
        reason: 'FieldValueForbidden',
      },
    ],
  },
);

const Auth = Type.Object(
  {
    secretRef: SecretKeyRef,
    header: Type.String({
      description:
        'Header set from the Secret on every request to the source. The value is mapped in the ' +
        'API Gateway integration (transport ApiGateway) or held by the EventBridge connection ' +
        '(transport HttpTask), so it never appears in the state machine, its input or its ' +
        'execution history.',
      default: 'Authorization',
      maxLength: 128,
      pattern: HEADER_NAME,
    }),
    prefix: Type.String({
      description: 'Text put before the Secret value in the header, for example "Bearer ".',
      default: '',
      maxLength: 64,
      pattern: HEADER_VALUE,
    }),
  },
  { description: 'Credential sent to the source, taken from a Secret.' },
);

const Pagination = Type.Object(
  {
    type: StringEnum(PAGINATION_TYPES, {
      description:
        'PageNumber: the source numbers its pages and says how many there are (in a header ' +
        'such as X-Pages, or in the body); the first page is downloaded, then the others at ' +
        'once, concurrency at a time. NextLink: each page says where the next one is (a cursor ' +
        'or a path); pages are downloaded one after another until a page has none.',
    }),
    pageParameter: Type.Optional(
      Type.String({
        description:
          'PageNumber: query parameter carrying the page number. Default page. A value for it ' +
          'in source.path is replaced.',
        minLength: 1,
        maxLength: 128,
        pattern: QUERY_PARAMETER,
      }),
    ),
    firstPage: Type.Optional(
      Type.Integer({
        description: 'PageNumber: number of the first page, 1 (the default) or 0.',
        minimum: 0,
        maximum: 1,
      }),
    ),
    pageCountHeader: Type.Optional(
      Type.String({
        description:
          'PageNumber: response header of the first page holding the page count, spelled as ' +
          'the source sends it (header lookups are case-sensitive). Example: X-Pages',
        maxLength: 128,
        pattern: HEADER_NAME,
      }),
    ),
    pageCountPath: Type.Optional(
      Type.String({
        description:
          'PageNumber: JSONPath into the first page download result to the page count, a ' +
          'number or a numeric string. Example: $.ResponseBody.total_pages',
        maxLength: 1024,
        pattern: JSON_PATH,
      }),
    ),
    concurrency: Type.Optional(
      Type.Integer({
        description:
          'PageNumber: pages downloaded at once after the first (the Map MaxConcurrency). ' +
          'Default 5.',
        minimum: 1,
        maximum: MAX_MAP_CONCURRENCY,
      }),
    ),
    nextPath: Type.Optional(
      Type.String({
        description:
          'NextLink: JSONPath into each download result to the next page: a cursor when ' +
          'cursorParameter is set, otherwise a path on the source (starting with "/", no query ' +
          'string). A page where it is missing, null or "" is the last. Example: ' +
          '$.ResponseBody.next_cursor',
        maxLength: 1024,
        pattern: JSON_PATH,
      }),
    ),
    cursorParameter: Type.Optional(
      Type.String({
        description:
          'NextLink: query parameter the cursor is sent in, next to the query of source.path ' +
          '(a value for it there is replaced). Without it the value at nextPath is requested ' +
          'as a path.',
        minLength: 1,
        maxLength: 128,
        pattern: QUERY_PARAMETER,
      }),
    ),
    maxPages: Type.Integer({
      description:
        'Most pages downloaded per run (per fan-out request), first included: a cap on what a ' +
        'wrong page count or an endless cursor can cost. At most 1000.',
      minimum: 1,
      maximum: MAX_PAGES_LIMIT,
    }),
  },
  {
    description:
      'Download every page of a paged source on each run. Each page is stored like a single ' +
      'download (or element by element with itemsPath); item paths can read $.request.page.',
    'x-kubernetes-validations': [
      {
        rule:
          "self.type != 'PageNumber' || " +
          '(has(self.pageCountHeader) ? !has(self.pageCountPath) : has(self.pageCountPath))',
        message:
          'PageNumber pagination reads the page count from exactly one of pageCountHeader and ' +
          'pageCountPath',
      },
      {
        rule: "self.type != 'PageNumber' || (!has(self.nextPath) && !has(self.cursorParameter))",
        message: 'nextPath and cursorParameter belong to NextLink pagination',
      },
      {
        rule: "self.type != 'NextLink' || has(self.nextPath)",
        message: 'NextLink pagination needs nextPath',
        fieldPath: '.nextPath',
        reason: 'FieldValueRequired',
      },
      {
        rule:
          "self.type != 'NextLink' || !(has(self.pageParameter) || has(self.firstPage) || " +
          'has(self.pageCountHeader) || has(self.pageCountPath) || has(self.concurrency))',
        message:
          'pageParameter, firstPage, pageCountHeader, pageCountPath and concurrency belong to ' +
          'PageNumber pagination; NextLink pages are downloaded one after another',
      },
    ],
  },
);

const Source = Type.Object(
  {
    url: Type.String({
      description:
        'Origin the proxy forwards to: an http or https URL, optionally with a base path, ' +
        'without query or fragment. Example: https://esi.evetech.net',
      maxLength: 2048,
      pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*://[^\\s/?#]+(/[^\\s?#]*)?$',
      'x-kubernetes-validations': [
        {
          rule: "isURL(self) && url(self).getScheme() in ['http', 'https']",
          message: 'source.url must be an absolute http or https URL',
        },
        {
          rule: "!self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')",
          message:
            'source.url may not carry credentials (user:password@): they would show in the ' +
            "proxy's configuration and the status; put them in a Secret and use source.auth",
        },
      ],
    }),
    path: Type.String({
      description:
        'Path requested below the url on every run, starting with "/"; may carry a query ' +
        'string. Example: /v2/status?datasource=tranquility',
      default: '/',
      maxLength: 2048,
      pattern: '^/[^\\s#]*$',
    }),
    method: StringEnum(HTTP_METHODS, {
      description: 'HTTP method of the request.',
      default: 'GET',
    }),
    headers: Type.Optional(
      MapOf(Type.String({ description: 'Header value.', maxLength: 1024, pattern: HEADER_VALUE }), {
        description:
          'Static, non-secret headers sent on every request. Credentials belong in auth, which ' +
          'keeps them out of the execution history.',
        maxProperties: 32,
        'x-kubernetes-validations': [
          {
            rule: `self.all(k, k.size() <= 128 && k.matches('${celString(HEADER_NAME)}'))`,
            message: 'source.headers keys must be HTTP header names',
          },
          {
            rule: "!self.exists(k, k.lowerAscii() == 'authorization')",
            message:
              'source.headers may not set Authorization: Step Functions refuses it; use source.auth',
          },
        ],
      }),
    ),
    auth: Type.Optional(Auth),
    pagination: Type.Optional(Pagination),
    transport: Type.Optional(
      StringEnum(TRANSPORTS, {
        description:
          'How the state machine calls the source. ApiGateway (default): through an API Gateway ' +
          'REST API the operator keeps as a proxy (apigateway:invoke). HttpTask: directly with ' +
          'the Step Functions HTTP Task (http:invoke) and an EventBridge connection the operator ' +
          'keeps with the credential of auth; no API Gateway. AWS calls only https sources with ' +
          'HttpTask, and sends each query parameter once: a repeated one in source.path is ' +
          'refused.',
        default: 'ApiGateway',
      }),
    ),
  },
  {
    description: 'The third-party HTTP API to download from.',
    'x-kubernetes-validations': [
      {
        rule:
          '!has(self.auth) || !has(self.headers) || ' +
          '!self.headers.exists(k, k.lowerAscii() == self.auth.header.lowerAscii())',
        message: 'source.headers may not set the header that source.auth sets',
        fieldPath: '.headers',
      },
    ],
  },
);

const KeySchema = Type.Object(
  {
    name: Type.String({ description: 'Attribute name of the key.', minLength: 1, maxLength: 255 }),
    type: StringEnum(KEY_TYPES, { description: 'DynamoDB type of the key: S, N or B.' }),
  },
  { description: 'A key attribute of the table.' },
);

const Table = Type.Object(
  {
    name: Type.String({
      description:
        'DynamoDB table name. The operator creates it (on-demand capacity) or adopts an ' +
        'existing table with the same keys.',
      minLength: 3,
      maxLength: 255,
      pattern: '^[a-zA-Z0-9_.-]+$',
    }),
    partitionKey: KeySchema,
    sortKey: Type.Optional(KeySchema),
    deletionPolicy: StringEnum(DELETION_POLICIES, {
      description:
        'What happens to the table when the Downloader is deleted. Retain (default) keeps it ' +
        'and its data; Delete removes it, but only if the operator created it.',
      default: 'Retain',
    }),
  },
  {
    description: 'The DynamoDB table results are written to.',
    'x-kubernetes-validations': [
      {
        rule: '!has(self.sortKey) || self.sortKey.name != self.partitionKey.name',
        message: 'table.sortKey must differ from table.partitionKey',
        fieldPath: '.sortKey.name',
      },
    ],
  },
);

const ItemValue = MapOf(Type.String({ description: 'JSONPath or literal.', maxLength: 512 }), {
  description:
    'One entry: the DynamoDB type (S, N, B, BOOL or NULL) mapped to a JSONPath into the ' +
    'download result (starting with $) or a literal. Numbers need no States.Format: the ' +
    'operator converts them. Example: {N: $.ResponseBody.players}',
  minProperties: 1,
  maxProperties: 1,
  'x-kubernetes-validations': [
    {
      rule: `self.all(t, t in ['${[...ITEM_TYPES, YAML11_N_ALIAS].join("', '")}'])`,
      message: `item values must use a DynamoDB type of ${ITEM_TYPES.join(', ')}`,
    },
    {
      rule: `self.all(t, !self[t].startsWith('$') || self[t].matches('${celJsonPath}'))`,
      message: 'item paths must be JSONPaths like $.ResponseBody.players or $.Headers.Date[0]',
    },
    {
      rule: `self.all(t, (t != 'N' && t != '${YAML11_N_ALIAS}') || self[t].startsWith('$') || self[t].matches('${celString(NUMBER)}'))`,
      message: 'an N literal must be a number',
    },
    {
      rule: "!has(self.BOOL) || self.BOOL.startsWith('$') || self.BOOL in ['true', 'false']",
      message: 'a BOOL literal must be true or false',
    },
    {
      rule: "!has(self.NULL) || self.NULL == 'true'",
      message: 'NULL takes the literal true',
    },
  ],
});

const Schedule = Type.Object(
  {
    expression: Type.String({
      description:
        'When to run, as EventBridge Scheduler takes it: rate(1 minute), rate(5 minutes), ' +
        'cron(0 12 * * ? *) (six fields) or at(2030-01-01T00:00:00).',
      maxLength: 256,
      pattern:
        '^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\([^()]+\\)|' +
        'at\\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\))$',
      'x-kubernetes-validations': [
        {
          rule:
            "!self.startsWith('rate(') || " +
            "self.matches('^rate\\\\(1 (minute|hour|day)\\\\)$') || " +
            "self.matches('^rate\\\\([1-9][0-9]+ (minutes|hours|days)\\\\)$') || " +
            "self.matches('^rate\\\\([2-9] (minutes|hours|days)\\\\)$')",
          message:
            'rate() takes a singular unit for 1, rate(1 minute), and a plural one above, rate(5 minutes)',
        },
        {
          rule:
            "!self.startsWith('cron(') || " +
            "self.matches('^cron\\\\(\\\\S+ \\\\S+ (\\\\? \\\\S+ \\\\S+|\\\\S+ \\\\S+ \\\\?) \\\\S+\\\\)$')",
          message:
            'cron() takes six fields, minutes hours day-of-month month day-of-week year, with ? ' +
            'in day-of-month or day-of-week, for example cron(0 12 * * ? *)',
        },
      ],
    }),
    timezone: Type.String({
      description: 'IANA time zone the expression is read in, for example Europe/Paris.',
      default: 'UTC',
      maxLength: 64,
      pattern: '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$',
    }),
    suspend: Type.Boolean({
      description: 'When true the schedule is kept but disabled; run-now still works.',
      default: false,
    }),
  },
  { description: 'When the download runs (an EventBridge Scheduler schedule).' },
);

const Workflow = Type.Object(
  {
    type: StringEnum(WORKFLOW_TYPES, {
      description:
        'Step Functions workflow type. STANDARD keeps an execution history the operator reads ' +
        'back; EXPRESS is cheaper at high frequency but reports no last execution.',
      default: 'STANDARD',
    }),
  },
  { description: 'The Step Functions state machine.', default: {} },
);

const FanOutQuery = Type.Object(
  {
    parameter: Type.String({
      description:
        'Query parameter that takes each value in turn, next to the query of source.path (a ' +
        'value for it there is replaced).',
      minLength: 1,
      maxLength: 128,
      pattern: QUERY_PARAMETER,
    }),
    values: Type.Array(
      Type.String({ description: 'One value of the parameter.', maxLength: 1024 }),
      {
        description: 'The values, one request each; no duplicates.',
        minItems: 1,
        maxItems: MAX_FAN_OUT,
        'x-kubernetes-list-type': 'set',
      },
    ),
  },
  { description: 'One request per value of a query parameter.' },
);

const FanOut = Type.Object(
  {
    paths: Type.Optional(
      Type.Array(
        Type.String({
          description: 'A path on the source, starting with "/", without a query string.',
          maxLength: 2048,
          pattern: '^/[^\\s?#]*$',
        }),
        {
          description:
            'One request per path, each in place of the path of source.path (whose query ' +
            'string is sent with every one); no duplicates. Example: [/v2/universe/systems/1, ' +
            '/v2/universe/systems/2]',
          minItems: 1,
          maxItems: MAX_FAN_OUT,
          'x-kubernetes-list-type': 'set',
        },
      ),
    ),
    query: Type.Optional(FanOutQuery),
    concurrency: Type.Integer({
      description: 'Requests (with their pages) run at once: the Map MaxConcurrency. Default 5.',
      default: 5,
      minimum: 1,
      maximum: MAX_MAP_CONCURRENCY,
    }),
  },
  {
    description:
      'Run the download once per path or per query value, at most 100, in one execution; ' +
      'every result is stored (with pagination, every page of every request). Item paths can ' +
      'read the path or value of the request as $.request.value.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.paths) != has(self.query)',
        message: 'fanOut takes exactly one of paths and query',
      },
    ],
  },
);

/** `Downloader.spec` as a schema. */
export const DownloaderSpecSchema = Type.Object(
  {
    source: Source,
    table: Table,
    select: Type.Optional(
      MapOf(Type.String({ description: 'JSONPath into the download result.', maxLength: 1024 }), {
        description:
          'Optional fields picked out of the download result before the item is written ' +
          '(a ResultSelector on the download task); the item then refers to them as $.name. ' +
          'It keeps the state small between steps, but cannot rescue a response that is itself ' +
          'over the 256 KiB payload limit: that fails the download. ' +
          'Example: {players: $.ResponseBody.players}',
        maxProperties: 64,
        'x-kubernetes-validations': [
          {
            rule: `self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$') && self[k].matches('${celJsonPath}'))`,
            message: 'select maps simple names to JSONPaths like $.ResponseBody.players',
          },
        ],
      }),
    ),
    fanOut: Type.Optional(FanOut),
    itemsPath: Type.Optional(
      Type.String({
        description:
          'JSONPath into the download result to a list, such as $.ResponseBody or ' +
          '$.ResponseBody.items: one item is written per element (of every page and fan-out ' +
          'request), and item paths read the element ($.order_id, or $ for a list of scalars). ' +
          'The table key must then come from the element so that items do not overwrite each ' +
          'other; $.request.index is the position in the list.',
        maxLength: 1024,
        pattern: JSON_PATH,
      }),
    ),
    item: MapOf(ItemValue, {
      description:
        'The DynamoDB item written on each run: attribute name -> {type: JSONPath or literal}. ' +
        'Must map the table keys with their key types. With pagination, fanOut or itemsPath, ' +
        '$.request.page (page number), $.request.value (fan-out path or value), ' +
        '$.request.index (position in the itemsPath list) and $.request.time (start of the ' +
        'run, ISO 8601; allowed always) read the request an item came from.',
      minProperties: 1,
      maxProperties: 50,
      'x-kubernetes-validations': [
        {
          rule: 'self.all(k, k.size() <= 255)',
          message: 'item attribute names are at most 255 characters',
        },
      ],
    }),
    schedule: Schedule,
    workflow: Workflow,
  },
  {
    description: 'What to download, where to store it, and when.',
    'x-kubernetes-validations': [
      {
        rule: 'self.table.partitionKey.name in self.item',
        message: 'item must map the table partition key',
        fieldPath: '.item',
        reason: 'FieldValueRequired',
      },
      {
        rule:
          '!(self.table.partitionKey.name in self.item) || ' +
          'self.table.partitionKey.type in self.item[self.table.partitionKey.name] || ' +
          "(self.table.partitionKey.type == 'N' && 'false' in self.item[self.table.partitionKey.name])",
        message: 'item must give the partition key the table partition key type',
        fieldPath: '.item',
      },
      {
        rule: '!has(self.table.sortKey) || self.table.sortKey.name in self.item',
        message: 'item must map the table sort key',
        fieldPath: '.item',
        reason: 'FieldValueRequired',
      },
      {
        rule:
          '!has(self.table.sortKey) || !(self.table.sortKey.name in self.item) || ' +
          'self.table.sortKey.type in self.item[self.table.sortKey.name] || ' +
          "(self.table.sortKey.type == 'N' && 'false' in self.item[self.table.sortKey.name])",
        message: 'item must give the sort key the table sort key type',
        fieldPath: '.item',
      },
      {
        rule: '!has(self.itemsPath) || !has(self.select)',
        message:
          'select does not combine with itemsPath: with itemsPath, item paths read each element',
        fieldPath: '.select',
      },
      {
        rule:
          `self.item.all(k, self.item[k].all(t, !self.item[k][t].matches('${celString(REQUEST_PATH)}') || ` +
          `self.item[k][t].matches('${celString(REQUEST_CONTEXT_PATH)}')))`,
        message: `item paths under $.request are ${REQUEST_CONTEXT_FIELDS.map((f) => `$.request.${f}`).join(', ')}`,
        fieldPath: '.item',
      },
      {
        rule: "has(self.source.pagination) || !self.item.exists(k, self.item[k].exists(t, self.item[k][t] == '$.request.page'))",
        message: '$.request.page needs source.pagination',
        fieldPath: '.item',
      },
      {
        rule: "has(self.fanOut) || !self.item.exists(k, self.item[k].exists(t, self.item[k][t] == '$.request.value'))",
        message: '$.request.value needs fanOut',
        fieldPath: '.item',
      },
      {
        rule: "has(self.itemsPath) || !self.item.exists(k, self.item[k].exists(t, self.item[k][t] == '$.request.index'))",
        message: '$.request.index needs itemsPath',
        fieldPath: '.item',
      },
      {
        rule:
          '!has(self.fanOut) || !has(self.fanOut.query) || !has(self.source.pagination) || ' +
          "(self.source.pagination.type == 'PageNumber' ? self.fanOut.query.parameter != " +
          "(has(self.source.pagination.pageParameter) ? self.source.pagination.pageParameter : 'page') : " +
          '(!has(self.source.pagination.cursorParameter) || ' +
          'self.fanOut.query.parameter != self.source.pagination.cursorParameter))',
        message: 'fanOut.query.parameter must differ from the page or cursor parameter',
        fieldPath: '.fanOut.query.parameter',
      },
    ],
  },
);

/** The desired state of a Downloader, as the API server stores it (defaults applied). */
export type DownloaderSpec = Static<typeof DownloaderSpecSchema>;
export type ItemMapping = DownloaderSpec['item'];
export type SourceSpec = DownloaderSpec['source'];
export type TableSpec = DownloaderSpec['table'];
export type PaginationSpec = NonNullable<SourceSpec['pagination']>;
export type FanOutSpec = NonNullable<DownloaderSpec['fanOut']>;
export type Transport = (typeof TRANSPORTS)[number];

/**
 * The transport of a spec. The API server defaults it to ApiGateway; specs built in code (tests,
 * the bench) may leave it out, which means the same.
 */
export function transportOf(spec: Pick<DownloaderSpec, 'source'>): Transport {
  return spec.source.transport ?? 'ApiGateway';
}

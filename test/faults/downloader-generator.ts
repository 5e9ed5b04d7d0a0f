import { Kind, TypeRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  DownloaderSpecSchema,
  HTTP_METHODS,
  MAX_FAN_OUT,
  MAX_MAP_CONCURRENCY,
  type DownloaderSpec,
} from '../../src/api/downloader-spec.js';
import { isForbiddenHeader } from '../../src/workflow/source-request.js';
import type { Prng } from './prng.js';

/**
 * A seeded generator of random Downloader specs that the API server accepts: valid for the
 * OpenAPI schema (checked with TypeBox, see `schemaErrors`) and inside the CEL rules, which
 * TypeBox does not check, so the generator builds within them by construction (the integration
 * suite confirms it with `kubectl apply --dry-run=server`). Specs come with the server's
 * defaults applied, as the operator reads them.
 *
 * It leaves out, on purpose, what admission accepts but the operator refuses by design: static
 * headers Step Functions will not send (Host, X-Amz-*...; HeaderNotAllowed). Everything else in
 * the schema is in reach: pagination of both kinds, fan-out by path and by query, itemsPath,
 * select, auth, every item type and the YAML 1.1 `false` alias of N, request-context paths.
 */

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const ALNUM = `${LOWER}ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789`;
const TIMEZONES = [
  'UTC',
  'Europe/Paris',
  'America/New_York',
  'Asia/Tokyo',
  'America/Argentina/Buenos_Aires',
  'Etc/GMT+5',
];

function word(prng: Prng, alphabet: string, min: number, max: number): string {
  return Array.from({ length: prng.int(min, max) }, () => prng.pick([...alphabet])).join('');
}

/** A name for a JSONPath dot segment or a select key: letter or _, then letters, digits, _. */
function fieldName(prng: Prng, allowDash = true): string {
  const name = prng.pick([...`${LOWER}_`]) + word(prng, `${ALNUM}_${allowDash ? '-' : ''}`, 0, 10);
  // `$.request...` is reserved for the request context; steer clear of it.
  return name === 'request' ? 'requests' : name;
}

/** A JSONPath of the subset admission accepts: dots, indexes, quoted keys. */
export function jsonPath(prng: Prng, maxDepth = 4, root = ''): string {
  let path = `$${root}`;
  const depth = prng.int(root ? 0 : 1, maxDepth);
  for (let i = 0; i < depth; i++) {
    const kind = prng.weighted({ dot: 6, index: 2, quoted: 1 });
    if (kind === 'dot') path += `.${fieldName(prng)}`;
    else if (kind === 'index') path += `[${prng.int(0, 20)}]`;
    else path += `['${word(prng, `${ALNUM} -_.:`, 1, 12)}']`;
  }
  return path;
}

function numberLiteral(prng: Prng): string {
  return prng.pick([
    String(prng.int(-1000, 100000)),
    `${prng.int(0, 99)}.${prng.int(0, 999)}`,
    `${prng.int(1, 9)}e${prng.int(-5, 10)}`,
  ]);
}

type ItemEntry = Record<string, string>;

/** One item entry of `type` (N may be written as its YAML 1.1 alias `false`). */
function itemEntry(prng: Prng, type: string, paths: () => string): ItemEntry {
  const key = type === 'N' && prng.chance(0.1) ? 'false' : type;
  const usePath = prng.chance(0.6);
  switch (type) {
    case 'NULL':
      return { NULL: 'true' };
    case 'BOOL':
      return { BOOL: usePath ? paths() : prng.pick(['true', 'false']) };
    case 'N':
      return { [key]: usePath ? paths() : numberLiteral(prng) };
    case 'B':
      return { B: usePath ? paths() : Buffer.from(word(prng, ALNUM, 1, 20)).toString('base64') };
    default:
      return { S: usePath ? paths() : word(prng, `${ALNUM} -_.:/`, 1, 40).replace(/^\$/, 'x') };
  }
}

function headerName(prng: Prng): string {
  for (;;) {
    const name = prng.pick(['Accept', 'X-', 'X-Api-', 'User-Agent', 'X-Request-']);
    const full = name.endsWith('-') ? `${name}${word(prng, ALNUM, 1, 8)}` : name;
    if (!isForbiddenHeader(full)) return full;
  }
}

function headerValue(prng: Prng): string {
  return word(prng, `${ALNUM} \t,;=/"'()-_.`, 0, 40);
}

function queryParameter(prng: Prng): string {
  return word(prng, `${ALNUM}_-.[]`, 1, 12);
}

function sourcePath(prng: Prng): string {
  let path = '';
  for (let i = prng.int(0, 4); i > 0; i--) path += `/${word(prng, `${ALNUM}-_.~%`, 1, 12)}`;
  path ||= '/';
  if (prng.chance(0.4)) {
    const pairs = Array.from(
      { length: prng.int(1, 3) },
      () => `${queryParameter(prng)}=${word(prng, `${ALNUM}-_.~+%`, 0, 10)}`,
    );
    path += `?${pairs.join('&')}`;
  }
  return path;
}

function schedule(prng: Prng): DownloaderSpec['schedule'] {
  const kind = prng.weighted({ rate: 3, cron: 3, at: 1 });
  let expression: string;
  if (kind === 'rate') {
    const unit = prng.pick(['minute', 'hour', 'day']);
    const n = prng.int(1, 60);
    expression = n === 1 ? `rate(1 ${unit})` : `rate(${n} ${unit}s)`;
  } else if (kind === 'cron') {
    const minutes = prng.pick(['0', '*/5', '0/15', '30', '5,35']);
    const hours = prng.pick(['*', '12', '0-6', '*/2']);
    const dayOfWeekFirst = prng.chance(0.5);
    const dom = dayOfWeekFirst ? '?' : prng.pick(['*', '1', 'L', '15W']);
    const dow = dayOfWeekFirst ? prng.pick(['*', 'MON-FRI', '2#1', '6L']) : '?';
    const month = prng.pick(['*', 'JAN', '1-6']);
    const year = prng.pick(['*', '2030']);
    expression = `cron(${minutes} ${hours} ${dom} ${month} ${dow} ${year})`;
  } else {
    const pad = (n: number) => String(n).padStart(2, '0');
    expression =
      `at(${prng.int(2030, 2039)}-${pad(prng.int(1, 12))}-${pad(prng.int(1, 28))}T` +
      `${pad(prng.int(0, 23))}:${pad(prng.int(0, 59))}:${pad(prng.int(0, 59))})`;
  }
  return { expression, timezone: prng.pick(TIMEZONES), suspend: prng.chance(0.2) };
}

/** A random spec that admission accepts, with the API server's defaults applied. */
export function generateSpec(prng: Prng, options: { url?: string } = {}): DownloaderSpec {
  const headers: Record<string, string> = {};
  for (let i = prng.int(0, prng.chance(0.1) ? 32 : 3); i > 0; i--) {
    headers[headerName(prng)] = headerValue(prng);
  }
  const source: DownloaderSpec['source'] = {
    url:
      options.url ??
      `${prng.pick(['http', 'https'])}://${word(prng, `${LOWER}0123456789`, 1, 10)}.example.${prng.pick(['com', 'org', 'net'])}${prng.pick(['', ':8443'])}${prng.pick(['', '/api', '/v1/base'])}`,
    path: sourcePath(prng),
    method: prng.pick(HTTP_METHODS),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  };
  if (prng.chance(0.3)) {
    let header = prng.pick(['Authorization', 'X-Api-Key', 'X-Token']);
    if (Object.keys(headers).some((h) => h.toLowerCase() === header.toLowerCase())) {
      header = 'X-Operator-Auth';
      delete headers['X-Operator-Auth'];
    }
    source.auth = {
      secretRef: {
        name: `${word(prng, `${LOWER}0123456789`, 1, 10)}-token`,
        key: word(prng, `${ALNUM}-_.`, 1, 12),
      },
      header,
      prefix: prng.pick(['', 'Bearer ', 'Token ', 'Basic\t']),
    };
  }

  const pagination = prng.chance(0.3) ? prng.pick(['PageNumber', 'NextLink'] as const) : undefined;
  let pageParameter = 'page';
  let cursorParameter: string | undefined;
  if (pagination === 'PageNumber') {
    pageParameter = prng.chance(0.5) ? queryParameter(prng) : 'page';
    source.pagination = {
      type: 'PageNumber',
      ...(pageParameter !== 'page' || prng.chance(0.3) ? { pageParameter } : {}),
      ...(prng.chance(0.5) ? { firstPage: prng.int(0, 1) } : {}),
      ...(prng.chance(0.5)
        ? { pageCountHeader: prng.pick(['X-Pages', 'X-Total-Pages', 'Page-Count']) }
        : { pageCountPath: jsonPath(prng, 3, '.ResponseBody') }),
      ...(prng.chance(0.5) ? { concurrency: prng.int(1, MAX_MAP_CONCURRENCY) } : {}),
      maxPages: prng.int(1, 1000),
    };
  } else if (pagination === 'NextLink') {
    cursorParameter = prng.chance(0.5) ? queryParameter(prng) : undefined;
    source.pagination = {
      type: 'NextLink',
      nextPath: jsonPath(prng, 3, '.ResponseBody'),
      ...(cursorParameter ? { cursorParameter } : {}),
      maxPages: prng.int(1, 1000),
    };
  }

  let fanOut: DownloaderSpec['fanOut'];
  if (prng.chance(0.25)) {
    const concurrency = prng.int(1, MAX_MAP_CONCURRENCY);
    const count = prng.int(1, prng.chance(0.1) ? MAX_FAN_OUT : 5);
    if (prng.chance(0.5)) {
      const paths = new Set<string>();
      while (paths.size < count) paths.add(sourcePath(prng).split('?')[0] ?? '/');
      fanOut = { paths: [...paths], concurrency };
    } else {
      let parameter = queryParameter(prng);
      if (parameter === (pagination === 'PageNumber' ? pageParameter : cursorParameter)) {
        parameter = `${parameter}x`;
      }
      const values = new Set<string>();
      while (values.size < count) values.add(word(prng, `${ALNUM} -_.:/`, 0, 16));
      fanOut = { query: { parameter, values: [...values] }, concurrency };
    }
  }

  const itemsPath = prng.chance(0.25) ? jsonPath(prng, 2, '.ResponseBody') : undefined;
  const select =
    !itemsPath && prng.chance(0.25)
      ? Object.fromEntries(
          Array.from({ length: prng.int(1, 4) }, () => [fieldName(prng, false), jsonPath(prng)]),
        )
      : undefined;

  const contextPaths = [
    '$.request.time',
    ...(pagination ? ['$.request.page'] : []),
    ...(fanOut ? ['$.request.value'] : []),
    ...(itemsPath ? ['$.request.index'] : []),
  ];
  const paths = () =>
    prng.chance(0.15)
      ? prng.pick(contextPaths)
      : select && prng.chance(0.7)
        ? `$.${prng.pick(Object.keys(select))}`
        : jsonPath(prng);

  const keyName = () => word(prng, `${ALNUM}_-.`, 1, prng.chance(0.05) ? 255 : 12);
  const partitionKey = { name: keyName(), type: prng.pick(['S', 'N', 'B'] as const) };
  let sortKey: { name: string; type: 'S' | 'N' | 'B' } | undefined;
  if (prng.chance(0.4)) {
    sortKey = { name: keyName(), type: prng.pick(['S', 'N', 'B'] as const) };
    if (sortKey.name === partitionKey.name) sortKey.name = `${sortKey.name}_sk`.slice(-255);
  }
  const item: Record<string, ItemEntry> = {
    [partitionKey.name]: itemEntry(prng, partitionKey.type, paths),
    ...(sortKey ? { [sortKey.name]: itemEntry(prng, sortKey.type, paths) } : {}),
  };
  for (let i = prng.int(0, prng.chance(0.05) ? 48 : 6); i > 0; i--) {
    const name = word(prng, `${ALNUM}_-.`, 1, 20);
    if (name in item) continue;
    item[name] = itemEntry(prng, prng.pick(['S', 'N', 'B', 'BOOL', 'NULL']), paths);
  }

  return {
    source,
    table: {
      name: word(prng, `${ALNUM}_.-`, 3, prng.chance(0.05) ? 255 : 24),
      partitionKey,
      ...(sortKey ? { sortKey } : {}),
      deletionPolicy: prng.pick(['Retain', 'Delete'] as const),
    },
    ...(select ? { select } : {}),
    ...(fanOut ? { fanOut } : {}),
    ...(itemsPath ? { itemsPath } : {}),
    item,
    schedule: schedule(prng),
    workflow: { type: prng.pick(['STANDARD', 'EXPRESS'] as const) },
  };
}

/** A Downloader manifest (JSON, so that kubectl's YAML 1.1 reading has no say) for a spec. */
export function downloaderManifest(name: string, spec: DownloaderSpec) {
  return { apiVersion: 'downloader.dev/v1alpha1', kind: 'Downloader', metadata: { name }, spec };
}

let unsafeRegistered = false;

/**
 * TypeBox checks the schema's own kinds; the two builders of src/api/schema-kit.ts make
 * `Unsafe` schemas (an enum, a map of values), which this teaches it to check.
 */
function registerUnsafeKind(): void {
  if (unsafeRegistered || TypeRegistry.Has('Unsafe')) return;
  unsafeRegistered = true;
  TypeRegistry.Set('Unsafe', (schema: Record<string, unknown>, value: unknown): boolean => {
    if (Array.isArray(schema.enum)) return schema.enum.includes(value);
    if (schema.type === 'object' && schema.additionalProperties) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      const entries = Object.entries(value);
      const min = typeof schema.minProperties === 'number' ? schema.minProperties : 0;
      const max = typeof schema.maxProperties === 'number' ? schema.maxProperties : Infinity;
      if (entries.length < min || entries.length > max) return false;
      return entries.every(([, v]) => Value.Check(schema.additionalProperties as TSchema, v));
    }
    return false;
  });
}

/** Where `spec` breaks DownloaderSpecSchema (CEL rules aside); [] when it is valid. */
export function schemaErrors(spec: unknown): string[] {
  registerUnsafeKind();
  return [...Value.Errors(DownloaderSpecSchema, spec)].map(
    (e) =>
      `${e.path}: ${e.message}${(e.schema as { [Kind]?: string })[Kind] === 'Unsafe' ? ' (enum or map)' : ''}`,
  );
}

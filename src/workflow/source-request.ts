import type { SourceSpec } from '../api/downloader-spec.js';
import { DEFINITION_ERROR_REASONS, DefinitionError } from './definition-error.js';

/**
 * The request half of the download task: how `spec.source` becomes the Path, QueryParameters
 * and Headers of an `apigateway:invoke` call. `source.auth` is deliberately absent: the proxy's
 * integration adds the credential, so it never enters the state machine or its history.
 */

/**
 * Header names the `apigateway:invoke` integration refuses, compared case-insensitively. From
 * "Call API Gateway with Step Functions", Request format (docs.aws.amazon.com/step-functions/
 * latest/dg/connect-api-gateway.html).
 */
export const FORBIDDEN_HEADERS: readonly string[] = [
  'authorization',
  'connection',
  'content-md5',
  'expect',
  'host',
  'max-forwards',
  'proxy-authenticate',
  'server',
  'te',
  'transfer-encoding',
  'trailer',
  'upgrade',
  'via',
  'www-authenticate',
];

/** Header name prefixes the integration refuses (X-Amz covers X-Amzn), case-insensitively. */
export const FORBIDDEN_HEADER_PREFIXES: readonly string[] = ['x-forwarded', 'x-amz'];

/** Whether Step Functions would refuse to send a header of this name. */
export function isForbiddenHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    FORBIDDEN_HEADERS.includes(lower) ||
    FORBIDDEN_HEADER_PREFIXES.some((prefix) => lower.startsWith(prefix))
  );
}

/** The parts of `source.path` the invoke task sends separately. */
export interface SplitPath {
  /** The path alone, as given (no decoding), starting with "/". */
  path: string;
  /** The query string's parameters; repeated keys keep every value in order. Empty when none. */
  query: Record<string, string[]>;
}

/**
 * Parses a query string (without the leading "?") into a map of value lists, the shape of the
 * task's QueryParameters. Values are decoded as URLSearchParams does (so "+" is a space), because
 * Step Functions encodes them again when it builds the URL. Keys are sorted for a stable
 * definition; the values of a repeated key keep their order.
 */
export function parseQueryParameters(query: string): Record<string, string[]> {
  const lists = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(query)) {
    const values = lists.get(key);
    if (values) values.push(value);
    else lists.set(key, [value]);
  }
  const result: Record<string, string[]> = {};
  for (const key of [...lists.keys()].sort()) result[key] = lists.get(key) ?? [];
  return result;
}

/** Splits `source.path` into the path and its query parameters. */
export function splitPath(pathWithQuery: string): SplitPath {
  const mark = pathWithQuery.indexOf('?');
  const path = mark < 0 ? pathWithQuery : pathWithQuery.slice(0, mark);
  const query = mark < 0 ? '' : pathWithQuery.slice(mark + 1);
  if (!path.startsWith('/')) {
    throw new DefinitionError(
      DEFINITION_ERROR_REASONS.invalidSourcePath,
      `spec.source.path must start with "/", got ${JSON.stringify(pathWithQuery)}`,
    );
  }
  return { path, query: parseQueryParameters(query) };
}

/**
 * The task's Headers: each static header as a one-value list, sorted by name. Throws
 * DefinitionError for a header Step Functions refuses to send, naming it.
 */
export function headerLists(headers: SourceSpec['headers']): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const name of Object.keys(headers ?? {}).sort()) {
    if (isForbiddenHeader(name)) {
      throw new DefinitionError(
        DEFINITION_ERROR_REASONS.headerNotAllowed,
        `spec.source.headers.${name}: Step Functions does not send this header` +
          (name.toLowerCase() === 'authorization' ? '; use spec.source.auth' : ''),
      );
    }
    result[name] = [headers?.[name] ?? ''];
  }
  return result;
}

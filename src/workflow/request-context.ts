import { REQUEST_CONTEXT_FIELDS } from '../api/downloader-spec.js';
import { DEFINITION_ERROR_REASONS, DefinitionError } from './definition-error.js';

/**
 * Where the paths users write (item paths, itemsPath, nextPath, pageCountPath) point once the
 * download result is no longer the whole state. With pagination, fan-out or itemsPath, the
 * generated states keep the download result under `$.response` beside the request that made it
 * (`$.page`, `$.value`), and each list element under `$.element`; users keep writing paths into
 * the download result (or element) and read the request as `$.request.<field>`. These
 * functions turn one into the other, so the state layout stays an implementation detail.
 */

/** A field of `$.request`: the page number, the fan-out value, the list index, the run's start. */
export type RequestField = (typeof REQUEST_CONTEXT_FIELDS)[number];

/** The context object path of the execution's start time, the same for every item of a run. */
export const EXECUTION_START_TIME_PATH = '$$.Execution.StartTime';

/** What `$` and `$.request.*` mean in one place of the generated state machine. */
export interface PathScope {
  /** The state path user paths are relative to: `$` (unchanged), `$.response` or `$.element`. */
  root: string;
  /**
   * `spec.select`, when its names are to be read through (the ResultSelector is not used with
   * pagination and fan-out: `$.players` becomes the selected path under the root).
   */
  select?: Record<string, string>;
  /** State paths of the request fields available here; `time` is always available. */
  request: Partial<Record<Exclude<RequestField, 'time'>, string>>;
}

/** The scope of the single-request state machine: paths are used as written. */
export const PLAIN_SCOPE: PathScope = { root: '$', request: {} };

const REQUEST_PATH = /^\$\.request\.([A-Za-z_]+)$/;
/** The first segment of a JSONPath, in dot or bracket notation, and the rest. */
const FIRST_SEGMENT = /^\$(?:\.([A-Za-z_][A-Za-z0-9_-]*)|\['([^']+)'\])(.*)$/;

/** Appends the part of `path` after its leading `$` to `root`. */
export function underRoot(root: string, path: string): string {
  return root + path.slice(1);
}

/**
 * The state path for a user path in `scope`. `$.request.<field>` gives the field's place (or
 * `$$.Execution.StartTime` for time); a path starting with a `select` name gives the selected
 * path; anything else is read under the root. `$['request']` is not the request: it reaches an
 * element field of that name. Throws DefinitionError (naming `field`) for a request field that
 * this Downloader does not have, such as `$.request.page` without pagination.
 */
export function resolvePath(path: string, scope: PathScope, field: string): string {
  const request = REQUEST_PATH.exec(path);
  if (request) {
    const name = request[1] as RequestField;
    if (name === 'time') return EXECUTION_START_TIME_PATH;
    const located = (scope.request as Record<string, string | undefined>)[name];
    if (located === undefined) {
      throw new DefinitionError(
        DEFINITION_ERROR_REASONS.invalidItemMapping,
        `${field}: ${path} is not available here; $.request.page needs source.pagination, ` +
          '$.request.value needs fanOut and $.request.index needs itemsPath',
      );
    }
    return located;
  }
  if (scope.select) {
    const segments = FIRST_SEGMENT.exec(path);
    const name = segments?.[1] ?? segments?.[2];
    const selected = name === undefined ? undefined : scope.select[name];
    if (selected !== undefined) return underRoot(scope.root, selected) + (segments?.[3] ?? '');
  }
  return underRoot(scope.root, path);
}

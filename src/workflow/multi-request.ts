import type { DownloaderSpec, PaginationSpec } from '../api/downloader-spec.js';
import type {
  ChoiceRule,
  FailState,
  JsonValue,
  MapState,
  PassState,
  PayloadTemplate,
  State,
  StateMachineDefinition,
  TaskState,
  Transition,
} from './asl.js';
import { DEFINITION_ERROR_REASONS, DefinitionError } from './definition-error.js';
// The transport's task (apigateway:invoke or the HTTP Task), apart from the shared parameters.
import { downloadResource, downloadRetry, transportParameters } from './tasks.js';
import { itemTemplate } from './item-mapping.js';
import { underRoot, type PathScope } from './request-context.js';
import {
  DOWNLOAD_TIMEOUT_SECONDS,
  PERSIST_RETRY,
  PERSIST_TIMEOUT_SECONDS,
  copyRetriers,
  downloadParameters,
  prefixedPathValue,
  type DefinitionInput,
} from './tasks.js';

/**
 * The state machine of a Downloader that makes several requests or writes several items per run
 * (`source.pagination`, `fanOut`, `itemsPath`), with no compute of its own: Pass, Choice and Map
 * states and intrinsic functions do what the article's "Prepare" Lambda would.
 *
 * Layout of the state inside one request's states: `value` (the fan-out path or query value),
 * `page` (the page number), `cursor` (the next link), `response` (the download result). The
 * pieces:
 *
 * - fan-out: a Pass state holds the paths or values, a Map runs one request's states per entry
 *   (`fanOut.concurrency` at once);
 * - PageNumber: download the first page, store it, read the page count (a header or a body path),
 *   cap it with maxPages in a Choice, list the remaining page numbers with `States.ArrayRange` and
 *   Map over them (`concurrency` at once): download, store;
 * - NextLink: download, store, and while the page names a next one and fewer than maxPages were
 *   read, download it (a Choice and a Pass that counts pages and keeps only the cursor);
 * - itemsPath: "store" is a Map over the list that writes one item per element;
 *   otherwise one putItem per download.
 *
 * Every write has `ResultPath: null`, and the last state of every Map iteration has
 * `OutputPath: null`, so a Map's result is an array of `{}`: the state stays far below the
 * 256 KiB payload limit whatever the number of pages and items. What one download returns is
 * still bounded by that limit.
 *
 * An inline Map records its iterations in the execution's history, about 7 events per item
 * written and 12 per page, and a STANDARD execution stops at 25,000 events: some 3,000 items
 * per run. EXPRESS executions have no such cap (but 5 minutes).
 * TODO(Distributed Map runs in the local cloud): run the page Map as a Distributed Map of
 * EXPRESS child executions, whose histories are their own, and grant the role
 * states:StartExecution on its own state machine.
 */

/** The states' names. Names are unique in the whole definition, Map iterations included. */
export const MULTI_REQUEST_STATES = {
  fanOutTargets: 'FanOutTargets',
  fanOut: 'FanOut',
  download: 'Download',
  persist: 'Persist',
  writeItems: 'WriteItems',
  putItem: 'PutItem',
  downloadFirstPage: 'DownloadFirstPage',
  persistFirstPage: 'PersistFirstPage',
  writeFirstPageItems: 'WriteFirstPageItems',
  putFirstPageItem: 'PutFirstPageItem',
  readPageCount: 'ReadPageCount',
  checkPageCountType: 'CheckPageCountType',
  parsePageCount: 'ParsePageCount',
  countPages: 'CountPages',
  pageCountUnreadable: 'PageCountUnreadable',
  listPages: 'ListPages',
  listCappedPages: 'ListCappedPages',
  downloadPages: 'DownloadPages',
  downloadPage: 'DownloadPage',
  persistPage: 'PersistPage',
  writePageItems: 'WritePageItems',
  putPageItem: 'PutPageItem',
  findNextPage: 'FindNextPage',
  nextPage: 'NextPage',
  downloadNextPage: 'DownloadNextPage',
  nextLinkUnsupported: 'NextLinkUnsupported',
  done: 'Done',
} as const;

/** Error names of the Fail states, for Catch and for `classifyExecutionError`. */
export const MULTI_REQUEST_ERRORS = {
  /** The page count of the first page is not a number. */
  pageCountUnreadable: 'Downloader.PageCountUnreadable',
  /** A next link (NextLink without cursorParameter) is not a path without query string. */
  nextLinkUnsupported: 'Downloader.NextLinkUnsupported',
} as const;

/** Defaults of the optional PageNumber fields, applied here rather than by the API server. */
export const PAGINATION_DEFAULTS = { pageParameter: 'page', firstPage: 1, concurrency: 5 } as const;

/**
 * Elements written at once per list. DynamoDB on-demand absorbs far more; the bound keeps one
 * page of 1000 elements from starting 1000 writes at once, and with page and fan-out
 * concurrency multiplying it, under the account's Step Functions and DynamoDB throttles.
 */
export const ITEM_WRITE_CONCURRENCY = 10;

/** Whether a spec needs these states rather than the single download and putItem. */
export function needsMultiRequestStates(spec: DownloaderSpec): boolean {
  return (
    spec.source.pagination !== undefined ||
    spec.fanOut !== undefined ||
    spec.itemsPath !== undefined
  );
}

const S = MULTI_REQUEST_STATES;

/** Where a flow of one request's states runs. */
interface Placement {
  /**
   * At the top of the state machine the input is whatever started the execution, so the first
   * download replaces it (ResultSelector) instead of adding to it; in a fan-out iteration it adds
   * the response beside `value`.
   */
  top: boolean;
}

/** A part of the state machine: its first state and its states. */
interface Fragment {
  startAt: string;
  states: Record<string, State>;
}

/** The states' names for writing one download: a putItem, or a Map of putItem per element. */
interface WriteNames {
  persist: string;
  writeItems: string;
  putItem: string;
}

function invalid(reason: keyof typeof DEFINITION_ERROR_REASONS, message: string) {
  return new DefinitionError(DEFINITION_ERROR_REASONS[reason], message);
}

/** `States.Array(States.Format('{}', path))`: a number or string as a one-value query list. */
function queryValueOf(path: string): string {
  return `States.Array(States.Format('{}', ${path}))`;
}

const end = (terminal: boolean, next: string | undefined): Transition =>
  terminal || next === undefined ? { End: true } : { Next: next };

class MultiRequestStates {
  private readonly spec: DownloaderSpec;
  private readonly partition: string;
  private readonly pagination: PaginationSpec | undefined;

  constructor(private readonly input: DefinitionInput) {
    this.spec = input.spec;
    this.partition = input.partition ?? 'aws';
    this.pagination = input.spec.source.pagination;
    this.check();
  }

  /** The whole definition. */
  definition(comment: string): StateMachineDefinition {
    const body = this.fanOut() ?? this.request({ top: true });
    return { Comment: comment, StartAt: body.startAt, States: body.states };
  }

  /** Rejects what admission rejects, for a spec that bypassed it. */
  private check(): void {
    const pagination = this.pagination;
    if (pagination?.type === 'PageNumber') {
      const { pageCountHeader, pageCountPath } = pagination;
      if ((pageCountHeader === undefined) === (pageCountPath === undefined)) {
        throw invalid(
          'invalidPagination',
          'spec.source.pagination: PageNumber needs exactly one of pageCountHeader and pageCountPath',
        );
      }
      if (pageCountHeader?.includes("'")) {
        throw invalid(
          'invalidPagination',
          'spec.source.pagination.pageCountHeader: a quote cannot be read in a JSONPath',
        );
      }
    }
    if (pagination?.type === 'NextLink' && pagination.nextPath === undefined) {
      throw invalid('invalidPagination', 'spec.source.pagination: NextLink needs nextPath');
    }
    const fanOut = this.spec.fanOut;
    if (fanOut && (fanOut.paths === undefined) === (fanOut.query === undefined)) {
      throw invalid('invalidFanOut', 'spec.fanOut: give exactly one of paths and query');
    }
    if (this.spec.itemsPath !== undefined && this.spec.select !== undefined) {
      throw invalid('invalidSelect', 'spec.select: select does not combine with itemsPath');
    }
  }

  // --- fan-out ---------------------------------------------------------------------------------

  private fanOut(): Fragment | undefined {
    const fanOut = this.spec.fanOut;
    if (!fanOut) return undefined;
    const targets = fanOut.paths ?? fanOut.query?.values ?? [];
    const inner = this.request({ top: false });

    const itemSelector: PayloadTemplate = { 'value.$': '$$.Map.Item.Value' };
    if (this.pagination) itemSelector.page = this.firstPage();

    const list: PassState = {
      Type: 'Pass',
      Comment: fanOut.paths ? 'The paths to download' : `The values of ${fanOut.query?.parameter}`,
      Result: { targets: [...targets] },
      Next: S.fanOut,
    };
    const map: MapState = {
      Type: 'Map',
      ItemsPath: '$.targets',
      ItemSelector: itemSelector,
      MaxConcurrency: fanOut.concurrency,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: inner.startAt,
        States: inner.states,
      },
      ResultPath: null,
      OutputPath: null,
      End: true,
    };
    return { startAt: S.fanOutTargets, states: { [S.fanOutTargets]: list, [S.fanOut]: map } };
  }

  // --- one request: single, PageNumber, NextLink -----------------------------------------------

  private request(placement: Placement): Fragment {
    switch (this.pagination?.type) {
      case 'PageNumber':
        return this.pageNumber(placement, this.pagination);
      case 'NextLink':
        return this.nextLink(placement, this.pagination);
      default:
        return this.single(placement);
    }
  }

  private single(placement: Placement): Fragment {
    const names = { persist: S.persist, writeItems: S.writeItems, putItem: S.putItem };
    const write = this.write(names, true);
    return {
      startAt: S.download,
      states: {
        [S.download]: this.download('first', placement, write.startAt),
        ...write.states,
      },
    };
  }

  private pageNumber(placement: Placement, pagination: PaginationSpec): Fragment {
    const first = this.firstPage();
    const { maxPages } = pagination;
    const onlyOne = maxPages === 1;
    const firstWrite = this.write(
      {
        persist: S.persistFirstPage,
        writeItems: S.writeFirstPageItems,
        putItem: S.putFirstPageItem,
      },
      onlyOne,
      S.readPageCount,
    );
    const states: Record<string, State> = {
      [S.downloadFirstPage]: this.download('first', placement, firstWrite.startAt),
      ...firstWrite.states,
    };
    if (onlyOne) return { startAt: S.downloadFirstPage, states };

    const keepValue: PayloadTemplate = this.spec.fanOut ? { 'value.$': '$.value' } : {};
    const countPath =
      pagination.pageCountHeader !== undefined
        ? `$.response.Headers['${pagination.pageCountHeader}'][0]`
        : underRoot('$.response', pagination.pageCountPath ?? '$');
    // A header is always a string; a body field may be a number or a numeric string.
    const afterRead =
      pagination.pageCountHeader !== undefined ? S.parsePageCount : S.checkPageCountType;
    const lastPage = first === 1 ? '$.pageCount' : `States.MathAdd($.pageCount, ${first - 1})`;
    const pageWrite = this.write(
      { persist: S.persistPage, writeItems: S.writePageItems, putItem: S.putPageItem },
      true,
    );
    const pageSelector: PayloadTemplate = { 'page.$': '$$.Map.Item.Value', ...keepValue };

    Object.assign(states, {
      [S.readPageCount]: {
        Type: 'Pass',
        Comment: 'Keep only the page count of the first page',
        Parameters: { 'pageCount.$': countPath, ...keepValue },
        Next: afterRead,
      } satisfies PassState,
      ...(afterRead === S.checkPageCountType
        ? {
            [S.checkPageCountType]: {
              Type: 'Choice',
              Choices: [{ Variable: '$.pageCount', IsString: true, Next: S.parsePageCount }],
              Default: S.countPages,
            },
          }
        : {}),
      [S.parsePageCount]: {
        Type: 'Pass',
        Parameters: { 'pageCount.$': 'States.StringToJson($.pageCount)', ...keepValue },
        Next: S.countPages,
      } satisfies PassState,
      [S.countPages]: {
        Type: 'Choice',
        Comment: `Cap the page count at maxPages (${maxPages})`,
        Choices: [
          {
            Not: { Variable: '$.pageCount', IsNumeric: true },
            Next: S.pageCountUnreadable,
          },
          { Variable: '$.pageCount', NumericGreaterThan: maxPages, Next: S.listCappedPages },
          { Variable: '$.pageCount', NumericGreaterThan: 1, Next: S.listPages },
        ],
        Default: S.done,
      },
      [S.pageCountUnreadable]: {
        Type: 'Fail',
        Error: MULTI_REQUEST_ERRORS.pageCountUnreadable,
        Cause:
          'The page count of the first page is not a number; check ' +
          'spec.source.pagination.pageCountHeader or pageCountPath',
      } satisfies FailState,
      [S.listCappedPages]: {
        Type: 'Pass',
        Parameters: {
          'pages.$': `States.ArrayRange(${first + 1}, ${first + maxPages - 1}, 1)`,
          ...keepValue,
        },
        Next: S.downloadPages,
      } satisfies PassState,
      [S.listPages]: {
        Type: 'Pass',
        Parameters: { 'pages.$': `States.ArrayRange(${first + 1}, ${lastPage}, 1)`, ...keepValue },
        Next: S.downloadPages,
      } satisfies PassState,
      [S.downloadPages]: {
        Type: 'Map',
        ItemsPath: '$.pages',
        ItemSelector: pageSelector,
        MaxConcurrency: pagination.concurrency ?? PAGINATION_DEFAULTS.concurrency,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: S.downloadPage,
          States: {
            [S.downloadPage]: this.download('page', { top: false }, pageWrite.startAt),
            ...pageWrite.states,
          },
        },
        ResultPath: null,
        OutputPath: null,
        End: true,
      } satisfies MapState,
      [S.done]: this.done(),
    });
    return { startAt: S.downloadFirstPage, states };
  }

  private nextLink(placement: Placement, pagination: PaginationSpec): Fragment {
    const next = underRoot('$.response', pagination.nextPath ?? '$');
    const write = this.write(
      { persist: S.persistPage, writeItems: S.writePageItems, putItem: S.putPageItem },
      false,
      S.findNextPage,
    );
    const choices: ChoiceRule[] = [
      { Variable: next, IsPresent: false, Next: S.done },
      { Variable: next, IsNull: true, Next: S.done },
      { Variable: next, StringEquals: '', Next: S.done },
      { Variable: '$.page', NumericGreaterThanEquals: pagination.maxPages, Next: S.done },
    ];
    const states: Record<string, State> = {
      [S.downloadFirstPage]: this.download('first', placement, write.startAt),
      [S.downloadNextPage]: this.download('next', { top: false }, write.startAt),
      ...write.states,
    };
    if (pagination.cursorParameter === undefined) {
      // The link is requested as the Path; a query string or another origin cannot be.
      choices.push(
        { Not: { Variable: next, StringMatches: '/*' }, Next: S.nextLinkUnsupported },
        { Variable: next, StringMatches: '*?*', Next: S.nextLinkUnsupported },
      );
      states[S.nextLinkUnsupported] = {
        Type: 'Fail',
        Error: MULTI_REQUEST_ERRORS.nextLinkUnsupported,
        Cause:
          'The next link is not a path without query string; point ' +
          'spec.source.pagination.nextPath at a cursor and set cursorParameter',
      };
    }
    states[S.findNextPage] = {
      Type: 'Choice',
      Comment: `Stop after the last page, or after maxPages (${pagination.maxPages})`,
      Choices: choices,
      Default: S.nextPage,
    };
    states[S.nextPage] = {
      Type: 'Pass',
      Comment: 'Count the page and keep only the link to the next one',
      Parameters: {
        'page.$': 'States.MathAdd($.page, 1)',
        'cursor.$': next,
        ...(this.spec.fanOut ? { 'value.$': '$.value' } : {}),
      },
      Next: S.downloadNextPage,
    };
    states[S.done] = this.done();
    return { startAt: S.downloadFirstPage, states };
  }

  private done(): PassState {
    return { Type: 'Pass', Comment: 'Every page is stored', Result: {}, End: true };
  }

  // --- downloading -----------------------------------------------------------------------------

  private firstPage(): number {
    const pagination = this.pagination;
    if (pagination?.type !== 'PageNumber') return 1;
    return pagination.firstPage ?? PAGINATION_DEFAULTS.firstPage;
  }

  /**
   * An invoke task. `first` is a request's first download (page firstPage, no cursor), `page` a
   * later page by number (`$.page`), `next` the page a cursor or link names (`$.cursor`).
   */
  private download(kind: 'first' | 'page' | 'next', placement: Placement, next: string): TaskState {
    const parameters = downloadParameters(this.input);
    const query: Record<string, JsonValue> = {
      ...((parameters.QueryParameters as Record<string, string[]> | undefined) ?? {}),
    };
    const { fanOut } = this.spec;
    const pagination = this.pagination;

    if (fanOut?.paths) {
      delete parameters.Path;
      parameters['Path.$'] = prefixedPathValue(this.input.pathPrefix, '$.value');
    }
    if (fanOut?.query) {
      delete query[fanOut.query.parameter];
      query[`${fanOut.query.parameter}.$`] = 'States.Array($.value)';
    }
    if (pagination?.type === 'PageNumber') {
      const name = pagination.pageParameter ?? PAGINATION_DEFAULTS.pageParameter;
      delete query[name];
      if (kind === 'first') query[name] = [String(this.firstPage())];
      else query[`${name}.$`] = queryValueOf('$.page');
    }
    if (pagination?.type === 'NextLink' && kind === 'next') {
      if (pagination.cursorParameter !== undefined) {
        delete query[pagination.cursorParameter];
        query[`${pagination.cursorParameter}.$`] = queryValueOf('$.cursor');
      } else {
        delete parameters.Path;
        parameters['Path.$'] = prefixedPathValue(this.input.pathPrefix, '$.cursor');
      }
    }
    delete parameters.QueryParameters;
    if (Object.keys(query).length > 0) parameters.QueryParameters = query;

    // At the top, the execution input is replaced by {response, page}; in a Map iteration the
    // response is added beside the request's value and page.
    const placementFields: Pick<TaskState, 'ResultSelector' | 'ResultPath'> = placement.top
      ? {
          ResultSelector: {
            'response.$': '$',
            ...(pagination ? { page: this.firstPage() } : {}),
          },
        }
      : { ResultPath: '$.response' };
    return {
      Type: 'Task',
      Resource: downloadResource(this.input),
      Parameters: transportParameters(this.input, parameters),
      ...placementFields,
      TimeoutSeconds: DOWNLOAD_TIMEOUT_SECONDS,
      Retry: downloadRetry(this.input),
      Next: next,
    };
  }

  // --- writing ---------------------------------------------------------------------------------

  /** Request fields present in the state of one download. */
  private requestFields(): PathScope['request'] {
    return {
      ...(this.pagination ? { page: '$.page' } : {}),
      ...(this.spec.fanOut ? { value: '$.value' } : {}),
    };
  }

  /**
   * The states that store one download at `$.response`: a putItem, or with itemsPath a Map that
   * puts one item per element. `terminal` ends the iteration (OutputPath null); otherwise the
   * state moves on to `next` with its input unchanged.
   */
  private write(names: WriteNames, terminal: boolean, next?: string): Fragment {
    const { itemsPath } = this.spec;
    if (itemsPath === undefined) {
      const scope: PathScope = {
        root: '$.response',
        ...(this.spec.select ? { select: this.spec.select } : {}),
        request: this.requestFields(),
      };
      return {
        startAt: names.persist,
        states: { [names.persist]: this.putItem(scope, terminal, next) },
      };
    }

    const request = this.requestFields();
    const selector: PayloadTemplate = {
      'element.$': '$$.Map.Item.Value',
      'index.$': '$$.Map.Item.Index',
    };
    for (const [field, path] of Object.entries(request)) selector[`${field}.$`] = path;
    const elementScope: PathScope = {
      root: '$.element',
      request: { ...request, index: '$.index' },
    };
    const map: MapState = {
      Type: 'Map',
      ItemsPath: underRoot('$.response', itemsPath),
      ItemSelector: selector,
      MaxConcurrency: ITEM_WRITE_CONCURRENCY,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: names.putItem,
        States: { [names.putItem]: this.putItem(elementScope, true) },
      },
      ResultPath: null,
      ...(terminal ? { OutputPath: null } : {}),
      ...end(terminal, next),
    };
    return { startAt: names.writeItems, states: { [names.writeItems]: map } };
  }

  private putItem(scope: PathScope, terminal: boolean, next?: string): TaskState {
    return {
      Type: 'Task',
      Resource: `arn:${this.partition}:states:::dynamodb:putItem`,
      Parameters: { TableName: this.input.tableName, Item: itemTemplate(this.spec.item, scope) },
      ResultPath: null,
      ...(terminal ? { OutputPath: null } : {}),
      TimeoutSeconds: PERSIST_TIMEOUT_SECONDS,
      Retry: copyRetriers(PERSIST_RETRY),
      ...end(terminal, next),
    };
  }
}

/**
 * The definition for a spec with pagination, fan-out or itemsPath (see the module comment).
 * Throws DefinitionError for what admission should have refused, and for item paths reading a
 * request field the spec does not have.
 */
export function buildMultiRequestDefinition(
  input: DefinitionInput,
  comment: string,
): StateMachineDefinition {
  return new MultiRequestStates(input).definition(comment);
}

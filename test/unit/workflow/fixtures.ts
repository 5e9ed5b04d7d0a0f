import type { DownloaderSpec } from '../../../src/api/downloader-spec.js';
import type { DefinitionInput } from '../../../src/workflow/definition.js';

/** Fields of a spec a test may set; the rest get the defaults the API server applies. */
export interface SpecParts {
  source?: Partial<DownloaderSpec['source']>;
  table?: Partial<DownloaderSpec['table']>;
  select?: DownloaderSpec['select'];
  item?: DownloaderSpec['item'];
  schedule?: Partial<DownloaderSpec['schedule']>;
  workflow?: DownloaderSpec['workflow'];
}

/** The EVE example of the seed article, as the API server returns it (defaults applied). */
export function eveSpec(parts: SpecParts = {}): DownloaderSpec {
  return {
    source: { url: 'https://esi.evetech.net', path: '/v2/status', method: 'GET', ...parts.source },
    table: {
      name: 'PlayerCountTable',
      partitionKey: { name: 'pk', type: 'S' },
      deletionPolicy: 'Retain',
      ...parts.table,
    },
    ...(parts.select ? { select: parts.select } : {}),
    item: parts.item ?? {
      pk: { S: '$.Headers.Date[0]' },
      count: { N: '$.ResponseBody.players' },
    },
    schedule: { expression: 'rate(1 minute)', timezone: 'UTC', suspend: false, ...parts.schedule },
    workflow: parts.workflow ?? { type: 'STANDARD' },
  };
}

/** The article's API Gateway endpoint placeholder. */
export const ARTICLE_ENDPOINT = 'xxxxxxxxxx.execute-api.us-east-1.amazonaws.com';

/** A DefinitionInput for a spec, deployed as in the article (stage prod). */
export function inputFor(spec: DownloaderSpec, overrides: Partial<DefinitionInput> = {}) {
  const input: DefinitionInput = {
    namespace: 'eve',
    name: 'eve-player-count',
    spec,
    apiEndpoint: ARTICLE_ENDPOINT,
    stage: 'prod',
    tableName: spec.table.name,
    ...overrides,
  };
  return input;
}

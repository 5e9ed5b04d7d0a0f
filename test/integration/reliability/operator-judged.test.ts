import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { Downloader } from '../../../src/api/downloader.js';
import { AwsFaultProxy } from '../../faults/aws-fault-proxy.js';
import { createTestNamespace } from '../kubectl.js';
import { eventually, type OperatorProcess } from '../operator-process.js';
import { eveExample } from '../operator/downloaders.js';
import { AwsCensus } from './census.js';
import {
  applyAll,
  conditionOf,
  events,
  isReady,
  kubectlOkAsync,
  listDownloaders,
  recordFigures,
  startOperatorFor,
  summarizeLog,
  tableName,
} from './harness.js';

/**
 * Downloaders that admission accepts but only the operator can judge wrong: a Secret or key that
 * is missing or unusable, a table that is not theirs to use, AWS refusing the operator, a host
 * off the allow-list, a header Step Functions will not send, and runs that fail at the source or
 * on the data. Each must end in a condition reason and a Warning Event that says what to fix,
 * while the operator stays up and a good Downloader applied with them converges and runs.
 */

interface Case {
  name: string;
  /** Condition that carries the reason: Ready for the pipeline, LastRunSucceeded for a run. */
  condition: 'Ready' | 'LastRunSucceeded';
  reason: string;
  /** What the Warning Event's message must say (the remedy, or the fact to act on). */
  says: RegExp;
  manifest: () => Downloader;
}

const DENIED_TABLE = tableName('Denied');
const MISMATCH_TABLE = tableName('Mismatch');
const FOREIGN_TABLE = tableName('Foreign');
const GOOD_TABLE = tableName('Good');

function downloader(name: string, change: (d: Downloader) => void = () => undefined): Downloader {
  const d = eveExample(name, tableName(`J-${name}`));
  change(d);
  return d;
}

function withAuth(secret: string, path = '/v2/secure/status') {
  return (d: Downloader) => {
    d.spec.source.path = path;
    d.spec.source.auth = {
      secretRef: { name: secret, key: 'token' },
      header: 'Authorization',
      prefix: 'Bearer ',
    };
  };
}

const CASES: Case[] = [
  {
    name: 'no-secret',
    condition: 'Ready',
    reason: 'SecretNotFound',
    says: /does not exist; create it/,
    manifest: () => downloader('no-secret', withAuth('absent')),
  },
  {
    name: 'no-key',
    condition: 'Ready',
    reason: 'SecretKeyNotFound',
    says: /has no key "token".*it has: other/,
    manifest: () => downloader('no-key', withAuth('tok-other-key')),
  },
  {
    name: 'quote',
    condition: 'Ready',
    reason: 'SecretValueInvalid',
    says: /single quote or a line break/,
    manifest: () => downloader('quote', withAuth('tok-quote')),
  },
  {
    name: 'newline',
    condition: 'Ready',
    reason: 'SecretValueInvalid',
    says: /single quote or a line break/,
    manifest: () => downloader('newline', withAuth('tok-newline')),
  },
  {
    name: 'key-mismatch',
    condition: 'Ready',
    reason: 'TableKeyMismatch',
    says: /restore them in the spec or use another table name/,
    manifest: () => downloader('key-mismatch', (d) => (d.spec.table.name = MISMATCH_TABLE)),
  },
  {
    name: 'owned-other',
    condition: 'Ready',
    reason: 'TableOwnedByOther',
    says: /belongs to Downloader .*\/good; use another table name/,
    manifest: () => downloader('owned-other', (d) => (d.spec.table.name = GOOD_TABLE)),
  },
  {
    name: 'not-owned',
    condition: 'Ready',
    reason: 'TableNotOwned',
    says: /set spec.table.deletionPolicy to Retain/,
    manifest: () =>
      downloader('not-owned', (d) => {
        d.spec.table.name = FOREIGN_TABLE;
        d.spec.table.deletionPolicy = 'Delete';
      }),
  },
  {
    name: 'denied',
    condition: 'Ready',
    reason: 'AccessDenied',
    says: /Grant the operator's role/,
    manifest: () => downloader('denied', (d) => (d.spec.table.name = DENIED_TABLE)),
  },
  {
    name: 'host',
    condition: 'Ready',
    reason: 'SourceHostNotAllowed',
    says: /not on the operator's allow-list/,
    manifest: () =>
      downloader('host', (d) => (d.spec.source.url = 'https://forbidden.example.com')),
  },
  {
    name: 'host-header',
    condition: 'Ready',
    reason: 'HeaderNotAllowed',
    says: /spec.source.headers.Host: Step Functions does not send this header/,
    manifest: () => downloader('host-header', (d) => (d.spec.source.headers = { Host: 'x' })),
  },
  {
    name: 'item-path',
    condition: 'LastRunSucceeded',
    reason: 'ItemPathMismatch',
    says: /JSONPath '\$\.ResponseBody\.nope' could not be found/,
    manifest: () =>
      downloader('item-path', (d) => (d.spec.item.count = { N: '$.ResponseBody.nope' })),
  },
  {
    name: 'too-large',
    condition: 'LastRunSucceeded',
    reason: 'ResultTooLarge',
    says: /States\.DataLimitExceeded: .*size exceeding/,
    manifest: () =>
      downloader('too-large', (d) => (d.spec.source.path = '/v2/status?bodyBytes=300000')),
  },
  {
    name: 'not-found',
    condition: 'LastRunSucceeded',
    reason: 'SourceNotFound',
    says: /ApiGateway\.404: \{"error":"Not found"\}/,
    manifest: () => downloader('not-found', (d) => (d.spec.source.path = '/v2/nope')),
  },
  {
    name: 'server-error',
    condition: 'LastRunSucceeded',
    reason: 'SourceServerError',
    says: /ApiGateway\.500: /,
    manifest: () =>
      downloader('server-error', (d) => (d.spec.source.path = '/v2/status?failStatus=500')),
  },
  {
    name: 'wrong-token',
    condition: 'LastRunSucceeded',
    reason: 'SourceUnauthorized',
    says: /ApiGateway\.401: \{"error":"invalid token"\}/,
    manifest: () => downloader('wrong-token', withAuth('tok-wrong')),
  },
  {
    name: 'sort-missing',
    condition: 'LastRunSucceeded',
    reason: 'ItemPathMismatch',
    says: /JSONPath '\$\.ResponseBody\.missing' could not be found/,
    manifest: () =>
      downloader('sort-missing', (d) => {
        d.spec.table.sortKey = { name: 'sk', type: 'S' };
        d.spec.item.sk = { S: '$.ResponseBody.missing' };
      }),
  },
  {
    // A BOOL path on a string would be the same kind of mistake, but the local AWS (moto)
    // stores {"BOOL": "text"} without complaint where DynamoDB refuses it: a number is checked.
    name: 'number-text',
    condition: 'LastRunSucceeded',
    reason: 'ItemInvalid',
    says: /ValidationException.*numeric/,
    manifest: () =>
      downloader('number-text', (d) => (d.spec.item.count = { N: '$.ResponseBody.start_time' })),
  },
];

function secret(name: string, data: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: data };
}

describe(`the operator given ${CASES.length} Downloaders only it can judge wrong`, () => {
  const census = new AwsCensus();
  let namespace: string;
  let proxy: AwsFaultProxy;
  let operator: OperatorProcess;
  const figures: Record<string, unknown> = { cases: CASES.length };

  beforeAll(async () => {
    namespace = createTestNamespace('reljudge');
    proxy = await AwsFaultProxy.start({ target: process.env.AWS_ENDPOINT_URL ?? '', seed: 1 });
    proxy.addRule({
      service: 'dynamodb',
      bodyIncludes: `"${DENIED_TABLE}"`,
      fault: 'accessDenied',
    });
    await census.dynamodb.send(
      new CreateTableCommand({
        TableName: MISMATCH_TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'N' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    await census.dynamodb.send(
      new CreateTableCommand({
        TableName: FOREIGN_TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    operator = startOperatorFor(namespace, {
      awsEndpoint: proxy.url,
      args: ['--allowed-source-hosts', '127.0.0.1', '--execution-poll-interval', '2'],
    });
  });

  afterAll(async () => {
    await operator?.stop();
    await proxy?.close();
    census.destroy();
    recordFigures('operator-judged', figures);
  });

  it('gives each its reason and a Warning Event saying what to fix, and runs the good one', async () => {
    const token = process.env.UPSTREAM_TOKEN ?? 'local-test-token';
    await applyAll(namespace, [
      secret('tok-other-key', { other: token }),
      secret('tok-quote', { token: "abc'def" }),
      secret('tok-newline', { token: 'abc\ndef' }),
      secret('tok-wrong', { token: 'wrong-token' }),
      downloader('good', (d) => (d.spec.table.name = GOOD_TABLE)),
    ]);
    await eventually(
      'the good Downloader Ready',
      async () => (isReady((await listDownloaders(namespace)).get('good')) ? true : undefined),
      90_000,
    );
    await applyAll(
      namespace,
      CASES.map((c) => c.manifest()),
    );

    // Runs start once a pipeline is Ready; the good one runs alongside the bad ones.
    const runs = [
      'good',
      ...CASES.filter((c) => c.condition === 'LastRunSucceeded').map((c) => c.name),
    ];
    const started = new Set<string>();
    const seen = await eventually(
      'every case to show its reason',
      async () => {
        const all = await listDownloaders(namespace);
        for (const name of runs) {
          if (!started.has(name) && isReady(all.get(name))) {
            started.add(name);
            await kubectlOkAsync([
              'annotate',
              'downloader',
              name,
              '-n',
              namespace,
              'downloader.dev/run-now=1',
            ]);
          }
        }
        const pending = CASES.filter(
          (c) => conditionOf(all.get(c.name), c.condition)?.reason !== c.reason,
        );
        const goodRan = conditionOf(all.get('good'), 'LastRunSucceeded')?.status === 'True';
        return pending.length === 0 && goodRan ? all : undefined;
      },
      150_000,
      1_000,
    );

    const warnings = (await events(namespace)).filter((e) => e.type === 'Warning');
    const outcome = CASES.map((c) => {
      const event = warnings.find((e) => e.name === c.name && e.reason === c.reason);
      return {
        name: c.name,
        reason: conditionOf(seen.get(c.name), c.condition)?.reason,
        event: event ? (c.says.test(event.message) ? 'says what to fix' : event.message) : 'none',
      };
    });
    figures.outcome = outcome;
    expect(outcome).toEqual(
      CASES.map((c) => ({ name: c.name, reason: c.reason, event: 'says what to fix' })),
    );
    expect(seen.get('good')?.status?.lastExecution?.status).toBe('SUCCEEDED');
  });

  it('stayed up without an uncaught error, and the bad ones never blocked the good one', async () => {
    const log = summarizeLog(operator.lines());
    figures.errorLines = log.errors;
    expect(operator.child.exitCode).toBeNull();
    expect(log.errors).toEqual([]);
    expect(isReady((await listDownloaders(namespace)).get('good'))).toBe(true);
  });
});

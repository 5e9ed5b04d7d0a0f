import { GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { Downloader } from '../../../src/api/downloader.js';
import { runNowExecutionName } from '../../../src/controller/run-now.js';
import { createTestNamespace, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import { AwsInventory } from './aws-inventory.js';
import {
  annotateRunNow,
  apply,
  eveExample,
  getDownloader,
  readyDownloader,
} from './downloaders.js';

const aws = new AwsInventory();
const upstream = () => process.env.UPSTREAM_URL ?? '';
/** The same stand-in source under another host name: another origin, so another REST API. */
const otherHost = () => upstream().replace('127.0.0.1', 'localhost');

/** A Downloader of the EVE example reading `url` + `path`, into its own table. */
function downloader(name: string, url: string, path = '/v2/status'): Downloader {
  const d = eveExample(name, `Shared-${name}-${Date.now()}`);
  d.spec.source.url = url;
  d.spec.source.path = path;
  return d;
}

/** Every Downloader of `names` Ready for its generation, in that order. */
async function allReady(namespace: string, names: string[]): Promise<Downloader[]> {
  return eventually(
    `${names.join(', ')} Ready`,
    () => {
      const ready = names.map((name) => readyDownloader(namespace, name));
      return ready.every((d) => d !== undefined) ? (ready as Downloader[]) : undefined;
    },
    120_000,
  );
}

/** Sets run-now to `value` and waits for that execution to finish; returns its status. */
async function runNow(namespace: string, name: string, value: string): Promise<string> {
  annotateRunNow(namespace, name, value);
  // Read the execution itself: a scheduled run may come after it on the status.
  return eventually(
    `the run-now ${value} of ${name} finished`,
    async () => {
      const d = getDownloader(namespace, name);
      const machine = d?.status?.resources?.stateMachineArn;
      if (!machine || d?.status?.lastRunNow !== value) return undefined;
      const executionArn = `${machine.replace(':stateMachine:', ':execution:')}:${runNowExecutionName(
        d.metadata.uid ?? '',
        value,
      )}`;
      const execution = await aws.sfn.send(new DescribeExecutionCommand({ executionArn }));
      return execution.status === 'RUNNING' ? undefined : execution.status;
    },
    90_000,
  );
}

/** Deletes the Downloaders and waits (longer than kubectl would) until they are gone. */
async function deleteDownloaders(namespace: string, names: string[]): Promise<void> {
  kubectlOk([
    'delete',
    '-n',
    namespace,
    ...names.map((name) => `downloader/${name}`),
    '--wait=false',
  ]);
  await eventually(
    `${names.join(', ')} deleted`,
    () => (names.some((name) => getDownloader(namespace, name)) ? undefined : true),
    180_000,
  );
}

describe('Downloaders of one origin and auth sharing one REST API', () => {
  let namespace: string;
  let operator: OperatorProcess;
  let firstApi: string;

  beforeAll(() => {
    namespace = createTestNamespace('shared');
    operator = startOperator(['--namespaces', namespace, '--execution-poll-interval', '2']);
  });

  afterAll(async () => {
    await operator?.stop();
  });

  it('makes exactly one REST API for three Downloaders of one origin, all Ready and running', async () => {
    apply(namespace, downloader('a', upstream()));
    apply(namespace, downloader('b', upstream()));
    // The URL's path moves into the invoked path: /v2 + /status.
    apply(namespace, downloader('c', `${upstream()}/v2`, '/status'));
    const ready = await allReady(namespace, ['a', 'b', 'c']);

    const apis = await aws.restApisIn(namespace);
    expect(apis).toHaveLength(1);
    firstApi = apis[0]?.id ?? '';
    expect(ready.map((d) => d.status?.resources?.restApiId)).toEqual([
      firstApi,
      firstApi,
      firstApi,
    ]);
    expect((await aws.proxyIntegration(firstApi))?.uri).toBe(`${upstream()}/{proxy}`);

    for (const name of ['a', 'b', 'c']) {
      expect(await runNow(namespace, name, 'first')).toBe('SUCCEEDED');
    }
    for (const d of ready) expect((await aws.items(d.spec.table.name)).length).toBeGreaterThan(0);
  });

  it('keeps the invoke permission of a Downloader with a URL path to its own path', async () => {
    const c = getDownloader(namespace, 'c');
    const role = c?.status?.resources?.stateMachineRoleArn?.split('/').pop();
    const policy = await aws.iam.send(
      new GetRolePolicyCommand({ RoleName: role, PolicyName: 'downloader-operator' }),
    );
    const document = JSON.parse(decodeURIComponent(policy.PolicyDocument ?? '{}'));
    expect(document.Statement[0].Resource).toMatch(
      new RegExp(`:${firstApi}/downloader/GET/v2/status$`),
    );
  });

  it('resolves fan-out paths under the URL path through the shared REST API', async () => {
    const f = downloader('f', `${upstream()}/v2`, '/status');
    f.spec.fanOut = { paths: ['/status', '/status/'], concurrency: 2 };
    f.spec.item = { pk: { S: '$.request.value' }, count: { N: '$.ResponseBody.players' } };
    apply(namespace, f);
    const [ready] = await allReady(namespace, ['f']);
    expect(ready?.status?.resources?.restApiId).toBe(firstApi);
    expect(await runNow(namespace, 'f', 'first')).toBe('SUCCEEDED');
    const items = await aws.items(f.spec.table.name);
    expect(items.map((item) => item.pk?.S).sort()).toEqual(['/status', '/status/']);
    await deleteDownloaders(namespace, ['f']);
    expect((await aws.restApisIn(namespace)).map((api) => api.id)).toEqual([firstApi]);
  });

  it('makes a second REST API for a Downloader of another host', async () => {
    apply(namespace, downloader('d', otherHost()));
    const [d] = await allReady(namespace, ['d']);
    const apis = await aws.restApisIn(namespace);
    expect(apis).toHaveLength(2);
    expect(d?.status?.resources?.restApiId).not.toBe(firstApi);
    expect(await runNow(namespace, 'd', 'first')).toBe('SUCCEEDED');
  });

  it('keeps the REST API when two of its three users are deleted, and the third still runs', async () => {
    await deleteDownloaders(namespace, ['a', 'b']);
    expect((await aws.restApisIn(namespace)).map((api) => api.id)).toContain(firstApi);
    expect(await runNow(namespace, 'c', 'second')).toBe('SUCCEEDED');
  });

  it('moves a Downloader to another origin, and deletes the API it was the last user of', async () => {
    const c = getDownloader(namespace, 'c')!;
    const moved = downloader('c', `${otherHost()}/v2`, '/status');
    moved.spec.table.name = c.spec.table.name;
    apply(namespace, moved);
    const [ready] = await eventually('c moved', () => {
      const d = readyDownloader(namespace, 'c');
      return d && d.metadata.generation !== c.metadata.generation ? [d] : undefined;
    });
    const secondApi = getDownloader(namespace, 'd')?.status?.resources?.restApiId;
    expect(ready?.status?.resources?.restApiId).toBe(secondApi);
    await eventually('the first API deleted', async () =>
      (await aws.restApisIn(namespace)).some((api) => api.id === firstApi) ? undefined : true,
    );
    expect((await aws.restApisIn(namespace)).map((api) => api.id)).toEqual([secondApi]);
    expect(await runNow(namespace, 'c', 'third')).toBe('SUCCEEDED');
  });

  it('deletes the REST API with its last user', async () => {
    await deleteDownloaders(namespace, ['c']);
    expect(await aws.restApisIn(namespace)).toHaveLength(1);
    await deleteDownloaders(namespace, ['d']);
    expect(await aws.restApisIn(namespace)).toEqual([]);
  });
});

describe('shared REST APIs across operator crashes', () => {
  it('makes one REST API when the operator is killed after creating it, before writing status', async () => {
    const namespace = createTestNamespace('shared-crash');
    const first = startOperator(['--namespaces', namespace]);
    const names = ['dx', 'dy', 'dz'];
    for (const name of names) apply(namespace, downloader(name, upstream()));
    await eventually(
      'the shared API created',
      () =>
        first.lines().some((l) => l.includes('created AWS resource') && l.includes('"Proxy"'))
          ? true
          : undefined,
      60_000,
      10,
    );
    await first.kill();

    const second = startOperator(['--namespaces', namespace]);
    try {
      const ready = await allReady(namespace, names);
      const apis = await aws.restApisIn(namespace);
      expect(apis).toHaveLength(1);
      expect(new Set(ready.map((d) => d.status?.resources?.restApiId))).toEqual(
        new Set([apis[0]?.id]),
      );

      // Killed while deleting the last user: after the state machine is gone, before the API.
      await deleteDownloaders(namespace, ['dx', 'dy']);
      expect(await aws.restApisIn(namespace)).toHaveLength(1);
      kubectlOk(['delete', '-n', namespace, 'downloader/dz', '--wait=false']);
      await eventually(
        'the last user half-deleted',
        () =>
          second
            .lines()
            .some((l) => l.includes('deleted AWS resource') && l.includes('"StateMachine"'))
            ? true
            : undefined,
        60_000,
        50,
      );
      await second.kill();
    } finally {
      await second.stop();
    }

    const third = startOperator(['--namespaces', namespace]);
    try {
      await eventually(
        'dz gone',
        () => (getDownloader(namespace, 'dz') ? undefined : true),
        90_000,
      );
      expect(await aws.restApisIn(namespace)).toEqual([]);
    } finally {
      await third.stop();
    }
  });

  it('repairs a crash between moving a Downloader and deleting its old REST API', async () => {
    const namespace = createTestNamespace('shared-orphan');
    const first = startOperator(['--namespaces', namespace]);
    try {
      apply(namespace, downloader('m', upstream()));
      await allReady(namespace, ['m']);
    } finally {
      await first.kill();
    }
    const old = (await aws.restApisIn(namespace))[0]?.id;
    // The spec changes while no operator runs; the next one moves it, and the old API goes.
    const moved = downloader('m', otherHost());
    moved.spec.table.name = getDownloader(namespace, 'm')?.spec.table.name ?? '';
    apply(namespace, moved);
    const second = startOperator(['--namespaces', namespace]);
    try {
      await eventually('m moved', () => {
        const d = readyDownloader(namespace, 'm');
        return d && d.status?.resources?.restApiId !== old ? d : undefined;
      });
      await eventually('only the new API left', async () => {
        const apis = await aws.restApisIn(namespace);
        return apis.length === 1 && apis[0]?.id !== old ? true : undefined;
      });
      await deleteDownloaders(namespace, ['m']);
      expect(await aws.restApisIn(namespace)).toEqual([]);
    } finally {
      await second.stop();
    }
  });
});

describe('moving from one REST API per Downloader to shared ones', () => {
  it('replaces the per-Downloader APIs by one shared API, and back with --share-proxies false', async () => {
    const namespace = createTestNamespace('shared-migrate');
    const names = ['p', 'q'];
    const own = startOperator(['--namespaces', namespace, '--share-proxies', 'false']);
    try {
      for (const name of names) apply(namespace, downloader(name, upstream()));
      await allReady(namespace, names);
      const apis = await aws.restApisIn(namespace);
      expect(apis).toHaveLength(2);
      expect(apis.every((api) => api.tags?.['downloader.dev/uid'])).toBe(true);
    } finally {
      await own.stop();
    }

    const shared = startOperator(['--namespaces', namespace, '--execution-poll-interval', '2']);
    try {
      await eventually(
        'one shared API left',
        async () => {
          const apis = await aws.restApisIn(namespace);
          return apis.length === 1 && apis[0]?.tags?.['downloader.dev/share-key']
            ? true
            : undefined;
        },
        120_000,
      );
      const ready = await allReady(namespace, names);
      const id = (await aws.restApisIn(namespace))[0]?.id;
      expect(ready.map((d) => d.status?.resources?.restApiId)).toEqual([id, id]);
      for (const name of names) expect(await runNow(namespace, name, 'shared')).toBe('SUCCEEDED');
    } finally {
      await shared.stop();
    }

    const back = startOperator(['--namespaces', namespace, '--share-proxies', 'false']);
    try {
      await eventually(
        'one API per Downloader again',
        async () => {
          const apis = await aws.restApisIn(namespace);
          return apis.length === 2 && apis.every((api) => api.tags?.['downloader.dev/uid'])
            ? true
            : undefined;
        },
        120_000,
      );
      await deleteDownloaders(namespace, names);
      expect(await aws.restApisIn(namespace)).toEqual([]);
    } finally {
      await back.stop();
    }
  });
});

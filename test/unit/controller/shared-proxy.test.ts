import pino from 'pino';
import type { Downloader } from '../../../src/api/downloader.js';
import type { DownloaderSpec } from '../../../src/api/downloader-spec.js';
import {
  integrationHash,
  type ManagedRestApi,
  type ProxyDesired,
  type ProxyObserved,
} from '../../../src/aws/proxy.js';
import {
  KeyedMutex,
  ProxyProvisioner,
  findOrphans,
  shareKeyHash,
  shareKeyOf,
  sharedProxyName,
  splitSourceUrl,
  usersOf,
} from '../../../src/controller/shared-proxy.js';
import type { EventRecorder } from '../../../src/kube/events.js';
import { buildDefinition } from '../../../src/workflow/definition.js';
import { invokedPaths, stateMachinePolicy } from '../../../src/workflow/policies.js';
import { downloadParameters } from '../../../src/workflow/tasks.js';
import { eveSpec, inputFor } from '../workflow/fixtures.js';

const log = pino({ level: 'silent' });
const events: EventRecorder = { record: () => undefined } as unknown as EventRecorder;

let uids = 0;

/** A Downloader of `namespace` reading `url`, with optional auth and status. */
function dl(
  name: string,
  url: string,
  options: {
    namespace?: string;
    auth?: DownloaderSpec['source']['auth'];
    headers?: Record<string, string>;
    restApiId?: string;
    deleting?: boolean;
    machineReady?: boolean;
    uid?: string;
  } = {},
): Downloader {
  const spec = eveSpec({
    source: {
      url,
      ...(options.auth ? { auth: options.auth } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
    },
  });
  return {
    apiVersion: 'downloader.dev/v1alpha1',
    kind: 'Downloader',
    metadata: {
      name,
      namespace: options.namespace ?? 'team',
      uid: options.uid ?? `uid-${++uids}`,
      ...(options.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    spec,
    status: {
      ...(options.restApiId ? { resources: { restApiId: options.restApiId } } : {}),
      ...(options.machineReady
        ? {
            conditions: [
              {
                type: 'StateMachineReady',
                status: 'True',
                reason: 'Available',
                message: '',
                lastTransitionTime: new Date().toISOString(),
              },
            ],
          }
        : {}),
    },
  } as Downloader;
}

const TOKEN = { secretRef: { name: 'token', key: 'value' }, header: 'X-Token', prefix: 'Bearer ' };
const hashOf = (d: Downloader, scope = '') => shareKeyHash(shareKeyOf(d, scope));

describe('splitSourceUrl', () => {
  it.each([
    ['https://esi.evetech.net', 'https://esi.evetech.net', ''],
    ['https://esi.evetech.net/', 'https://esi.evetech.net', ''],
    ['https://ESI.evetech.net:443/api/v1/', 'https://esi.evetech.net', '/api/v1'],
    ['http://127.0.0.1:8080/v2', 'http://127.0.0.1:8080', '/v2'],
  ])('splits %s into origin %s and path prefix %j', (url, origin, pathPrefix) => {
    expect(splitSourceUrl(url)).toEqual({ origin, pathPrefix });
  });
});

describe('the share key', () => {
  it('is the same for Downloaders of one namespace, origin and auth, whatever their paths and static headers', () => {
    const a = dl('a', 'https://api.example.com', { auth: TOKEN });
    const b = dl('b', 'https://api.example.com/v2/', { auth: TOKEN, headers: { Accept: 'x' } });
    expect(hashOf(a)).toBe(hashOf(b));
    expect(hashOf(a)).toMatch(/^[0-9a-f]{20}$/);
  });

  it.each([
    ['another host', dl('x', 'https://other.example.com', { auth: TOKEN })],
    ['another port', dl('x', 'https://api.example.com:8443', { auth: TOKEN })],
    ['another scheme', dl('x', 'http://api.example.com', { auth: TOKEN })],
    ['another namespace', dl('x', 'https://api.example.com', { auth: TOKEN, namespace: 'other' })],
    ['no auth', dl('x', 'https://api.example.com')],
    [
      'another Secret',
      dl('x', 'https://api.example.com', {
        auth: { ...TOKEN, secretRef: { name: 'other', key: 'value' } },
      }),
    ],
    [
      'another Secret key',
      dl('x', 'https://api.example.com', {
        auth: { ...TOKEN, secretRef: { name: 'token', key: 'v2' } },
      }),
    ],
    ['another header', dl('x', 'https://api.example.com', { auth: { ...TOKEN, header: 'X-Key' } })],
    [
      'another prefix',
      dl('x', 'https://api.example.com', { auth: { ...TOKEN, prefix: 'Token ' } }),
    ],
  ])('differs for %s', (_what, other) => {
    expect(hashOf(other)).not.toBe(hashOf(dl('a', 'https://api.example.com', { auth: TOKEN })));
  });

  it("differs between operators' scopes (label selectors)", () => {
    const a = dl('a', 'https://api.example.com');
    expect(hashOf(a, 'team=a')).not.toBe(hashOf(a, ''));
  });
});

describe('sharedProxyName', () => {
  it('is readable, fits API Gateway, and ends with the key hash', () => {
    const d = dl('a', 'https://api.example.com:8443/v1', { namespace: 'n'.repeat(63) });
    const key = shareKeyOf(d);
    const name = sharedProxyName(key);
    expect(name.length).toBeLessThanOrEqual(128);
    expect(name.endsWith(`-${shareKeyHash(key)}-proxy`)).toBe(true);
    expect(sharedProxyName(shareKeyOf(dl('b', 'https://api.example.com')))).toMatch(
      /^dl-team-api\.example\.com-[0-9a-f]{20}-proxy$/,
    );
  });
});

describe('usersOf', () => {
  const a = dl('a', 'https://api.example.com');
  const b = dl('b', 'https://api.example.com/v2');
  const gone = dl('gone', 'https://api.example.com', { deleting: true });
  const other = dl('other', 'https://other.example.com', { restApiId: 'api1' });
  const elsewhere = dl('elsewhere', 'https://api.example.com', { namespace: 'other' });
  const all = [a, b, gone, other, elsewhere];
  const target = { namespace: 'team', keyHash: hashOf(a), restApiId: 'api1' };

  it('counts live Downloaders of the key and those whose status still names the API', () => {
    expect(usersOf(all, target, { sharing: true }).map((d) => d.metadata.name)).toEqual([
      'a',
      'b',
      'other',
    ]);
  });

  it('does not count the Downloader that is leaving', () => {
    const users = usersOf(all, target, { sharing: true, exceptUid: a.metadata.uid ?? '' });
    expect(users.map((d) => d.metadata.name)).toEqual(['b', 'other']);
  });

  it('does not count an HttpTask Downloader of the key: it calls the source without the API', () => {
    const direct = dl('direct', 'https://api.example.com');
    direct.spec.source.transport = 'HttpTask';
    const users = usersOf([a, direct], target, { sharing: true });
    expect(users.map((d) => d.metadata.name)).toEqual(['a']);
  });

  it('counts only status references when sharing is off', () => {
    expect(usersOf(all, target, { sharing: false }).map((d) => d.metadata.name)).toEqual(['other']);
  });
});

describe('findOrphans', () => {
  const tags = (extra: Record<string, string>) => ({
    'downloader.dev/managed-by': 'downloader-operator',
    'downloader.dev/namespace': 'team',
    ...extra,
  });
  const shared = (id: string, keyHash: string, extra: Record<string, string> = {}) =>
    ({
      id,
      tags: tags({
        'downloader.dev/share-key': keyHash,
        'downloader.dev/share-scope': 'all',
        ...extra,
      }),
    }) satisfies ManagedRestApi;
  const scope = { namespaces: [], sharing: true };

  it('finds a shared API whose key no live Downloader has, and keeps one that is used', () => {
    const a = dl('a', 'https://api.example.com');
    const apis = [shared('used', hashOf(a)), shared('unused', 'f'.repeat(20))];
    const deleting = dl('b', 'https://other.example.com', { deleting: true });
    expect(findOrphans(apis, [a, deleting], scope)).toEqual([{ api: apis[1], kind: 'shared' }]);
  });

  it('keeps a shared API a Downloader status still names (it has not moved yet)', () => {
    const moving = dl('a', 'https://other.example.com', { restApiId: 'old' });
    expect(findOrphans([shared('old', 'f'.repeat(20))], [moving], scope)).toEqual([]);
  });

  it('does not judge APIs of unwatched namespaces or of another scope', () => {
    const apis = [
      shared('x', 'f'.repeat(20), { 'downloader.dev/namespace': 'unwatched' }),
      shared('y', 'f'.repeat(20), { 'downloader.dev/share-scope': 'abc' }),
    ];
    expect(findOrphans(apis, [], { ...scope, namespaces: ['team'] })).toEqual([]);
  });

  it("finds a Downloader's own API once its state machine is Ready on a shared one", () => {
    const moved = dl('a', 'https://api.example.com', {
      uid: 'u1',
      restApiId: 'shared1',
      machineReady: true,
    });
    const notYet = dl('b', 'https://api.example.com', { uid: 'u2', restApiId: 'shared1' });
    const own = (id: string, uid: string) =>
      ({ id, tags: tags({ 'downloader.dev/uid': uid }) }) satisfies ManagedRestApi;
    const apis = [own('own1', 'u1'), own('own2', 'u2'), own('own3', 'not-in-cache')];
    expect(findOrphans(apis, [moved, notYet], scope)).toEqual([{ api: apis[0], kind: 'migrated' }]);
    expect(findOrphans(apis, [moved, notYet], { ...scope, sharing: false })).toEqual([]);
  });

  it("finds a Downloader's own API once it switched to HttpTask and its state machine is Ready", () => {
    const switched = dl('a', 'https://api.example.com', { uid: 'u1', machineReady: true });
    switched.spec.source.transport = 'HttpTask';
    const stillApi = dl('b', 'https://api.example.com', { uid: 'u2', machineReady: true });
    const own = (id: string, uid: string) =>
      ({ id, tags: tags({ 'downloader.dev/uid': uid }) }) satisfies ManagedRestApi;
    const apis = [own('own1', 'u1'), own('own2', 'u2')];
    expect(findOrphans(apis, [switched, stillApi], scope)).toEqual([
      { api: apis[0], kind: 'migrated' },
    ]);
  });

  it('finds a shared API whose only Downloader switched to HttpTask', () => {
    const switched = dl('a', 'https://api.example.com');
    switched.spec.source.transport = 'HttpTask';
    const apis = [shared('s', hashOf(dl('probe', 'https://api.example.com')))];
    expect(findOrphans(apis, [switched], scope)).toEqual([{ api: apis[0], kind: 'shared' }]);
  });
});

describe('KeyedMutex', () => {
  it('runs work of one key one at a time, and of different keys at once', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = mutex.run('k', async () => {
      order.push('k1 start');
      await gate;
      order.push('k1 end');
    });
    const second = mutex.run('k', async () => {
      order.push('k2');
    });
    const other = mutex.run('j', async () => {
      order.push('j');
    });
    await other;
    expect(order).toEqual(['k1 start', 'j']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['k1 start', 'j', 'k1 end', 'k2']);
    expect(mutex.busyKeys()).toEqual([]);
  });

  it('goes on with the next work after a failure', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(mutex.run('k', () => Promise.resolve(2))).resolves.toBe(2);
  });
});

/** An in-memory ProxyManager: REST APIs with tags, found by the desired share or owner tag. */
class FakeProxies {
  readonly kind = 'Proxy';
  readonly apis = new Map<string, Record<string, string>>();
  creates = 0;
  deploys = 0;
  deletes: string[] = [];
  /** The integration each API was last deployed with. */
  readonly deployed = new Map<string, string>();
  private next = 0;

  private match(desired: ProxyDesired, uid: string) {
    for (const [id, tags] of this.apis) {
      if (desired.share) {
        if (tags['downloader.dev/share-key'] === desired.share.keyHash) return id;
      } else if (tags['downloader.dev/uid'] === uid) return id;
    }
    return undefined;
  }

  async observe(owner: { uid: string }, desired: ProxyDesired) {
    await Promise.resolve();
    const id = this.match(desired, owner.uid);
    return id ? this.observed(id) : undefined;
  }

  diff(desired: ProxyDesired, observed: ProxyObserved): string[] {
    return observed.deployedIntegrationHash === integrationHash(desired) ? [] : ['deployment'];
  }

  async apply(
    owner: { uid: string; namespace: string },
    desired: ProxyDesired,
    observed?: ProxyObserved,
  ) {
    this.deploys += 1;
    if (observed) {
      this.deployed.set(observed.restApiId, integrationHash(desired));
      return this.observed(observed.restApiId);
    }
    // A slow create, so that a second reconcile would overtake it without the lock.
    await new Promise((resolve) => setTimeout(resolve, 10));
    this.creates += 1;
    const id = `api${++this.next}`;
    this.deployed.set(id, integrationHash(desired));
    this.apis.set(
      id,
      desired.share
        ? {
            'downloader.dev/managed-by': 'downloader-operator',
            'downloader.dev/namespace': desired.share.namespace,
            'downloader.dev/share-key': desired.share.keyHash,
            'downloader.dev/share-scope': desired.share.scope,
          }
        : {
            'downloader.dev/managed-by': 'downloader-operator',
            'downloader.dev/namespace': owner.namespace,
            'downloader.dev/uid': owner.uid,
          },
    );
    return this.observed(id);
  }

  async delete(_owner: unknown, observed: ProxyObserved) {
    await this.deleteApi(observed.restApiId);
  }

  async deleteApi(id: string) {
    this.deletes.push(id);
    this.apis.delete(id);
  }

  async tagsOf(id: string) {
    return this.apis.get(id);
  }

  async listManaged(): Promise<ManagedRestApi[]> {
    return [...this.apis].map(([id, tags]) => ({ id, tags }));
  }

  private observed(restApiId: string): ProxyObserved {
    const hash = this.deployed.get(restApiId);
    return {
      restApiId,
      rootResourceId: 'root',
      methodPresent: true,
      ...(hash ? { deployedIntegrationHash: hash } : {}),
    };
  }
}

describe('ProxyProvisioner', () => {
  const config = {
    shareProxies: true,
    stageName: 'downloader',
    namespaces: [],
    resyncIntervalMs: 300_000,
  };

  function provisioner(cache: Downloader[], sharing = true) {
    const fake = new FakeProxies();
    const proxies = new ProxyProvisioner({
      proxy: fake as never,
      config: { ...config, shareProxies: sharing },
      downloaders: (namespace) =>
        cache.filter((d) => namespace === undefined || d.metadata.namespace === namespace),
      log,
      now: () => 0,
    });
    return { fake, proxies };
  }
  const context = (downloader: Downloader) => ({ downloader, events, log });

  it('creates one REST API for three Downloaders of one key reconciled at once', async () => {
    const cache = [
      dl('a', 'https://api.example.com'),
      dl('b', 'https://api.example.com'),
      dl('c', 'https://api.example.com/v2'),
    ];
    const { fake, proxies } = provisioner(cache);
    const targets = await Promise.all(cache.map((d) => proxies.ensure(d, undefined, context(d))));
    await proxies.idle();
    expect(fake.creates).toBe(1);
    expect(new Set(targets.map((t) => t.restApiId)).size).toBe(1);
    expect(targets.map((t) => t.pathPrefix)).toEqual(['', '', '/v2']);
  });

  it('redeploys the shared stage once when the Secret of its users changes', async () => {
    const cache = [
      dl('a', 'https://api.example.com', { auth: TOKEN }),
      dl('b', 'https://api.example.com', { auth: TOKEN }),
    ];
    const { fake, proxies } = provisioner(cache);
    await Promise.all(cache.map((d) => proxies.ensure(d, 'Bearer one', context(d))));
    expect(fake.deploys).toBe(1);
    await Promise.all(cache.map((d) => proxies.ensure(d, 'Bearer two', context(d))));
    await proxies.idle();
    expect({ creates: fake.creates, deploys: fake.deploys }).toEqual({ creates: 1, deploys: 2 });
  });

  it('deletes the shared REST API with its last user only', async () => {
    const a = dl('a', 'https://api.example.com');
    const b = dl('b', 'https://api.example.com');
    const cache = [a, b];
    const { fake, proxies } = provisioner(cache);
    const { restApiId } = await proxies.ensure(a, undefined, context(a));
    await proxies.ensure(b, undefined, context(b));
    await proxies.idle();

    const aLeaving = { ...a, metadata: { ...a.metadata, deletionTimestamp: new Date() } };
    cache[0] = aLeaving;
    await proxies.release(aLeaving, context(aLeaving));
    expect(fake.apis.has(restApiId)).toBe(true);

    const bLeaving = { ...b, metadata: { ...b.metadata, deletionTimestamp: new Date() } };
    cache[1] = bLeaving;
    await proxies.release(bLeaving, context(bLeaving));
    expect(fake.apis.has(restApiId)).toBe(false);
    expect(fake.deletes).toEqual([restApiId]);
  });

  it("deletes a Downloader's own REST API once it uses a shared one", async () => {
    const a = dl('a', 'https://api.example.com', { uid: 'u-a' });
    const own = provisioner([a], false);
    const before = await own.proxies.ensure(a, undefined, context(a));
    await own.proxies.idle();

    const moved = { ...a, status: { resources: { restApiId: before.restApiId } } } as Downloader;
    const shared = new ProxyProvisioner({
      proxy: own.fake as never,
      config,
      downloaders: () => [moved],
      log,
      now: () => 0,
    });
    const after = await shared.ensure(moved, undefined, context(moved));
    await shared.idle();
    shared.retire(moved, after, context(moved));
    await shared.idle();
    expect(after.shared).toBe(true);
    expect([...own.fake.apis.keys()]).toEqual([after.restApiId]);
  });

  it('sweeps a shared REST API left without users by a crash', async () => {
    const a = dl('a', 'https://api.example.com');
    const { fake, proxies } = provisioner([a]);
    fake.apis.set('leftover', {
      'downloader.dev/managed-by': 'downloader-operator',
      'downloader.dev/namespace': 'team',
      'downloader.dev/share-key': 'f'.repeat(20),
      'downloader.dev/share-scope': 'all',
    });
    await proxies.ensure(a, undefined, context(a));
    await proxies.idle();
    expect(fake.deletes).toEqual(['leftover']);
  });
});

describe('the path prefix of a shared proxy in the state machine and its role', () => {
  it('puts the prefix before the path the invoke task requests', () => {
    const input = inputFor(eveSpec(), { pathPrefix: '/api' });
    expect(downloadParameters(input).Path).toBe('/api/v2/status');
    expect(downloadParameters(inputFor(eveSpec())).Path).toBe('/v2/status');
  });

  it('formats fan-out paths and next links with the prefix, escaping what intrinsics reserve', () => {
    const spec = eveSpec();
    spec.fanOut = { paths: ['/v2/a', '/v2/b'], concurrency: 2 };
    const rendered = JSON.stringify(buildDefinition(inputFor(spec, { pathPrefix: "/it's{x}" })));
    expect(rendered).toContain(
      JSON.stringify(`States.Format('/it\\'s\\{x\\}{}', $.value)`).slice(1, -1),
    );
  });

  it('limits execute-api:Invoke to the prefixed paths, and any-path to the prefix', () => {
    const spec = eveSpec();
    expect(invokedPaths(spec, '/api')).toEqual(['/api/v2/status']);
    spec.source.pagination = { type: 'NextLink', nextPath: '$.next', maxPages: 5 };
    expect(invokedPaths(spec, '/api')).toEqual(['/api/*']);
    const policy = stateMachinePolicy({
      partition: 'aws',
      region: 'eu-west-1',
      accountId: '123456789012',
      restApiId: 'abc',
      stage: 'downloader',
      method: 'GET',
      path: '/api/v2/status',
      paths: invokedPaths(spec, '/api'),
      pathPrefix: '/api',
      tableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/T',
    });
    expect(policy.Statement[0]?.Resource).toBe(
      'arn:aws:execute-api:eu-west-1:123456789012:abc/downloader/GET/api/*',
    );
  });
});

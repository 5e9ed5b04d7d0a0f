import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Downloader } from '../api/downloader.js';
import { transportOf } from '../api/downloader-spec.js';
import { MANAGED_BY, TAG_KEYS, type ShareOwner } from '../aws/owner.js';
import {
  integrationHash,
  type ManagedRestApi,
  type ProxyDesired,
  type ProxyManager,
} from '../aws/proxy.js';
import type { OperatorConfig } from '../config.js';
import type { EventRecorder } from '../kube/events.js';
import { ownerOf, proxyDesired } from './desired.js';
import { ensureResource, removeResource } from './pipeline.js';

/**
 * REST APIs shared by the Downloaders of one namespace that download from the same origin with
 * the same credential, so that an installation is not capped by API Gateway's 600 REST APIs per
 * region, and a burst of new Downloaders does not wait on CreateRestApi (one per 3 s) and
 * DeleteRestApi (one per 30 s) for each.
 *
 * The share key is everything the proxy's integration is made from: the namespace, the origin
 * (scheme://host[:port] of `source.url`) and the auth (Secret name and key, header and prefix),
 * plus the operator's label selector (its scope), so two operators with disjoint selectors never
 * share. Static headers are not part of it: the state machine sends them, not the integration.
 * The integration forwards to `<origin>/{proxy}`; the path of `source.url` becomes a prefix of
 * every path the state machine invokes (`pathPrefix`), and the role's execute-api:Invoke stays
 * limited to those paths.
 *
 * Who uses a shared API is never stored in AWS, so nothing can dangle: users are computed from
 * the informer cache, as the live Downloaders (not being deleted) whose share key is the API's,
 * or whose status still names the API (a Downloader that has not moved yet). The API is tagged
 * with the namespace, the key's hash and the scope, and named from the hash, so that the
 * operator finds it after a crash. It is created by the first user's reconcile and deleted:
 * - when the last user is deleted (finalizer), or moves to another key (its next reconcile,
 *   after its state machine points at the new API);
 * - by the orphan sweep, which lists the operator's REST APIs of the watched namespaces at
 *   start-up and once per resync interval and deletes the shared ones without users, and the
 *   per-Downloader ones (made before sharing) whose Downloader now uses a shared API. A crash
 *   between any two steps is repaired there.
 * All work on one key (create, delete, sweep) runs under a per-key lock, so two reconciles never
 * both create the API and a sweep never deletes one a reconcile just found. Only the leader
 * reconciles, so the lock needs to hold in one process only.
 *
 * With `--share-proxies false` each Downloader gets its own REST API, as before; the shared
 * ones are deleted once no Downloader's status names them any more.
 */

/** The parts of a Downloader that decide which REST API it may share. */
export interface ShareKey {
  namespace: string;
  /** scheme://host[:port], lower case, without a default port. */
  origin: string;
  auth?: { secretName: string; secretKey: string; header: string; prefix: string };
  /** The operator's scope: its label selector, empty for all. */
  scope: string;
}

/** Bumped when the key's material changes shape (every Downloader then moves once). */
const SHARE_KEY_VERSION = 1;

/** A `source.url` split into what the shared integration forwards to and the path after it. */
export interface SplitSourceUrl {
  origin: string;
  /** The URL's path without trailing "/": empty for `https://host` or `https://host/`. */
  pathPrefix: string;
}

/** Splits `url` into origin and path prefix; a URL that does not parse is its own origin. */
export function splitSourceUrl(url: string): SplitSourceUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { origin: url.replace(/\/+$/, ''), pathPrefix: '' };
  }
  const origin = parsed.origin === 'null' ? url.replace(/\/+$/, '') : parsed.origin;
  return { origin, pathPrefix: parsed.pathname.replace(/\/+$/, '') };
}

/** The share key of a Downloader for an operator whose label selector is `scope`. */
export function shareKeyOf(downloader: Downloader, scope = ''): ShareKey {
  const { url, auth } = downloader.spec.source;
  return {
    namespace: downloader.metadata.namespace ?? '',
    origin: splitSourceUrl(url).origin,
    ...(auth
      ? {
          auth: {
            secretName: auth.secretRef.name,
            secretKey: auth.secretRef.key,
            header: auth.header,
            prefix: auth.prefix,
          },
        }
      : {}),
    scope,
  };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The key's hash: 20 hex digits (80 bits), the tag and name of the shared API. */
export function shareKeyHash(key: ShareKey): string {
  const auth = key.auth
    ? [key.auth.secretName, key.auth.secretKey, key.auth.header, key.auth.prefix]
    : null;
  return sha256Hex(
    JSON.stringify([SHARE_KEY_VERSION, key.namespace, key.origin, auth, key.scope]),
  ).slice(0, 20);
}

/** The scope tag's value for a label selector: `all`, or a hash of the selector. */
export function scopeTag(labelSelector: string | undefined): string {
  return labelSelector ? sha256Hex(labelSelector).slice(0, 12) : 'all';
}

/**
 * The shared API's name: readable (`dl-<namespace>-<host>`, cut to fit) and ending with the
 * key's hash. Names are not unique in API Gateway; the API is found by its tags.
 */
export function sharedProxyName(key: ShareKey): string {
  const host = key.origin.replace(/^[a-z]+:\/\//, '');
  const tail = `-${shareKeyHash(key)}-proxy`;
  const head = `dl-${key.namespace}-${host}`.replace(/[^A-Za-z0-9_.-]/g, '-');
  return head.slice(0, 128 - tail.length) + tail;
}

/** The share owner (tags) of a key. */
export function shareOwnerOf(key: ShareKey, labelSelector?: string): ShareOwner {
  return {
    namespace: key.namespace,
    keyHash: shareKeyHash(key),
    scope: scopeTag(labelSelector),
  };
}

/** Whether a Downloader counts as a user: it exists and is not being deleted. */
export function isLive(downloader: Downloader): boolean {
  return !downloader.metadata.deletionTimestamp;
}

/**
 * The users of the shared API with key hash `keyHash` in `namespace`: live Downloaders of that
 * key (when sharing is on), and live Downloaders whose status still names `restApiId`. The
 * Downloader with `exceptUid` (the one leaving) is not counted.
 */
export function usersOf(
  downloaders: readonly Downloader[],
  target: { namespace: string; keyHash: string; restApiId?: string },
  options: { sharing: boolean; labelSelector?: string; exceptUid?: string },
): Downloader[] {
  return downloaders.filter((d) => {
    if (!isLive(d) || d.metadata.namespace !== target.namespace) return false;
    if (options.exceptUid !== undefined && d.metadata.uid === options.exceptUid) return false;
    if (target.restApiId && d.status?.resources?.restApiId === target.restApiId) return true;
    // An HttpTask Downloader calls the source without API Gateway: of its key, but no user.
    if (!options.sharing || transportOf(d.spec) === 'HttpTask') return false;
    return shareKeyHash(shareKeyOf(d, options.labelSelector ?? '')) === target.keyHash;
  });
}

/** What the orphan sweep may delete, and why. */
export interface Orphan {
  api: ManagedRestApi;
  /** `shared`: a shared API without users; `migrated`: a Downloader's own API it left. */
  kind: 'shared' | 'migrated';
}

/** The watched namespaces and the scope the sweep judges within. */
export interface SweepScope {
  /** Watched namespaces; empty for all. */
  namespaces: readonly string[];
  labelSelector?: string;
  sharing: boolean;
}

/**
 * The operator's REST APIs that nothing uses any more, judged against the informer cache:
 * - a shared API (share tags, this operator's scope, a watched namespace) without users;
 * - a Downloader's own API (UID tag, made before sharing) when sharing is on, the Downloader is
 *   live in the cache, its status names another API, and its state machine is Ready, so it
 *   already calls that other API.
 * APIs of unwatched namespaces, another scope, or a Downloader not in the cache are not judged:
 * another operator may own them, and a deleted Downloader's finalizer deletes its own.
 */
export function findOrphans(
  apis: readonly ManagedRestApi[],
  downloaders: readonly Downloader[],
  scope: SweepScope,
): Orphan[] {
  const watched = (namespace: string | undefined) =>
    namespace !== undefined &&
    (scope.namespaces.length === 0 || scope.namespaces.includes(namespace));
  const byUid = new Map(downloaders.map((d) => [d.metadata.uid ?? '', d]));
  const orphans: Orphan[] = [];
  for (const api of apis) {
    const tags = api.tags;
    const namespace = tags[TAG_KEYS.namespace];
    if (tags[TAG_KEYS.managedBy] !== MANAGED_BY || !watched(namespace)) continue;
    const keyHash = tags[TAG_KEYS.shareKey];
    if (keyHash !== undefined) {
      if (tags[TAG_KEYS.shareScope] !== scopeTag(scope.labelSelector)) continue;
      const users = usersOf(
        downloaders,
        { namespace: namespace ?? '', keyHash, restApiId: api.id },
        scope,
      );
      if (users.length === 0) orphans.push({ api, kind: 'shared' });
      continue;
    }
    const uid = tags[TAG_KEYS.uid];
    const owner = uid === undefined ? undefined : byUid.get(uid);
    if (!scope.sharing || !owner || !isLive(owner)) continue;
    const current = owner.status?.resources?.restApiId;
    const machineReady = owner.status?.conditions?.some(
      (c) => c.type === 'StateMachineReady' && c.status === 'True',
    );
    // Its state machine calls another API, or none (the HttpTask transport, whose status names
    // no REST API once it switched).
    const moved = current ? current !== api.id : transportOf(owner.spec) === 'HttpTask';
    if (moved && machineReady) orphans.push({ api, kind: 'migrated' });
  }
  return orphans;
}

/**
 * Delay of the extra sweep after a shared API was kept only for Downloaders whose status still
 * names it: long enough for their reconciles to finish and reach the cache.
 */
export const SWEEP_SOON_MS = 15_000;

/** Runs functions one at a time per key, in call order; different keys run at once. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** `whileWaiting` wraps each wait for an earlier run of the same key (see ReconcileSlots). */
  constructor(
    private readonly whileWaiting: <T>(wait: () => Promise<T>) => Promise<T> = (wait) => wait(),
  ) {}

  /** Runs `work` once every earlier `run` of the same key has settled. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const earlier = this.tails.get(key);
    const before = earlier ? this.whileWaiting(() => earlier) : Promise.resolve();
    const result = before.then(work, work);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with work queued or running (for tests). */
  busyKeys(): string[] {
    return [...this.tails.keys()];
  }
}

/** Where a Downloader's state machine reaches its source: the REST API and the path prefix. */
export interface ProxyTarget {
  restApiId: string;
  /** Put before every invoked path; empty unless the API is shared (see the module comment). */
  pathPrefix: string;
  shared: boolean;
}

/** What the proxy step of a reconcile or a cleanup reports to. */
export interface ProxyContext {
  downloader: Downloader;
  events: EventRecorder;
  log: Logger;
}

/** Dependencies of ProxyProvisioner. */
export interface ProxyProvisionerDeps {
  proxy: ProxyManager;
  config: Pick<
    OperatorConfig,
    'shareProxies' | 'stageName' | 'labelSelector' | 'namespaces' | 'resyncIntervalMs'
  >;
  /**
   * Downloaders in the informer cache, of one namespace or all. Without it nobody's use of a
   * shared API can be known: the sweep never runs and a shared API is never deleted (a tool
   * reconciling one Downloader at a time, like the benchmark's floor, must not delete others').
   */
  downloaders?: (namespace?: string) => Downloader[];
  /** Milliseconds since the epoch. */
  now?: () => number;
  log?: Logger;
  /** Wraps a reconcile's wait for another's work on the same key (ReconcileSlots.whileWaiting). */
  whileWaiting?: <T>(wait: () => Promise<T>) => Promise<T>;
}

/**
 * The proxy step of every Downloader, shared or not, and the lifecycle of shared APIs (see the
 * module comment). One instance per process.
 */
export class ProxyProvisioner {
  private readonly locks: KeyedMutex;
  /** Shared API id by `namespace/keyHash`: the hint tried before a scan. */
  private readonly known = new Map<string, string>();
  /**
   * When a shared API was last observed up to date, and for which integration: another user
   * reconciled within half a resync interval of that reuses the answer instead of reading the
   * API again, so a resync reads each shared API about once, not once per user.
   */
  private readonly verified = new Map<string, { integration: string; atMs: number }>();
  private sweeping: Promise<void> | undefined;
  /** Releases started by retire, one after the other. */
  private releasing: Promise<void> = Promise.resolve();
  private soon: NodeJS.Timeout | undefined;
  private lastSweepMs: number | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: ProxyProvisionerDeps) {
    this.now = deps.now ?? Date.now;
    this.locks = new KeyedMutex(deps.whileWaiting);
  }

  /** Whether Downloaders share REST APIs (`--share-proxies`). */
  get sharing(): boolean {
    return this.deps.config.shareProxies ?? false;
  }

  /** How long another user trusts a shared API's last observation: half a resync. */
  private get verifiedTtlMs(): number {
    return this.deps.config.resyncIntervalMs / 2;
  }

  /** The desired shared proxy of a Downloader, with its lock key. */
  sharedDesired(
    downloader: Downloader,
    authValue: string | undefined,
  ): { desired: ProxyDesired; lockKey: string } {
    const { config } = this.deps;
    const key = shareKeyOf(downloader, config.labelSelector ?? '');
    const share = shareOwnerOf(key, config.labelSelector);
    const lockKey = `${key.namespace}/${share.keyHash}`;
    const auth = downloader.spec.source.auth;
    const desired: ProxyDesired = {
      name: sharedProxyName(key),
      sourceUrl: key.origin,
      stageName: config.stageName,
      ...(auth && authValue !== undefined
        ? { auth: { header: auth.header, value: authValue } }
        : {}),
      ...((this.known.get(lockKey) ?? downloader.status?.resources?.restApiId)
        ? { hintRestApiId: this.known.get(lockKey) ?? downloader.status?.resources?.restApiId }
        : {}),
      share,
    };
    return { desired, lockKey };
  }

  /**
   * Brings the Downloader's proxy to its desired state: its own REST API without sharing, else
   * its key's shared API (created by the first user, under the key's lock). Starts the orphan
   * sweep when one is due.
   */
  async ensure(
    downloader: Downloader,
    authValue: string | undefined,
    context: ProxyContext,
  ): Promise<ProxyTarget> {
    this.sweepIfDue();
    if (!this.sharing) {
      const own = await ensureResource(
        this.deps.proxy,
        ownerOf(downloader),
        proxyDesired(downloader, this.deps.config as OperatorConfig, authValue),
        context,
      );
      return { restApiId: own.restApiId, pathPrefix: '', shared: false };
    }

    const { desired, lockKey } = this.sharedDesired(downloader, authValue);
    const pathPrefix = splitSourceUrl(downloader.spec.source.url).pathPrefix;
    const integration = integrationHash(desired);
    const restApiId = await this.locks.run(lockKey, async () => {
      const known = this.known.get(lockKey);
      const last = this.verified.get(lockKey);
      if (
        known &&
        last?.integration === integration &&
        this.now() - last.atMs < this.verifiedTtlMs
      ) {
        context.log.debug({ restApiId: known }, 'shared proxy verified recently');
        return known;
      }
      const observed = await ensureResource(this.deps.proxy, ownerOf(downloader), desired, context);
      this.known.set(lockKey, observed.restApiId);
      this.verified.set(lockKey, { integration, atMs: this.now() });
      return observed.restApiId;
    });
    return { restApiId, pathPrefix, shared: true };
  }

  /**
   * After a reconcile made the Downloader's state machine call `current`: releases the REST API
   * its status named before, if it was another one (it moved to another key, to or from
   * sharing). The release runs in the background, one at a time, so that DeleteRestApi's quota
   * (one per 30 s) never holds up a worker while many Downloaders move at once; a failure, or a
   * crash before it ran, is left to the orphan sweep.
   */
  retire(downloader: Downloader, current: ProxyTarget, context: ProxyContext): void {
    const previous = downloader.status?.resources?.restApiId;
    if (!previous || previous === current.restApiId) return;
    this.releasing = this.releasing.then(() =>
      this.releaseApi(previous, downloader, context).catch((err: unknown) => {
        context.log.warn(
          { err, restApiId: previous },
          'could not release the previous proxy; the orphan sweep retries',
        );
      }),
    );
  }

  /**
   * On deletion of a Downloader (after its state machine is gone): deletes its own REST API if
   * it has one, and the shared API of its key, and the one its status names, each only when no
   * other live Downloader uses it. Runs the orphan sweep when due.
   */
  async release(downloader: Downloader, context: ProxyContext): Promise<void> {
    await removeResource(
      this.deps.proxy,
      ownerOf(downloader),
      proxyDesired(downloader, this.deps.config as OperatorConfig, undefined),
      context,
    );
    const { desired } = this.sharedDesired(downloader, undefined);
    const found = await this.deps.proxy.observe(ownerOf(downloader), desired);
    const candidates = new Set<string>();
    if (found) candidates.add(found.restApiId);
    const named = downloader.status?.resources?.restApiId;
    if (named) candidates.add(named);
    for (const id of candidates) await this.releaseApi(id, downloader, context);
    this.sweepIfDue();
  }

  /**
   * Deletes REST API `restApiId` if it is the leaving Downloader's own, or a shared API of this
   * operator with no other user; leaves anything else.
   */
  private async releaseApi(restApiId: string, leaving: Downloader, context: ProxyContext) {
    const tags = await this.deps.proxy.tagsOf(restApiId);
    if (!tags || tags[TAG_KEYS.managedBy] !== MANAGED_BY) return;
    const uid = leaving.metadata.uid ?? '';
    if (tags[TAG_KEYS.shareKey] === undefined) {
      if (tags[TAG_KEYS.uid] !== uid) return;
      await this.deps.proxy.deleteApi(restApiId);
      this.deleted(context, restApiId, 'its own, no longer used');
      return;
    }
    const namespace = tags[TAG_KEYS.namespace] ?? '';
    const keyHash = tags[TAG_KEYS.shareKey] ?? '';
    if (namespace !== leaving.metadata.namespace) return;
    if (tags[TAG_KEYS.shareScope] !== scopeTag(this.deps.config.labelSelector)) return;
    const lockKey = `${namespace}/${keyHash}`;
    const cache = this.deps.downloaders;
    if (!cache) return;
    await this.locks.run(lockKey, async () => {
      const users = usersOf(
        cache(namespace),
        { namespace, keyHash, restApiId },
        {
          sharing: this.sharing,
          ...(this.deps.config.labelSelector
            ? { labelSelector: this.deps.config.labelSelector }
            : {}),
          exceptUid: uid,
        },
      );
      if (users.length > 0) {
        context.log.debug({ restApiId, users: users.length }, 'shared proxy still in use');
        // Users that only still name it in their status are moving away too; whichever of them
        // is last may have judged with a cache that did not show the others' moves yet.
        if (!users.some((d) => this.usesByKey(d, keyHash))) this.sweepSoon();
        return;
      }
      await this.deps.proxy.deleteApi(restApiId);
      this.forgetKey(lockKey, restApiId);
      this.deleted(context, restApiId, 'shared, no other user');
    });
  }

  private usesByKey(downloader: Downloader, keyHash: string): boolean {
    if (!this.sharing) return false;
    const key = shareKeyOf(downloader, this.deps.config.labelSelector ?? '');
    return shareKeyHash(key) === keyHash;
  }

  /** Runs a sweep SWEEP_SOON_MS from now, even if one ran within the resync interval. */
  private sweepSoon(): void {
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.lastSweepMs = undefined;
      this.sweepIfDue();
    }, SWEEP_SOON_MS);
    this.soon.unref();
  }

  private deleted(context: ProxyContext, restApiId: string, why: string): void {
    context.log.info({ kind: this.deps.proxy.kind, restApiId, why }, 'deleted AWS resource');
    context.events.record(
      context.downloader,
      'Normal',
      'Deleted',
      `Deleted Proxy ${restApiId} (${why})`,
    );
  }

  private forgetKey(lockKey: string, restApiId: string): void {
    if (this.known.get(lockKey) === restApiId) this.known.delete(lockKey);
    this.verified.delete(lockKey);
  }

  /** Starts a sweep in the background unless one runs or one ran within the resync interval. */
  sweepIfDue(): void {
    if (this.sweeping || !this.deps.downloaders) return;
    const now = this.now();
    if (
      this.lastSweepMs !== undefined &&
      now - this.lastSweepMs < this.deps.config.resyncIntervalMs
    )
      return;
    this.lastSweepMs = now;
    this.sweeping = this.sweep()
      .then(() => undefined)
      .catch((err: unknown) =>
        this.deps.log?.warn({ err }, 'orphan sweep of proxies failed; retried next resync'),
      )
      .finally(() => {
        this.sweeping = undefined;
      });
  }

  /** Waits for a running sweep and the releases started so far (for tests). */
  async idle(): Promise<void> {
    await this.releasing;
    await this.sweeping;
  }

  /**
   * Lists the operator's REST APIs and deletes the orphans (see findOrphans), each judged again
   * under its key's lock against the cache as it is then.
   */
  async sweep(): Promise<number> {
    const { config } = this.deps;
    const scope: SweepScope = {
      namespaces: config.namespaces,
      sharing: this.sharing,
      ...(config.labelSelector ? { labelSelector: config.labelSelector } : {}),
    };
    const cache = this.deps.downloaders;
    if (!cache) return 0;
    const apis = await this.deps.proxy.listManaged();
    let deleted = 0;
    for (const { api, kind } of findOrphans(apis, cache(), scope)) {
      const namespace = api.tags[TAG_KEYS.namespace] ?? '';
      const lockKey = `${namespace}/${api.tags[TAG_KEYS.shareKey] ?? `uid:${api.tags[TAG_KEYS.uid]}`}`;
      const done = await this.locks.run(lockKey, async () => {
        const still = findOrphans([api], cache(), scope);
        if (still.length === 0) return false;
        await this.deps.proxy.deleteApi(api.id);
        this.forgetKey(lockKey, api.id);
        this.deps.log?.info(
          { kind: this.deps.proxy.kind, restApiId: api.id, namespace, orphan: kind },
          'deleted AWS resource',
        );
        return true;
      });
      if (done) deleted += 1;
    }
    return deleted;
  }
}

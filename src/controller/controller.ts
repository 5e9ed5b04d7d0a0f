import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { FINALIZER, type Downloader } from '../api/downloader.js';
import type { OperatorConfig } from '../config.js';
import type { KubeClients } from '../kube/clients.js';
import {
  downloaderInformer,
  keepRunning,
  secretInformer,
  type CachedInformer,
} from '../kube/informers.js';
import type { OperatorMetrics } from '../metrics.js';
import { WorkQueue } from './queue.js';
import type { DownloaderReconciler } from './reconciler.js';
import type { SecretReader } from './secrets.js';
import { ReconcileSlots } from './slots.js';

/** The parts of a Downloader whose change needs a reconcile; status changes do not. */
/**
 * What makes a Downloader worth reconciling again. The operator's own finalizer is left out:
 * the reconcile that adds it goes on to converge, and the update it causes would only queue a
 * second, identical reconcile (one taken off by hand comes back at the next resync).
 */
function fingerprint(d: Downloader): string {
  return JSON.stringify([
    d.metadata.generation,
    d.metadata.annotations ?? {},
    d.metadata.deletionTimestamp ?? null,
    (d.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
  ]);
}

const keyOf = (namespace: string | undefined, name: string | undefined) => `${namespace}/${name}`;

/**
 * Runs the control loop: informers on Downloaders and the Secrets they reference feed a work
 * queue; keys are taken from it into `concurrency` reconcile slots (see ReconcileSlots: a
 * reconcile that only waits for an AWS quota lends its slot) and reconciled one at a time per
 * key. Every reconciled key is queued again after its requeue delay, which is the periodic resync.
 */
export class Controller implements SecretReader {
  readonly queue: WorkQueue;
  private readonly downloaders: Array<CachedInformer<Downloader>> = [];
  private readonly secrets: Array<CachedInformer<V1Secret>> = [];
  private readonly runners: Array<{ stop(): Promise<void>; synced: Promise<void> }> = [];
  private readonly seen = new Map<string, string>();
  private readonly inFlight = new Set<Promise<void>>();
  private dispatcher: Promise<void> | undefined;
  private synced = false;

  constructor(
    private readonly kube: KubeClients,
    private readonly config: OperatorConfig,
    private readonly reconciler: DownloaderReconciler,
    private readonly log: Logger,
    private readonly metrics?: OperatorMetrics,
    queue?: WorkQueue,
    readonly slots: ReconcileSlots = new ReconcileSlots(config.concurrency),
  ) {
    this.queue = queue ?? new WorkQueue();
    const namespaces = config.namespaces.length > 0 ? config.namespaces : [undefined];
    for (const namespace of namespaces) {
      const timeout = config.watchTimeoutS;
      this.downloaders.push(downloaderInformer(kube, namespace, config.labelSelector, timeout));
      this.secrets.push(secretInformer(kube, namespace, timeout));
    }
  }

  /** Starts the informers and waits for their first list. Standby replicas stop here. */
  async syncCaches(): Promise<void> {
    for (const informer of this.downloaders) {
      informer.on('add', (d) => this.onDownloader(d));
      informer.on('update', (d) => this.onDownloader(d));
      informer.on('delete', (d) => this.seen.delete(keyOf(d.metadata.namespace, d.metadata.name)));
      this.runners.push(keepRunning(informer, 'downloaders', this.log, () => this.enqueueAll()));
    }
    for (const informer of this.secrets) {
      const changed = (s: V1Secret) => this.onSecret(s);
      informer.on('add', changed);
      informer.on('update', changed);
      informer.on('delete', changed);
      this.runners.push(keepRunning(informer, 'secrets', this.log));
    }
    await Promise.all(this.runners.map((r) => r.synced));
    this.synced = true;
    this.log.info({ downloaders: this.listDownloaders().length }, 'caches synced');
  }

  /** Starts the workers: from now on this replica reconciles. */
  startWorkers(): void {
    if (this.dispatcher) return;
    this.log.info({ concurrency: this.config.concurrency }, 'starting workers');
    this.enqueueAll();
    this.dispatcher = this.dispatch();
  }

  /** True once workers run. */
  isWorking(): boolean {
    return this.dispatcher !== undefined;
  }

  /** Stops taking work, lets in-flight reconciles finish, and stops the informers. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.dispatcher;
    await Promise.all(this.inFlight);
    await Promise.all(this.runners.map((r) => r.stop()));
  }

  /** True once the caches are synced. */
  isSynced(): boolean {
    return this.synced;
  }

  /** The Downloader informers (one per watched namespace), for readers sharing their cache. */
  downloaderInformers(): ReadonlyArray<CachedInformer<Downloader>> {
    return this.downloaders;
  }

  get(namespace: string, name: string): V1Secret | undefined {
    for (const informer of this.secrets) {
      const secret = informer.get(name, namespace);
      if (secret) return secret;
    }
    return undefined;
  }

  private getDownloader(namespace: string, name: string): Downloader | undefined {
    for (const informer of this.downloaders) {
      const downloader = informer.get(name, namespace);
      if (downloader) return downloader;
    }
    return undefined;
  }

  /** Downloaders in the informer caches, of one namespace or of every watched one. */
  listDownloaders(namespace?: string): Downloader[] {
    return this.downloaders.flatMap((informer) => informer.list(namespace));
  }

  private onDownloader(downloader: Downloader): void {
    const key = keyOf(downloader.metadata.namespace, downloader.metadata.name);
    const print = fingerprint(downloader);
    if (this.seen.get(key) === print) return;
    this.seen.set(key, print);
    this.queue.add(key);
  }

  /** Queues every Downloader whose auth names this Secret. */
  private onSecret(secret: V1Secret): void {
    const namespace = secret.metadata?.namespace;
    for (const d of this.listDownloaders(namespace)) {
      if (d.spec.source.auth?.secretRef.name === secret.metadata?.name) {
        this.queue.add(keyOf(d.metadata.namespace, d.metadata.name));
      }
    }
  }

  private enqueueAll(): void {
    for (const d of this.listDownloaders())
      this.queue.add(keyOf(d.metadata.namespace, d.metadata.name));
  }

  /**
   * Hands each queued key to a free slot, until the queue shuts down. The key is taken first
   * and the slot after, so no slot sits idle while the queue is empty.
   */
  private async dispatch(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.slots.acquire();
      const running = this.slots
        .run(() => this.process(key))
        .catch((err: unknown) => this.log.error({ err, key }, 'reconcile crashed'))
        .finally(() => {
          this.queue.done(key);
          this.inFlight.delete(running);
        });
      this.inFlight.add(running);
    }
  }

  private async process(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const downloader = this.getDownloader(namespace, name);
    if (!downloader) {
      this.reconciler.forget(key);
      this.queue.forget(key);
      return;
    }
    const log = this.log.child({
      namespace,
      name,
      generation: downloader.metadata.generation,
      reconcileId: randomBytes(4).toString('hex'),
    });
    const waitedMs = this.queue.waitedMs(key);
    log.debug({ waitedMs }, 'reconcile started');
    this.metrics?.queueWait.observe(waitedMs / 1000);
    const endTimer = this.metrics?.reconcileDuration.startTimer();
    let result;
    try {
      result = await this.reconciler.reconcile(downloader, log);
    } catch (err) {
      // Kubernetes writes (finalizer, status) fail here, a 409 Conflict among them.
      log.warn({ err }, 'reconcile failed outside its steps');
      result = { kind: 'retry' as const, error: err };
    }
    endTimer?.({ result: result.kind });
    this.metrics?.reconciles.inc({ result: result.kind });
    switch (result.kind) {
      case 'done':
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfterMs);
        log.debug({ requeueAfterMs: result.requeueAfterMs }, 'reconcile done');
        return;
      case 'retry': {
        const delayMs = this.queue.addRateLimited(key);
        log.debug({ requeueAfterMs: delayMs }, 'requeued with backoff');
        return;
      }
      case 'forget':
        this.queue.forget(key);
        this.reconciler.forget(key);
        return;
    }
  }
}

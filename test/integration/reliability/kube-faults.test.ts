import { jest } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Downloader } from '../../../src/api/downloader.js';
import { startPrivateKube, type PrivateKube } from '../../faults/private-kube.js';
import { TcpProxy } from '../../faults/tcp-proxy.js';
import type { OperatorProcess } from '../operator-process.js';
import { eveExample } from '../operator/downloaders.js';
import { AwsCensus, ONE_EACH, censusSize, countFor, expectedRestApis } from './census.js';
import {
  allReady,
  applyAll,
  conditionOf,
  kubectlAsync,
  kubectlOkAsync,
  listDownloaders,
  recordFigures,
  scale,
  secondsSince,
  startOperatorFor,
  summarizeLog,
  tableName,
} from './harness.js';
import { eventually } from '../operator-process.js';

// Heavy runs wait far longer than the suite's 180 s per test.
jest.setTimeout(scale(180_000, 1_800_000));

/**
 * The operator against a Kubernetes API server that misbehaves: watch connections dropped, the
 * operator cut off while users change Downloaders, the API server restarted on the same port,
 * a watch resumed from a compacted resourceVersion (410 Gone), and other writers racing its
 * status and finalizer writes. This file runs its own etcd and kube-apiserver; the operator
 * reaches them through a TCP proxy the test controls.
 */

const CYCLES = scale(1, 5);
const NAMESPACE = 'relkube';

/** The operator's --watch-timeout here: a silent watch is taken for dead 15 s after it. */
const WATCH_TIMEOUT_S = 5;

describe('the operator when the Kubernetes API server fails', () => {
  const census = new AwsCensus();
  const revisions = new Map<string, number>();
  const tables = new Map<string, string>();
  const figures: Record<string, unknown> = { cycles: CYCLES };
  const convergeSeconds: Record<string, number[]> = {};
  let kube: PrivateKube;
  let proxy: TcpProxy;
  let operator: OperatorProcess;
  let namespace: string;
  let kubeconfig: string;

  beforeAll(async () => {
    const dir = join(process.env.CLOUD_DIR ?? tmpdir(), `relkube-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    kube = await startPrivateKube(dir);
    kubeconfig = kube.kubeconfig;
    proxy = await TcpProxy.start(`127.0.0.1:${kube.apiPort}`);
    namespace = `${NAMESPACE}-${Date.now().toString(36)}`;
    await kubectlOkAsync(['create', 'namespace', namespace], { kubeconfig });
    operator = startOperatorFor(namespace, {
      env: { KUBECONFIG: kube.kubeconfigVia(proxy.port), WATCH_TIMEOUT_S: String(WATCH_TIMEOUT_S) },
    });
  }, 180_000);

  afterAll(async () => {
    await operator?.stop();
    await proxy?.close();
    await kube?.stop();
    census.destroy();
    figures.secondsToConverge = convergeSeconds;
    figures.connections = proxy?.stats;
    recordFigures('kube-faults', figures);
  });

  function manifest(name: string): Downloader {
    let table = tables.get(name);
    if (!table) tables.set(name, (table = tableName('Kube')));
    const d = eveExample(name, table);
    d.spec.source.path = `/v2/status?rev=${revisions.get(name) ?? 1}`;
    return d;
  }

  async function change(creates: string[], updates: string[], deletes: string[]): Promise<void> {
    for (const name of creates) revisions.set(name, 1);
    for (const name of updates) revisions.set(name, (revisions.get(name) ?? 1) + 1);
    const apply = [...creates, ...updates].map(manifest);
    if (apply.length > 0) await applyAll(namespace, apply, kubeconfig);
    for (const name of deletes) {
      revisions.delete(name);
      await kubectlOkAsync(['delete', 'downloader', name, '-n', namespace, '--wait=false'], {
        kubeconfig,
      });
    }
  }

  /** Every Downloader alive Ready at its latest spec, the deleted ones gone with their AWS. */
  async function converged(scenario: string): Promise<void> {
    const start = Date.now();
    const names = [...revisions.keys()];
    const ready = await allReady(namespace, names, scale(120_000, 300_000), kubeconfig);
    await eventually(
      'deleted Downloaders to be gone',
      async () =>
        (await listDownloaders(namespace, kubeconfig)).size === names.length ? true : undefined,
      60_000,
      1_000,
    );
    (convergeSeconds[scenario] ??= []).push(secondsSince(start));
    for (const name of names) {
      expect(ready.get(name)?.spec.source.path).toBe(`/v2/status?rev=${revisions.get(name)}`);
    }
    const now = await census.ofNamespace(namespace);
    for (const name of names) {
      expect({ name, ...countFor(now, ready.get(name)!) }).toEqual({ name, ...ONE_EACH });
    }
    expect(censusSize(now).restApis).toBe(
      expectedRestApis(names.flatMap((n) => ready.get(n) ?? [])),
    );
    expect(operator.child.exitCode).toBeNull();
  }

  let next = 0;
  const fresh = () => `k-${next++}`;
  const alive = () => [...revisions.keys()];

  it('reconciles its first Downloaders through the proxy', async () => {
    await change([fresh(), fresh(), fresh()], [], []);
    await converged('baseline');
  });

  it('follows changes made right after its watch connections are dropped', async () => {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const from = operator.lines().length;
      const dropped = proxy.cut();
      expect(dropped).toBeGreaterThan(0);
      const [first] = alive();
      await change([fresh()], first ? [first] : [], []);
      await converged('watch dropped');
      expect(operator.lines().slice(from).join('\n')).toMatch(
        /watch failed|caches synced|reconcile/,
      );
    }
  });

  it('follows changes made after its watch connections went silent without a reset', async () => {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const from = operator.lines().length;
      expect(proxy.freeze()).toBeGreaterThan(0);
      const start = Date.now();
      const [first] = alive();
      await change([fresh()], first ? [first] : [], []);
      await converged('watch silent');
      // Seen once the silent watch was taken for dead: its timeout, the grace, a new list.
      expect(Date.now() - start).toBeLessThan((WATCH_TIMEOUT_S + 15 + 30) * 1000);
      expect(operator.lines().slice(from).join('\n')).toMatch(/watch failed/);
    }
  });

  it('reconciles every create, update and delete made while it was cut off', async () => {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      proxy.block();
      try {
        const [a, b] = alive();
        await change([fresh()], a ? [a] : [], b ? [b] : []);
        await new Promise((resolve) => setTimeout(resolve, 4_000));
      } finally {
        proxy.unblock();
      }
      await converged('operator cut off');
    }
  });

  it('survives the API server restarting on the same port, and follows changes around it', async () => {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const [a] = alive();
      await change([], a ? [a] : [], []);
      await kube.apiServer('restart');
      const [, b] = alive();
      await change([fresh()], b ? [b] : [], []);
      await converged('API server restarted');
    }
  });

  it('lists again after its watch resumes from a compacted resourceVersion (410 Gone)', async () => {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      // The list's own resourceVersion (kubectl get -o json would build a list without one).
      const list = await kubectlOkAsync(
        ['get', '--raw', `/apis/downloader.dev/v1alpha1/namespaces/${namespace}/downloaders`],
        { kubeconfig },
      );
      const heldRv = (JSON.parse(list) as { metadata: { resourceVersion: string } }).metadata
        .resourceVersion;
      let answer = '';
      proxy.block();
      try {
        const [a, b] = alive();
        for (let i = 0; i < 3; i++) await change(i === 0 ? [fresh()] : [], a ? [a] : [], []);
        await change([], [], b ? [b] : []);
        figures.compactedAtRevision = await kube.compactEtcd();
        // The restart empties the API server's watch cache, which could still serve the old
        // version from memory; etcd no longer can.
        await kube.apiServer('restart');
        // What the operator's watch meets when it resumes from a version it held.
        const watch = await kubectlAsync(
          [
            'get',
            '--raw',
            `/apis/downloader.dev/v1alpha1/namespaces/${namespace}/downloaders?watch=1&resourceVersion=${heldRv}`,
            '--request-timeout=10s',
          ],
          { kubeconfig },
        );
        answer = /"code":410/.test(watch.stdout) ? '410 Gone' : watch.stdout.slice(0, 200);
      } finally {
        proxy.unblock();
      }
      expect(answer).toBe('410 Gone');
      await converged('410 Gone');
    }
  });

  it('keeps its status and finalizer right while other writers race it', async () => {
    const [target] = alive();
    const name = target!;
    let stop = false;
    let scribbles = 0;
    const scribbler = (async () => {
      while (!stop) {
        await kubectlAsync(
          [
            'patch',
            'downloader',
            name,
            '-n',
            namespace,
            '--subresource=status',
            '--type=merge',
            '-p',
            JSON.stringify({ status: { resources: { restApiId: 'scribbled' } } }),
          ],
          { kubeconfig },
        );
        await kubectlAsync(
          [
            'patch',
            'downloader',
            name,
            '-n',
            namespace,
            '--type=json',
            '-p',
            JSON.stringify([
              {
                op: 'add',
                path: '/metadata/finalizers/-',
                value: `example.com/other-${scribbles}`,
              },
            ]),
          ],
          { kubeconfig },
        );
        scribbles += 1;
      }
    })();
    for (let i = 0; i < 4; i++) {
      await change([], [name], []);
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    stop = true;
    await scribbler;
    figures.scribbles = scribbles;

    // Status writes by others do not start a reconcile; the next change does, and heals it.
    await kubectlOkAsync(
      ['annotate', 'downloader', name, '-n', namespace, `test/nudge=${Date.now()}`, '--overwrite'],
      { kubeconfig },
    );
    // Ready and the latest spec were on the status already: wait for the heal itself (a
    // shared REST API carries no owner tag, so the census finds it only through the status).
    const healed = await eventually(
      'the scribbled status to be healed',
      async () => {
        const d = (await listDownloaders(namespace, kubeconfig)).get(name);
        return d && d.status?.resources?.restApiId !== 'scribbled' ? d : undefined;
      },
      60_000,
      500,
    );
    await converged('status and finalizers raced');
    expect(conditionOf(healed, 'Ready')?.status).toBe('True');
    expect(healed.metadata.finalizers).toEqual(
      expect.arrayContaining(['downloader.dev/cleanup', 'example.com/other-0']),
    );

    // Deleting it: the operator cleans up and takes only its own finalizer off.
    await kubectlOkAsync(['delete', 'downloader', name, '-n', namespace, '--wait=false'], {
      kubeconfig,
    });
    revisions.delete(name);
    const released = await eventually('the operator to release its finalizer', async () => {
      const d = (await listDownloaders(namespace, kubeconfig)).get(name);
      return d && !d.metadata.finalizers?.includes('downloader.dev/cleanup') ? d : undefined;
    });
    expect(released.metadata.finalizers?.length).toBe(scribbles);
    await kubectlOkAsync(
      [
        'patch',
        'downloader',
        name,
        '-n',
        namespace,
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ],
      { kubeconfig },
    );
    await converged('status and finalizers raced');
  });

  it('never crashed nor logged an error, and deletes everything at the end', async () => {
    const log = summarizeLog(operator.lines());
    figures.watchRestarts = operator.lines().filter((l) => l.includes('watch failed')).length;
    figures.reconcileRetries = log.retries;
    figures.errorLines = log.errors.length;
    expect(log.errors).toEqual([]);
    expect(operator.child.exitCode).toBeNull();

    await kubectlOkAsync(['delete', 'downloaders', '--all', '-n', namespace, '--wait=false'], {
      kubeconfig,
    });
    revisions.clear();
    await converged('deleted all');
    expect(censusSize(await census.ofNamespace(namespace))).toEqual({
      restApis: 0,
      stateMachines: 0,
      schedules: 0,
      roles: 0,
    });
  });
});

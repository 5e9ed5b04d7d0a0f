import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A Kubernetes API server (with its etcd) of one test's own, for tests that stop, restart or
 * compact it: the suite's shared cloud is never disturbed. AWS stays the shared one.
 */
export interface PrivateKube {
  dir: string;
  kubeconfig: string;
  /** https://127.0.0.1:<port> */
  apiUrl: string;
  apiPort: number;
  /** http://127.0.0.1:<port>, etcd's client URL (its HTTP gateway serves /v3/...). */
  etcdUrl: string;
  /** Runs test/env/restart-apiserver.sh: the same flags, the same port. */
  apiServer(action: 'restart' | 'stop' | 'start'): Promise<void>;
  /** Compacts etcd's history up to its current revision; returns that revision. */
  compactEtcd(): Promise<number>;
  /** The same kubeconfig, pointed at another port of 127.0.0.1 (a proxy in front). */
  kubeconfigVia(port: number): string;
  stop(): Promise<void>;
}

const SCRIPTS = join(process.cwd(), 'test', 'env');

async function bash(script: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  await run('bash', [join(SCRIPTS, script), ...args], { env, maxBuffer: 16 * 1024 * 1024 });
}

/** Starts etcd and kube-apiserver in `dir` (start-kube.sh) and installs the CRD. */
export async function startPrivateKube(dir: string): Promise<PrivateKube> {
  await bash('start-kube.sh', [dir]);
  const kubeconfig = join(dir, 'kubeconfig');
  const env = { ...process.env, KUBECONFIG: kubeconfig };
  await run('kubectl', ['apply', '--server-side', '-f', 'crds/'], { env });
  await run(
    'kubectl',
    [
      'wait',
      '--for',
      'condition=Established',
      '--timeout',
      '60s',
      'crd/downloaders.downloader.dev',
    ],
    { env },
  );

  const config = readFileSync(kubeconfig, 'utf8');
  const apiUrl = /server: (\S+)/.exec(config)?.[1] ?? '';
  const apiPort = Number(new URL(apiUrl).port);
  const pid = readFileSync(join(dir, 'pids', 'kube-apiserver.pid'), 'utf8').trim();
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const etcdUrl = args[args.indexOf('--etcd-servers') + 1] ?? '';

  const etcd = async (path: string, body: unknown) => {
    const response = await fetch(`${etcdUrl}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`etcd ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { header?: { revision?: string } };
  };

  return {
    dir,
    kubeconfig,
    apiUrl,
    apiPort,
    etcdUrl,
    apiServer: (action) => bash('restart-apiserver.sh', [dir, action]),
    async compactEtcd() {
      const status = await etcd('/v3/kv/range', { key: Buffer.from('/').toString('base64') });
      const revision = Number(status.header?.revision ?? 0);
      await etcd('/v3/kv/compaction', { revision: String(revision), physical: true });
      return revision;
    },
    kubeconfigVia(port) {
      const path = join(dir, `kubeconfig-via-${port}`);
      writeFileSync(path, config.replace(apiUrl, `https://127.0.0.1:${port}`));
      return path;
    },
    async stop() {
      await bash('stop-kube.sh', [dir]).catch(() => undefined);
      if (!process.env.KEEP_TEST_CLOUD_LOGS) rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { CHART_DIR } from '../../../scripts/gen-manifests.js';
import { kubectl } from '../kubectl.js';

/**
 * How long a beforeAll may take to build helm: about 4 minutes on 2 cores with empty Go caches,
 * a second once it is in the cache.
 */
export const HELM_BUILD_TIMEOUT_MS = 20 * 60_000;

/**
 * Builds helm once per machine (test/env/build-helm.sh, cached and locked) and puts it first on
 * PATH for this test file; returns the executable's path. Children get this PATH only when given
 * process.env explicitly: Jest's process.env is the test's own copy.
 */
export function buildHelm(): string {
  const binDir = execFileSync('bash', ['test/env/build-helm.sh'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: HELM_BUILD_TIMEOUT_MS,
  }).trim();
  process.env.PATH = `${binDir}${delimiter}${process.env.PATH ?? ''}`;
  return join(binDir, 'helm');
}

/** What one helm or kubectl run printed and how it ended. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): RunResult {
  const run = spawnSync('helm', args, { encoding: 'utf8', timeout: 60_000, env: process.env });
  return { code: run.status ?? -1, stdout: run.stdout ?? '', stderr: run.stderr ?? '' };
}

/** The chart's values, as a file helm reads with `-f`. */
export function valuesFile(values: object): string {
  const path = join(mkdtempSync(join(tmpdir(), 'chart-values-')), 'values.yaml');
  // YAML 1.1, as helm reads it: a string such as 'off' must stay quoted.
  writeFileSync(path, stringify(values, { version: '1.1' }));
  return path;
}

/** Options of one `helm template`. */
export interface Render {
  release?: string;
  namespace: string;
  values?: object;
}

/** `helm template` of the chart; throws with helm's own words when it fails. */
export function template({ release = 'downloader-operator', namespace, values = {} }: Render) {
  const args = ['template', release, CHART_DIR, '--namespace', namespace];
  const result = helm([...args, '-f', valuesFile(values)]);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** A Kubernetes object as rendered, with the fields the tests read. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The objects of a multi-document YAML stream. */
export function objects(yaml: string): KubeObject[] {
  return parseAllDocuments(yaml)
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

export function only(list: KubeObject[], kind: string): KubeObject {
  const found = list.filter((object) => object.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

/** The parts of a rendered Deployment the tests look at. */
export interface Container {
  args?: string[];
  command?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  securityContext?: Record<string, unknown>;
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  ports?: Array<{ name: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

export interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: Array<{ name: string; emptyDir?: unknown }>;
}

export function podSpec(deployment: KubeObject): PodSpec {
  return (deployment as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

/** The operator container's environment, name -> value, for variables with a literal value. */
export function literalEnv(deployment: KubeObject): Record<string, string> {
  const env = podSpec(deployment).containers[0]?.env ?? [];
  return Object.fromEntries(
    env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value ?? '']),
  );
}

/** `kubectl apply --server-side` of a YAML stream, optionally as a server-side dry run. */
export function applyServerSide(yaml: string, dryRun: boolean): RunResult {
  return kubectl(
    ['apply', '--server-side', '--force-conflicts', ...(dryRun ? ['--dry-run=server'] : [])].concat(
      ['-f', '-'],
    ),
    yaml,
  );
}

/** Creates a namespace for real if it is not there, labelled to warn on Pod Security. */
export function ensureNamespace(name: string, labels: Record<string, string> = {}): void {
  const manifest = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: {
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/warn': 'restricted',
        ...labels,
      },
    },
  };
  const result = applyServerSide(stringify(manifest), false);
  if (result.code !== 0) throw new Error(`could not create namespace ${name}: ${result.stderr}`);
}

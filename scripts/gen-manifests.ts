/**
 * Writes what the Helm chart and the plain install are made of, from their single sources:
 *
 * - `charts/downloader-operator/crds/`: a copy of `crds/` (made by `npm run gen:crd`);
 * - `Chart.yaml`'s version and appVersion: package.json's version;
 * - from OPTIONS (src/config.ts), each operator option as a value: `templates/_options.tpl` (its
 *   environment variable), the `config` block of values.yaml (its default, documented) and of
 *   values.schema.json (its type);
 * - `manifests/`: `helm template` of the chart with default values, plus the Namespace, split
 *   into one file per part, so `kubectl apply -f manifests/` installs what the chart installs.
 *
 * `npm run gen:manifests` writes them; `-- --check` writes nothing and fails, naming the stale
 * files. helm is $HELM, else the one test/env/build-helm.sh builds (and caches), so every run
 * renders with the same helm version.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OPTIONS } from '../src/config.js';

export const CHART_DIR = 'charts/downloader-operator';
export const MANIFESTS_DIR = 'manifests';
export const RELEASE_NAME = 'downloader-operator';
export const INSTALL_NAMESPACE = 'downloader-operator';

/**
 * Options the chart sets from other values than `config`, and where. Every other option of
 * OPTIONS is a key of `config` in values.yaml, passed as its environment variable.
 */
export const CHART_OWNED_OPTIONS = {
  namespaces: 'watchNamespaces (and the Roles it renders)',
  leaderElect: 'leaderElection.enabled (--leader-elect)',
  metricsAddress: 'metrics.port (--metrics-address 0.0.0.0:<port>, probed by the kubelet)',
  identity: "the pod's name (POD_NAME, from the downward API): each replica needs its own",
} as const satisfies Partial<Record<keyof typeof OPTIONS, string>>;

type OptionName = keyof typeof OPTIONS;
interface Option {
  flag: string;
  env: string;
  description: string;
  default?: string;
}

/** The option names that are keys of `config` in values.yaml. */
export function configOptionNames(): OptionName[] {
  return (Object.keys(OPTIONS) as OptionName[]).filter((name) => !(name in CHART_OWNED_OPTIONS));
}

/** How a value of `config` is typed in values.yaml; every kind passes as a string in the env. */
export type ValueKind = 'boolean' | 'seconds' | 'integer' | 'list' | 'string';

/** Kinds the description and default cannot tell. */
const KINDS: Partial<Record<OptionName, ValueKind>> = { concurrency: 'integer' };

const ARN = { type: 'string', pattern: '^$|^arn:aws[a-z-]*:iam::' };

/** Narrower schemas than the kind's, for values whose form is known. */
const SCHEMAS: Partial<Record<OptionName, object>> = {
  apigwInvokeEndpointTemplate: { type: 'string', pattern: '^$|\\{restApiId\\}' },
  stateMachineRoleArn: ARN,
  schedulerRoleArn: ARN,
  permissionsBoundaryArn: ARN,
  leaseName: { $ref: '#/definitions/nonEmptyString' },
  leaseNamespace: { anyOf: [{ const: '' }, { $ref: '#/definitions/dnsLabel' }] },
  logLevel: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
};

export function valueKind(name: OptionName): ValueKind {
  const option: Option = OPTIONS[name];
  const kind = KINDS[name];
  if (kind) return kind;
  if (option.default === 'true' || option.default === 'false') return 'boolean';
  if (option.description.startsWith('seconds')) return 'seconds';
  if (option.description.startsWith('comma-separated')) return 'list';
  return 'string';
}

/** The value of `config.<name>` in values.yaml: the operator's default, typed. */
export function defaultValue(name: OptionName): boolean | number | string | string[] {
  const text = (OPTIONS[name] as Option).default ?? '';
  switch (valueKind(name)) {
    case 'boolean':
      return text === 'true';
    case 'seconds':
    case 'integer':
      return Number(text);
    case 'list':
      return text.split(',').filter(Boolean);
    case 'string':
      return text;
  }
}

function valueSchema(name: OptionName): object {
  const custom = SCHEMAS[name];
  if (custom) return custom;
  switch (valueKind(name)) {
    case 'boolean':
      return { type: 'boolean' };
    case 'seconds':
      return { $ref: '#/definitions/seconds' };
    case 'integer':
      return { type: 'integer', minimum: 1 };
    case 'list':
      return { type: 'array', items: { type: 'string', minLength: 1 } };
    case 'string':
      return { type: 'string' };
  }
}

/** Comment lines of at most 100 characters, the first one marked `-- ` as helm-docs reads. */
function commentLines(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = `${indent}# --`;
  for (const word of text.split(' ')) {
    if (line.length + word.length + 1 > 100) {
      lines.push(line);
      line = `${indent}#`;
    }
    line += ` ${word}`;
  }
  return [...lines, line];
}

/** templates/_options.tpl: a YAML map from `config` key to environment variable. */
export function optionsTemplate(): string {
  const lines = configOptionNames().map((name) => `${name}: ${OPTIONS[name].env}`);
  return [
    '{{/*',
    'Generated by `npm run gen:manifests` from OPTIONS in src/config.ts. Do not edit.',
    "The environment variable of each operator option, by its key in values.yaml's config.",
    '*/}}',
    '{{- define "downloader-operator.optionEnv" -}}',
    ...lines,
    '{{- end }}',
    '',
  ].join('\n');
}

/** values.yaml with its `config` block made from OPTIONS: each option, documented. */
export function valuesYaml(current: string): string {
  const lines = current.split('\n');
  const start = lines.indexOf('config:');
  if (start < 0) throw new Error('values.yaml has no top-level config:');
  let end = start + 1;
  while (end < lines.length && (lines[end] === '' || lines[end]?.startsWith(' '))) end += 1;
  while (lines[end - 1] === '') end -= 1;
  const block = ['  # Generated by `npm run gen:manifests` from OPTIONS in src/config.ts.'];
  for (const name of configOptionNames()) {
    const option: Option = OPTIONS[name];
    // The value is typed here: a list, not a comma-separated string; a boolean, not a word.
    const description = option.description
      .replace(/^comma-separated (.*)$/, 'list of $1')
      .replace(/ \(true or false\)$/, '');
    block.push(...commentLines(`${description} (${option.env}).`, '  '));
    block.push(`  ${name}: ${JSON.stringify(defaultValue(name))}`);
  }
  return [...lines.slice(0, start + 1), ...block, ...lines.slice(end)].join('\n');
}

/** values.schema.json with the schema of `config` made from OPTIONS, unknown keys refused. */
export function valuesSchema(current: string): string {
  const schema = JSON.parse(current) as {
    properties: Record<string, { properties?: Record<string, object> }>;
  };
  const config = schema.properties.config;
  if (!config) throw new Error('values.schema.json has no properties.config');
  config.properties = Object.fromEntries(configOptionNames().map((n) => [n, valueSchema(n)]));
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** Chart.yaml with its version and appVersion set to `version`. */
export function chartYaml(current: string, version: string): string {
  return current
    .replace(/^version: .*$/m, `version: ${version}`)
    .replace(/^appVersion: .*$/m, `appVersion: "${version}"`);
}

const HEADER =
  '# Generated by `npm run gen:manifests` from charts/downloader-operator with default values.\n' +
  '# Do not edit: change the chart and run it again.\n';

const NAMESPACE = `apiVersion: v1
kind: Namespace
metadata:
  name: ${INSTALL_NAMESPACE}
  labels:
    app.kubernetes.io/name: downloader-operator
    # The operator's pod meets the restricted Pod Security Standard.
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
`;

/** Which file of manifests/ each kind goes in; the prefix orders `kubectl apply -f`. */
const FILE_OF_KIND: Record<string, string> = {
  CustomResourceDefinition: '01-crd.yaml',
  ServiceAccount: '02-rbac.yaml',
  ClusterRole: '02-rbac.yaml',
  ClusterRoleBinding: '02-rbac.yaml',
  Role: '02-rbac.yaml',
  RoleBinding: '02-rbac.yaml',
  Deployment: '03-deployment.yaml',
  PodDisruptionBudget: '04-poddisruptionbudget.yaml',
  Service: '05-service.yaml',
};

/**
 * Splits `helm template` output into the files of manifests/. The labels saying Helm manages an
 * object are dropped: kubectl does here, and Helm would refuse to adopt objects claiming so.
 */
export function splitManifests(rendered: string): Map<string, string> {
  const files = new Map<string, string[]>([['00-namespace.yaml', [NAMESPACE]]]);
  for (const chunk of rendered.split(/^---\s*$/m)) {
    const text = chunk
      .split('\n')
      .filter((line) => !/^\s*(helm\.sh\/chart|app\.kubernetes\.io\/managed-by):/.test(line))
      .join('\n')
      .trim();
    const kind = /^kind: (\S+)$/m.exec(text)?.[1];
    if (!kind) continue;
    const file = FILE_OF_KIND[kind];
    if (!file) throw new Error(`no file of manifests/ for kind ${kind}: add it to FILE_OF_KIND`);
    files.set(file, [...(files.get(file) ?? []), `${text}\n`]);
  }
  return new Map(
    [...files].sort().map(([file, docs]) => [file, HEADER + docs.map((d) => `---\n${d}`).join('')]),
  );
}

/** Runs helm; `helmBin` is the helm executable. */
export function helm(helmBin: string, args: string[]): string {
  return execFileSync(helmBin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The helm this repository renders with: $HELM, else the one build-helm.sh builds. */
export function findHelm(): string {
  if (process.env.HELM) return process.env.HELM;
  const binDir = execFileSync('bash', ['test/env/build-helm.sh'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return join(binDir, 'helm');
}

/** The generated files of the chart itself, path -> content. */
export function chartSources(): Map<string, string> {
  const sources = new Map<string, string>();
  for (const name of readdirSync('crds')) {
    sources.set(join(CHART_DIR, 'crds', name), readFileSync(join('crds', name), 'utf8'));
  }
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  const chartPath = join(CHART_DIR, 'Chart.yaml');
  sources.set(chartPath, chartYaml(readFileSync(chartPath, 'utf8'), version));
  sources.set(join(CHART_DIR, 'templates', '_options.tpl'), optionsTemplate());
  const valuesPath = join(CHART_DIR, 'values.yaml');
  sources.set(valuesPath, valuesYaml(readFileSync(valuesPath, 'utf8')));
  const schemaPath = join(CHART_DIR, 'values.schema.json');
  sources.set(schemaPath, valuesSchema(readFileSync(schemaPath, 'utf8')));
  return sources;
}

/**
 * Every generated file, path -> content, as this script would write them now. manifests/ is
 * rendered from the chart on disk, so the chart's own sources must be current first.
 */
export function expectedFiles(helmBin: string): Map<string, string> {
  const files = chartSources();
  const rendered = helm(helmBin, [
    'template',
    RELEASE_NAME,
    CHART_DIR,
    '--namespace',
    INSTALL_NAMESPACE,
    '--include-crds',
  ]);
  for (const [file, content] of splitManifests(rendered)) {
    files.set(join(MANIFESTS_DIR, file), content);
  }
  return files;
}

/** Files whose content differs from `expected`, plus generated files that should not exist. */
export function staleFiles(expected: Map<string, string>): string[] {
  const stale = [...expected]
    .filter(([path, content]) => !existsSync(path) || readFileSync(path, 'utf8') !== content)
    .map(([path]) => path);
  for (const dir of [MANIFESTS_DIR, join(CHART_DIR, 'crds')]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (!expected.has(join(dir, name))) stale.push(join(dir, name));
    }
  }
  return stale;
}

function writeFiles(helmBin: string): void {
  for (const [path, content] of chartSources()) write(path, content);
  const expected = expectedFiles(helmBin);
  for (const path of staleFiles(expected)) {
    if (!expected.has(path)) {
      rmSync(path);
      console.log(`removed ${path}`);
    }
  }
  for (const [path, content] of expected) write(path, content);
}

function write(path: string, content: string): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  console.log(`wrote ${path}`);
}

function main(): void {
  const helmBin = findHelm();
  if (!process.argv.includes('--check')) {
    writeFiles(helmBin);
    return;
  }
  const stale = staleFiles(expectedFiles(helmBin));
  if (stale.length > 0) {
    console.error(`stale, run \`npm run gen:manifests\`:\n  ${stale.join('\n  ')}`);
    process.exit(1);
  }
  console.log('the chart sources and manifests/ are current');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import type { Downloader } from '../../../src/api/downloader.js';
import { kubectl, kubectlOk } from '../kubectl.js';
import { eventually } from '../operator-process.js';

/** The EVE example, pointed at the stand-in API and renamed for one test. */
export function eveExample(name: string, tableName: string): Downloader {
  const example = parse(readFileSync('examples/eve-player-count.yaml', 'utf8')) as Downloader;
  example.metadata.name = name;
  example.spec.source.url = process.env.UPSTREAM_URL ?? '';
  example.spec.table.name = tableName;
  return example;
}

export function apply(namespace: string, downloader: unknown): void {
  kubectlOk(['apply', '-n', namespace, '-f', '-'], stringify(downloader));
}

export function getDownloader(namespace: string, name: string): Downloader | undefined {
  const result = kubectl(['get', 'downloader', name, '-n', namespace, '-o', 'json']);
  if (result.code !== 0) return undefined;
  return JSON.parse(result.stdout) as Downloader;
}

export function condition(d: Downloader | undefined, type: string) {
  return d?.status?.conditions?.find((c) => c.type === type);
}

/** The Downloader once its Ready condition is True for its current generation. */
export function readyDownloader(namespace: string, name: string): Downloader | undefined {
  const d = getDownloader(namespace, name);
  const ready = condition(d, 'Ready');
  return ready?.status === 'True' && ready.observedGeneration === d?.metadata.generation
    ? d
    : undefined;
}

/** Creates or replaces the Secret `name` with `stringData`. */
export function applySecret(
  namespace: string,
  name: string,
  stringData: Record<string, string>,
): void {
  kubectlOk(
    ['apply', '-n', namespace, '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData }),
  );
}

/** `auth` sending the Secret's `token` key as `Authorization: Bearer <value>`. */
export function bearerAuth(secretName: string): NonNullable<Downloader['spec']['source']['auth']> {
  return {
    secretRef: { name: secretName, key: 'token' },
    header: 'Authorization',
    prefix: 'Bearer ',
  };
}

/** Sets the run-now annotation of the Downloader to `value`. */
export function annotateRunNow(namespace: string, name: string, value: string): void {
  kubectlOk([
    'annotate',
    '-n',
    namespace,
    `downloader/${name}`,
    `downloader.dev/run-now=${value}`,
    '--overwrite',
  ]);
}

/**
 * Starts one run with run-now `value` and waits until the status shows it took the value and
 * its last execution finished; returns the Downloader then.
 */
export async function runNow(namespace: string, name: string, value: string): Promise<Downloader> {
  annotateRunNow(namespace, name, value);
  return eventually(`the execution of run-now ${value} of ${name}`, () => {
    const d = getDownloader(namespace, name);
    const status = d?.status?.lastExecution?.status;
    return d?.status?.lastRunNow === value && status && status !== 'RUNNING' ? d : undefined;
  });
}

/** The Events recorded about one Downloader, as `kubectl describe` lists them. */
export function eventsFor(
  namespace: string,
  name: string,
): Array<{ type: string; reason: string; message: string; count?: number }> {
  const list = JSON.parse(
    kubectlOk([
      'get',
      'events',
      '-n',
      namespace,
      '--field-selector',
      `involvedObject.kind=Downloader,involvedObject.name=${name}`,
      '-o',
      'json',
    ]),
  ) as { items: Array<{ type: string; reason: string; message: string; count?: number }> };
  return list.items.map(({ type, reason, message, count }) => ({ type, reason, message, count }));
}

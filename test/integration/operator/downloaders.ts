import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import type { Downloader } from '../../../src/api/downloader.js';
import { kubectl, kubectlOk } from '../kubectl.js';

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

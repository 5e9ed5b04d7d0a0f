import type { V1Secret } from '@kubernetes/client-node';
import type { Downloader } from '../api/downloader.js';
import { TerminalError } from '../errors.js';
import { REASONS } from './conditions.js';

/** Reads Secrets of a namespace, from the informer's cache. */
export interface SecretReader {
  get(namespace: string, name: string): V1Secret | undefined;
}

/**
 * The header value the proxy must send (prefix + the Secret's value), or undefined when the
 * Downloader has no auth. The Downloader's own namespace is the only one ever read: the API
 * rejects a secretRef naming another. Missing Secret or key is terminal until the Secret
 * appears or changes (the Secret informer requeues the Downloader then).
 */
export async function resolveAuthValue(
  downloader: Downloader,
  secrets: SecretReader,
): Promise<string | undefined> {
  const auth = downloader.spec.source.auth;
  if (!auth) return undefined;
  const namespace = downloader.metadata.namespace ?? '';
  const { name, key } = auth.secretRef;
  const secret = secrets.get(namespace, name);
  if (!secret) {
    throw new TerminalError(
      REASONS.secretNotFound,
      `Secret ${namespace}/${name} named by spec.source.auth.secretRef does not exist; create it`,
    );
  }
  const encoded = secret.data?.[key];
  if (encoded === undefined) {
    throw new TerminalError(
      REASONS.secretKeyNotFound,
      `Secret ${namespace}/${name} has no key "${key}" (spec.source.auth.secretRef.key); ` +
        `it has: ${Object.keys(secret.data ?? {}).join(', ') || 'no keys'}`,
    );
  }
  return `${auth.prefix}${Buffer.from(encoded, 'base64').toString('utf8')}`;
}

/** Shortest credential that is masked in text: shorter ones would mask ordinary words. */
const MIN_MASKED_LENGTH = 4;

/**
 * The Downloader's credential as text a source could send back, for masking in what the
 * operator copies from executions (a failure's cause is the source's answer, and some sources
 * echo request headers in their error bodies): the header value, the Secret's value alone, and
 * both as they appear inside JSON strings. [] without auth or while the Secret is missing.
 */
export function credentialValues(downloader: Downloader, secrets: SecretReader): string[] {
  const auth = downloader.spec.source.auth;
  if (!auth) return [];
  const secret = secrets.get(downloader.metadata.namespace ?? '', auth.secretRef.name);
  const encoded = secret?.data?.[auth.secretRef.key];
  if (encoded === undefined) return [];
  const value = Buffer.from(encoded, 'base64').toString('utf8');
  const values = new Set<string>();
  for (const text of [`${auth.prefix}${value}`, value]) {
    values.add(text);
    values.add(JSON.stringify(text).slice(1, -1));
  }
  // Longest first, so that a value containing another is masked whole.
  return [...values]
    .filter((v) => v.length >= MIN_MASKED_LENGTH)
    .sort((a, b) => b.length - a.length);
}

import { TerminalError } from '../errors.js';

/** Condition reason when a Downloader's source host is not on the administrator's allow-list. */
export const SOURCE_HOST_NOT_ALLOWED = 'SourceHostNotAllowed';

/**
 * True when `host` is on `allowed`: an exact host name, or `*.example.com` for any host below
 * example.com (not example.com itself). Comparison ignores case; an empty list allows all.
 */
export function isHostAllowed(host: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const name = host.toLowerCase();
  return allowed.some((entry) => {
    const pattern = entry.toLowerCase();
    return pattern.startsWith('*.') ? name.endsWith(pattern.slice(1)) : name === pattern;
  });
}

/**
 * Refuses a source whose host is not allowed. Terminal: only the spec or the operator's
 * configuration can change the answer. Admission cannot check this, since the list is the
 * operator's configuration, not the cluster's.
 */
export function checkSourceHost(url: string, allowed: readonly string[]): void {
  if (allowed.length === 0) return;
  const host = new URL(url).hostname;
  if (isHostAllowed(host, allowed)) return;
  throw new TerminalError(
    SOURCE_HOST_NOT_ALLOWED,
    `spec.source.url host ${host} is not on the operator's allow-list (${allowed.join(', ')}); ` +
      'ask the administrator to add it or use an allowed host',
  );
}

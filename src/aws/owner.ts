import { createHash } from 'node:crypto';

/** The Downloader an AWS resource belongs to. AWS modules see only this, never Kubernetes. */
export interface Owner {
  namespace: string;
  name: string;
  uid: string;
}

/** Tag keys put on every AWS resource the operator creates, so it can find them after a crash. */
export const TAG_KEYS = {
  managedBy: 'downloader.dev/managed-by',
  namespace: 'downloader.dev/namespace',
  name: 'downloader.dev/name',
  uid: 'downloader.dev/uid',
} as const;

export const MANAGED_BY = 'downloader-operator';

/** The tags naming `owner`. */
export function ownerTags(owner: Owner): Record<string, string> {
  return {
    [TAG_KEYS.managedBy]: MANAGED_BY,
    [TAG_KEYS.namespace]: owner.namespace,
    [TAG_KEYS.name]: owner.name,
    [TAG_KEYS.uid]: owner.uid,
  };
}

/** True when `tags` say the resource was created for exactly this Downloader (same UID). */
export function isOwnedBy(tags: Record<string, string> | undefined, owner: Owner): boolean {
  return tags?.[TAG_KEYS.uid] === owner.uid;
}

/**
 * A deterministic AWS resource name for `owner`: readable (`dl-<namespace>-<name>`, cut to fit),
 * then a suffix from the UID so that a Downloader deleted and created again under the same name
 * never collides with what its predecessor left, and the same Downloader always gets the same
 * name: after a crash, the resource is found by name instead of being created twice.
 *
 * `allowed` is the character class AWS accepts for this kind of name; others become '-'.
 */
export function resourceName(
  owner: Owner,
  suffix: string,
  maxLength: number,
  allowed = /[^A-Za-z0-9_-]/g,
): string {
  const id = createHash('sha256').update(owner.uid).digest('hex').slice(0, 8);
  const tail = `-${id}${suffix ? `-${suffix}` : ''}`;
  const head = `dl-${owner.namespace}-${owner.name}`.replace(allowed, '-');
  return head.slice(0, Math.max(1, maxLength - tail.length)) + tail;
}

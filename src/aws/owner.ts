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
  /**
   * On a REST API shared by Downloaders (see src/controller/shared-proxy.ts): the hash of the
   * share key, which with the namespace tag finds the API after a crash. Such an API has no
   * name or uid tag: it belongs to no single Downloader.
   */
  shareKey: 'downloader.dev/share-key',
  /** On a shared REST API: the operator's scope (its label selector's hash, or `all`). */
  shareScope: 'downloader.dev/share-scope',
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

/** What identifies a REST API shared by the Downloaders of one namespace with one share key. */
export interface ShareOwner {
  namespace: string;
  /** Hash of the share key (hex), see src/controller/shared-proxy.ts. */
  keyHash: string;
  /** The operator's scope, so operators with disjoint label selectors never share. */
  scope: string;
}

/** The tags of a shared REST API: managed-by, namespace and share key, no single owner. */
export function shareTags(share: ShareOwner): Record<string, string> {
  return {
    [TAG_KEYS.managedBy]: MANAGED_BY,
    [TAG_KEYS.namespace]: share.namespace,
    [TAG_KEYS.shareKey]: share.keyHash,
    [TAG_KEYS.shareScope]: share.scope,
  };
}

/** True when `tags` are the operator's tags of the shared API for `share`. */
export function isSharedAs(tags: Record<string, string> | undefined, share: ShareOwner): boolean {
  return (
    tags?.[TAG_KEYS.managedBy] === MANAGED_BY &&
    tags[TAG_KEYS.namespace] === share.namespace &&
    tags[TAG_KEYS.shareKey] === share.keyHash &&
    tags[TAG_KEYS.shareScope] === share.scope
  );
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

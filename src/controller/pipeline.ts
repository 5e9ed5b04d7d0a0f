import type { Logger } from 'pino';
import type { Downloader } from '../api/downloader.js';
import type { Owner } from '../aws/owner.js';
import type { ResourceManager } from '../aws/resource.js';
import type { EventRecorder } from '../kube/events.js';

/**
 * Brings one AWS resource to its desired state: observe, diff, and apply only when something is
 * missing or different, so that steady state makes no mutating call. Records an Event and an
 * info log line for each change, naming the fields that changed (never their values).
 */
export async function ensureResource<D extends { name: string }, O>(
  manager: ResourceManager<D, O>,
  owner: Owner,
  desired: D,
  context: { downloader: Downloader; events: EventRecorder; log: Logger },
): Promise<O> {
  const { downloader, events, log } = context;
  const observed = await manager.observe(owner, desired);
  if (observed === undefined) {
    const created = await manager.apply(owner, desired, undefined);
    log.info({ kind: manager.kind, resource: desired.name }, 'created AWS resource');
    events.record(downloader, 'Normal', 'Created', `Created ${manager.kind} ${desired.name}`);
    return created;
  }
  const changes = manager.diff(desired, observed);
  if (changes.length === 0) {
    log.debug({ kind: manager.kind, resource: desired.name }, 'AWS resource up to date');
    return observed;
  }
  const updated = await manager.apply(owner, desired, observed);
  log.info({ kind: manager.kind, resource: desired.name, changes }, 'updated AWS resource');
  events.record(
    downloader,
    'Normal',
    'Updated',
    `Updated ${manager.kind} ${desired.name}: ${changes.join(', ')}`,
  );
  return updated;
}

/**
 * Deletes one AWS resource if it exists; absent counts as deleted. Records an Event when
 * something was deleted.
 */
export async function removeResource<D extends { name: string }, O>(
  manager: ResourceManager<D, O>,
  owner: Owner,
  desired: D,
  context: { downloader: Downloader; events: EventRecorder; log: Logger },
): Promise<boolean> {
  const observed = await manager.observe(owner, desired);
  if (observed === undefined) return false;
  await manager.delete(owner, observed);
  context.log.info({ kind: manager.kind, resource: desired.name }, 'deleted AWS resource');
  context.events.record(
    context.downloader,
    'Normal',
    'Deleted',
    `Deleted ${manager.kind} ${desired.name}`,
  );
  return true;
}

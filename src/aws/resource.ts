import type { Owner } from './owner.js';

/**
 * One AWS resource kind behind one small interface. The reconciler calls, in order: observe,
 * diff, apply (only when observe found nothing or diff found something), and delete on cleanup.
 * Implementations know nothing of Kubernetes; they throw TerminalError or RequeueAfter (see
 * src/errors.ts) for what retrying cannot fix or what needs waiting, and let other AWS errors
 * through unchanged for the controller to classify and retry.
 *
 * Rules callers rely on:
 * - observe returns undefined when the resource does not exist; it never creates anything.
 * - diff is pure and returns the names of the fields that differ (never their values: a value
 *   may be a secret), empty in steady state. Steady state therefore makes no mutating call.
 * - apply is idempotent: run twice, or after a crash half-way, it converges to one resource.
 * - delete treats an absent resource as deleted, and deletes only what the operator created.
 */
export interface ResourceManager<Desired, Observed> {
  /** Kind name used in logs, events and metrics, for example "Table". */
  readonly kind: string;
  observe(owner: Owner, desired: Desired): Promise<Observed | undefined>;
  diff(desired: Desired, observed: Observed): string[];
  apply(owner: Owner, desired: Desired, observed: Observed | undefined): Promise<Observed>;
  delete(owner: Owner, observed: Observed): Promise<void>;
}

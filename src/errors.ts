/**
 * The three kinds of failure a reconcile can end in, shared by the AWS modules (which know
 * nothing of Kubernetes) and the controller (which turns them into conditions and requeues).
 *
 * - TerminalError: the spec or the world is wrong in a way retrying cannot fix (a table with
 *   other keys, a missing Secret). A condition with `reason` is set and the key is not retried
 *   until something it depends on changes.
 * - RequeueAfter: expected waiting (a table still CREATING). Not an error: logged at debug, the
 *   key comes back after `delayMs`.
 * - anything else: transient, retried with exponential backoff.
 */

/** A failure that retrying cannot fix; `reason` is a stable CamelCase condition reason. */
export class TerminalError extends Error {
  override readonly name: string = 'TerminalError';
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Expected waiting: come back after `delayMs`. `reason` is shown on the condition meanwhile. */
export class RequeueAfter extends Error {
  override readonly name = 'RequeueAfter';
  constructor(
    readonly delayMs: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function isTerminal(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

export function isRequeueAfter(err: unknown): err is RequeueAfter {
  return err instanceof RequeueAfter;
}

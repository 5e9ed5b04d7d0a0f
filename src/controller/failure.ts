import { awsErrorKind } from '../aws/errors.js';
import { isRequeueAfter, isTerminal } from '../errors.js';
import { REASONS } from './conditions.js';

/** A condition reason and message for any failure of a reconcile step. */
export interface Failure {
  reason: string;
  message: string;
}

/**
 * Turns an error into a condition reason: our own error types carry theirs; AWS errors are
 * classified by kind (never by message text); anything else is AwsError. The message keeps
 * the AWS error name, which is what users search for.
 */
export function classifyFailure(err: unknown): Failure {
  if (isTerminal(err) || isRequeueAfter(err)) return { reason: err.reason, message: err.message };
  const name = err instanceof Error ? err.name : 'Error';
  const message = err instanceof Error ? err.message : String(err);
  switch (awsErrorKind(err)) {
    case 'throttling':
      return {
        reason: REASONS.awsThrottled,
        message: `AWS throttled the request (${name}); retrying`,
      };
    case 'accessDenied':
      return {
        reason: REASONS.awsAccessDenied,
        message:
          `AWS denied the operator (${name}): ${message}. Grant the operator's role the ` +
          'permissions in the IAM policy of the install docs',
      };
    default:
      return { reason: REASONS.awsError, message: `${name}: ${message}` };
  }
}

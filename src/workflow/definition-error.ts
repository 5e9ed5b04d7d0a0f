import { TerminalError } from '../errors.js';

/**
 * Why a spec cannot be turned into a state machine. These are terminal: the same spec always
 * fails the same way, so the controller sets a condition and waits for the spec to change.
 */
export const DEFINITION_ERROR_REASONS = {
  /** An item entry has no type, several types, an unknown type or a malformed literal. */
  invalidItemMapping: 'InvalidItemMapping',
  /** A select entry is not a simple name mapped to a JSONPath. */
  invalidSelect: 'InvalidSelect',
  /** A static header is one Step Functions refuses to send (Authorization, Host, X-Amz-*...). */
  headerNotAllowed: 'HeaderNotAllowed',
  /** The source path cannot be sent as the Path of an API Gateway invocation. */
  invalidSourcePath: 'InvalidSourcePath',
  /** Pagination fields that do not fit its type (PageNumber without a page count...). */
  invalidPagination: 'InvalidPagination',
  /** A fanOut with both or neither of paths and query. */
  invalidFanOut: 'InvalidFanOut',
  /** A query parameter given twice in source.path, which the HTTP Task cannot send. */
  repeatedQueryParameter: 'RepeatedQueryParameter',
} as const;

export type DefinitionErrorReason =
  (typeof DEFINITION_ERROR_REASONS)[keyof typeof DEFINITION_ERROR_REASONS];

/**
 * DefinitionError reports a spec that admission let through but that no state machine can
 * express. `reason` is a stable CamelCase word for the condition; the message names the field.
 */
export class DefinitionError extends TerminalError {
  override readonly name: string = 'DefinitionError';

  constructor(
    override readonly reason: DefinitionErrorReason,
    message: string,
  ) {
    super(reason, message);
  }
}

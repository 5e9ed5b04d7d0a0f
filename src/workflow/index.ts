/**
 * src/workflow: pure functions from a Downloader spec to what AWS is given, with no I/O. The
 * state machine definition (ASL: one request, or pages, fan-out and lists) and the
 * classification of its failures, and the IAM policy documents of the roles. The aws/ modules
 * deploy these; the controller compares them for drift.
 */
export * from './arn.js';
export * from './asl.js';
export * from './definition.js';
export * from './definition-error.js';
export * from './error-names.js';
export * from './execution-errors.js';
export * from './item-mapping.js';
export * from './multi-request.js';
export * from './policies.js';
export * from './request-context.js';
export * from './source-request.js';

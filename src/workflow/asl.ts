/**
 * Types for the part of the Amazon States Language (JSONPath query language) the operator
 * generates: a state machine of Task states with retriers. They type what `buildDefinition`
 * returns; they are not a full model of ASL.
 */

/** Any JSON value, as found in payload templates. */
export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A payload template (`Parameters`, `ResultSelector`): keys ending in `.$` take a JSONPath or an
 * intrinsic function, other keys a literal.
 */
export interface PayloadTemplate {
  [key: string]: JsonValue;
}

/** How Step Functions randomises the delay between retries: FULL picks from [0, delay]. */
export type JitterStrategy = 'FULL' | 'NONE';

/** One entry of a state's `Retry` list. The first retrier whose ErrorEquals matches is used. */
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  /** 0 means "never retry these errors", which stops a later, wider retrier from matching them. */
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: JitterStrategy;
}

interface TaskStateBase {
  Type: 'Task';
  Comment?: string;
  Resource: string;
  Parameters?: PayloadTemplate;
  ResultSelector?: PayloadTemplate;
  /** `null` discards the task's result: the state's output is its input. */
  ResultPath?: string | null;
  TimeoutSeconds?: number;
  Retry?: Retrier[];
}

/** A Task state: either moves on to `Next` or ends the execution. */
export type TaskState = TaskStateBase &
  ({ Next: string; End?: never } | { End: true; Next?: never });

/** The states the operator generates. */
export type State = TaskState;

/** A whole state machine definition, as passed to CreateStateMachine after JSON encoding. */
export interface StateMachineDefinition {
  Comment?: string;
  StartAt: string;
  States: Record<string, State>;
}

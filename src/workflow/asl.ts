/**
 * Types for the part of the Amazon States Language (JSONPath query language) the operator
 * generates: Task states with retriers and, for pages, fan-out and lists, Pass, Choice, Map and
 * Fail states. They type what `buildDefinition` returns; they are not a full model of ASL.
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

/** How a state ends: it moves on to `Next` or ends its state machine (or Map iteration). */
export type Transition = { Next: string; End?: never } | { End: true; Next?: never };

/** Input and output filters every state but Choice, Fail and Succeed accepts. */
interface Filters {
  Comment?: string;
  InputPath?: string | null;
  /** `null` makes the output `{}`: a Map iteration that ends so adds nothing to the Map result. */
  OutputPath?: string | null;
  /** `null` discards the state's result: the state's output is its input. */
  ResultPath?: string | null;
}

interface TaskStateBase extends Filters {
  Type: 'Task';
  Resource: string;
  Parameters?: PayloadTemplate;
  ResultSelector?: PayloadTemplate;
  TimeoutSeconds?: number;
  Retry?: Retrier[];
}

/** A Task state: either moves on to `Next` or ends the execution. */
export type TaskState = TaskStateBase & Transition;

/** A Pass state: `Result` (a literal) or `Parameters` (a template) becomes its output. */
export type PassState = Filters & {
  Type: 'Pass';
  Result?: JsonValue;
  Parameters?: PayloadTemplate;
} & Transition;

/**
 * One rule of a Choice state: a comparison of `Variable` (IsPresent, IsNull, IsString,
 * StringEquals, StringMatches, NumericGreaterThan...), or `Not` of one. Only top-level rules
 * carry `Next`.
 */
export interface ChoiceRule {
  Variable?: string;
  Not?: ChoiceRule;
  IsPresent?: boolean;
  IsNull?: boolean;
  IsString?: boolean;
  IsNumeric?: boolean;
  StringEquals?: string;
  StringMatches?: string;
  NumericGreaterThan?: number;
  NumericGreaterThanEquals?: number;
  Next?: string;
}

/** A Choice state: the first rule that holds names the next state, else `Default`. */
export interface ChoiceState {
  Type: 'Choice';
  Comment?: string;
  Choices: ChoiceRule[];
  Default: string;
}

/** A Fail state: ends the execution (or Map iteration) with an error name and cause. */
export interface FailState {
  Type: 'Fail';
  Comment?: string;
  Error: string;
  Cause: string;
}

/** The states a Map state runs for each item, in the Map's own scope. */
export interface ItemProcessor {
  ProcessorConfig: { Mode: 'INLINE' };
  StartAt: string;
  States: Record<string, State>;
}

/**
 * An inline Map state: runs `ItemProcessor` once per element of the array at `ItemsPath`, at most
 * `MaxConcurrency` at once, each on the input `ItemSelector` makes (where `$$.Map.Item.Value`
 * and `$$.Map.Item.Index` are the element and its position). Its result is the array of the
 * iterations' outputs.
 */
export type MapState = Filters & {
  Type: 'Map';
  ItemsPath: string;
  ItemSelector?: PayloadTemplate;
  MaxConcurrency?: number;
  ItemProcessor: ItemProcessor;
} & Transition;

/** The states the operator generates. */
export type State = TaskState | PassState | ChoiceState | FailState | MapState;

/** A whole state machine definition, as passed to CreateStateMachine after JSON encoding. */
export interface StateMachineDefinition {
  Comment?: string;
  StartAt: string;
  States: Record<string, State>;
}

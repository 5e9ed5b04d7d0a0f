import type { Condition } from '../api/downloader-status.js';

/** Condition types on a Downloader: one per part of the pipeline, and Ready, their summary. */
export const CONDITION_TYPES = {
  proxy: 'ProxyReady',
  table: 'TableReady',
  stateMachine: 'StateMachineReady',
  schedule: 'ScheduleReady',
  ready: 'Ready',
  /** Whether the last execution succeeded; not part of Ready, which is about the pipeline. */
  lastRun: 'LastRunSucceeded',
} as const;

export type ConditionType = (typeof CONDITION_TYPES)[keyof typeof CONDITION_TYPES];

/** The part conditions, in the order the reconciler makes them. */
export const PART_CONDITIONS: readonly ConditionType[] = [
  CONDITION_TYPES.proxy,
  CONDITION_TYPES.table,
  CONDITION_TYPES.stateMachine,
  CONDITION_TYPES.schedule,
];

/** Reasons set by the controller itself; AWS modules and the workflow add their own. */
export const REASONS = {
  available: 'Available',
  reconciled: 'Reconciled',
  pending: 'Pending',
  waitingForDependency: 'WaitingForDependency',
  deleting: 'Deleting',
  secretNotFound: 'SecretNotFound',
  secretKeyNotFound: 'SecretKeyNotFound',
  awsThrottled: 'AwsThrottled',
  awsAccessDenied: 'AccessDenied',
  awsError: 'AwsError',
  lastRunFailed: 'LastRunFailed',
} as const;

export interface ConditionInput {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/**
 * Sets one condition in `conditions` (returning a new list), keeping lastTransitionTime when the
 * status did not change, as metav1.Condition users expect.
 */
export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  observedGeneration: number,
  now: Date,
): Condition[] {
  const existing = conditions.find((c) => c.type === input.type);
  const lastTransitionTime =
    existing && existing.status === input.status
      ? existing.lastTransitionTime
      : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const next: Condition = { ...input, observedGeneration, lastTransitionTime };
  const others = conditions.filter((c) => c.type !== input.type);
  return [...others, next].sort(
    (a, b) => conditionOrder(a.type) - conditionOrder(b.type) || a.type.localeCompare(b.type),
  );
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

function conditionOrder(type: string): number {
  const order: readonly string[] = [
    CONDITION_TYPES.ready,
    ...PART_CONDITIONS,
    CONDITION_TYPES.lastRun,
  ];
  const index = order.indexOf(type);
  return index === -1 ? order.length : index;
}

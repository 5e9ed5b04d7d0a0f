/**
 * A small evaluator of identity-based IAM policies, enough for the policies in iam/: Allow and
 * Deny, Action/NotAction and Resource with `*` and `?`, and the condition operators those
 * policies use (String* and Arn*, with ForAllValues/ForAnyValue and IfExists). Anything else
 * throws, so a policy using more cannot pass by accident.
 */

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: string;
  Statement: Statement[];
}

/** One authorization a request needs, with the request context's keys. */
export interface Need {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

export type Decision = 'allow' | 'deny' | 'implicitDeny';

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** IAM's wildcards: `*` any run of characters (`/` and `:` included), `?` one character. */
export function wildcard(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

function arnLike(pattern: string, value: string): boolean {
  const p = pattern.split(':');
  const v = value.split(':');
  if (p.length < 6 || v.length < 6) return false;
  const head = (parts: string[]) => [...parts.slice(0, 5), parts.slice(5).join(':')];
  return head(p).every((part, i) => wildcard(part, head(v)[i] ?? ''));
}

const TESTS: Record<string, (expected: string, actual: string) => boolean> = {
  StringEquals: (e, a) => e === a,
  StringLike: (e, a) => wildcard(e, a),
  ArnEquals: (e, a) => e === a,
  ArnLike: arnLike,
};
const NEGATED: Record<string, string> = {
  StringNotEquals: 'StringEquals',
  StringNotLike: 'StringLike',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
};

function conditionHolds(
  operatorText: string,
  key: string,
  expected: string | string[],
  context: Record<string, string | string[]>,
): boolean {
  let operator = operatorText;
  let qualifier: string | undefined;
  if (operator.includes(':')) [qualifier, operator = ''] = operator.split(':');
  const ifExists = operator.endsWith('IfExists');
  if (ifExists) operator = operator.slice(0, -'IfExists'.length);
  const negated = operator in NEGATED;
  const test = TESTS[NEGATED[operator] ?? operator];
  if (!test || (qualifier && qualifier !== 'ForAllValues' && qualifier !== 'ForAnyValue')) {
    throw new Error(`condition operator ${operatorText} is not supported here`);
  }
  const values = list(context[key]);
  const one = (value: string) => {
    const hit = list(expected).some((e) => test(e, value));
    return negated ? !hit : hit;
  };
  if (qualifier === 'ForAllValues') return values.every(one);
  if (qualifier === 'ForAnyValue') return values.some(one);
  if (!(key in context)) return ifExists || negated;
  return negated ? values.every(one) : values.some(one);
}

function applies(statement: Statement, need: Need): boolean {
  const actionHit = (patterns: string | string[] | undefined) =>
    list(patterns).some((p) => wildcard(p, need.action, true));
  if (
    statement.Action !== undefined ? !actionHit(statement.Action) : actionHit(statement.NotAction)
  )
    return false;
  if (!list(statement.Resource).some((p) => wildcard(p, need.resource))) return false;
  return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) =>
      conditionHolds(operator, key, expected, need.context ?? {}),
    ),
  );
}

/** What the policy decides for one need: an explicit deny wins, else one allow is enough. */
export function decide(policy: PolicyDocument, need: Need): Decision {
  let allowed = false;
  for (const statement of policy.Statement) {
    if (!applies(statement, need)) continue;
    if (statement.Effect === 'Deny') return 'deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'implicitDeny';
}

/** The statements that allow the need (to find what grants it, and what grants nothing). */
export function allowingStatements(policy: PolicyDocument, need: Need): Statement[] {
  return policy.Statement.filter((s) => s.Effect === 'Allow' && applies(s, need));
}

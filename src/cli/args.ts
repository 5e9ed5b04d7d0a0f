import { parseArgs } from 'node:util';

/** A command line the plugin cannot act on; the message says why, usage follows it. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Flags every command takes, as kubectl spells them. */
export interface CommonOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** A parsed command line. */
export type Command =
  | { command: 'help' }
  | ({ command: 'status'; allNamespaces: boolean; limit: number } & CommonOptions)
  | ({ command: 'runs'; name: string; limit: number } & CommonOptions)
  | ({ command: 'run'; name: string; timeoutMs: number; wait: boolean } & CommonOptions);

/** Executions shown in the status sparkline and listed by `runs`, unless --limit says otherwise. */
export const DEFAULT_LIMIT = 20;
/** How long `run` follows a run, unless --timeout says otherwise. */
export const DEFAULT_TIMEOUT_MS = 120_000;

export const USAGE = `kubectl downloader: see and run Downloaders (downloader.dev/v1alpha1).

Usage:
  kubectl downloader status [-n NAMESPACE | -A] [--limit N]
      Every Downloader with its Ready condition, schedule, last run and last success, and a
      sparkline of its last N executions (default ${DEFAULT_LIMIT}), oldest first:
      █ succeeded, ▁ failed (or timed out, or aborted), ▄ running. EXPRESS workflows keep no
      history to read: -.
  kubectl downloader runs NAME [-n NAMESPACE] [--limit N]
      The last N executions (default ${DEFAULT_LIMIT}): start, duration, status, error and cause.
  kubectl downloader run NAME [-n NAMESPACE] [--timeout DURATION] [--no-wait]
      Starts one execution now (the downloader.dev/run-now annotation) and follows it until it
      ends: exit status 0 when it SUCCEEDED, 1 otherwise. --timeout: how long to follow it
      (default ${DEFAULT_TIMEOUT_MS / 1000}s; 90, 90s, 2m, 1h). --no-wait: stop once the operator
      has started it.

Flags of every command:
  -n, --namespace NAMESPACE   the namespace (default: the context's, else default)
      --kubeconfig FILE       the kubeconfig (default: KUBECONFIG, else ~/.kube/config)
      --context CONTEXT       the kubeconfig context (default: the current one)
  -h, --help                  this help

Executions are read from Step Functions with the AWS SDK's usual configuration (AWS_PROFILE,
AWS_REGION, AWS_ENDPOINT_URL...), in the region of each state machine's ARN.
`;

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  limit: { type: 'string' },
  timeout: { type: 'string' },
  'no-wait': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Flags that only some commands take. */
const ONLY_FOR: Record<string, readonly string[]> = {
  'all-namespaces': ['status'],
  limit: ['status', 'runs'],
  timeout: ['run'],
  'no-wait': ['run'],
};

/** Parses the arguments after `kubectl downloader`. Throws UsageError on anything unknown. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') return { command: 'help' };
  if (command !== 'status' && command !== 'runs' && command !== 'run') {
    throw new UsageError(`unknown command "${command}"`);
  }
  for (const [flag, commands] of Object.entries(ONLY_FOR)) {
    if (values[flag as keyof typeof values] !== undefined && !commands.includes(command)) {
      throw new UsageError(`${command} does not take --${flag}`);
    }
  }
  if (values['all-namespaces'] && values.namespace !== undefined) {
    throw new UsageError('-A and -n exclude each other');
  }

  const common: CommonOptions = {
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
  };
  const limit = values.limit === undefined ? DEFAULT_LIMIT : parseLimit(values.limit);
  if (command === 'status') {
    if (rest.length > 0) throw new UsageError('status takes no NAME');
    return { command, allNamespaces: values['all-namespaces'] ?? false, limit, ...common };
  }
  if (rest.length !== 1 || !rest[0]) throw new UsageError(`${command} takes one NAME`);
  const name = rest[0];
  if (command === 'runs') return { command, name, limit, ...common };
  return {
    command,
    name,
    timeoutMs: values.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseTimeout(values.timeout),
    wait: !values['no-wait'],
    ...common,
  };
}

function parseLimit(text: string): number {
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new UsageError(`--limit must be a whole number from 1 to 1000, not "${text}"`);
  }
  return limit;
}

const UNIT_MS: Record<string, number> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration as kubectl's --timeout takes one (`90s`, `2m`, `1h`), or plain seconds. */
export function parseTimeout(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|)$/.exec(text.trim());
  const ms = match ? Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 1000) : Number.NaN;
  if (!(ms > 0)) {
    throw new UsageError(`--timeout must be a duration such as 120, 90s, 2m or 1h, not "${text}"`);
  }
  return ms;
}

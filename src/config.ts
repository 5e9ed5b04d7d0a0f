import { parseArgs } from 'node:util';
import { parseRateLimits, RateLimitsError, type RateLimits } from './aws/pacing.js';

/**
 * Operator configuration, from command-line flags first, then environment variables, then
 * defaults. Every option has both forms: `--resync-interval 300` or RESYNC_INTERVAL_S=300.
 * AWS region, credentials and endpoint come from the AWS SDK's usual configuration
 * (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, IRSA/Pod Identity...).
 */
export interface OperatorConfig {
  /** ApiEndpoint of the apigateway:invoke task, with {restApiId} and {region} placeholders. */
  apigwInvokeEndpointTemplate: string;
  /** Stage name of each proxy REST API. */
  stageName: string;
  /** EventBridge Scheduler group the schedules go in. */
  scheduleGroup: string;
  /** How often every Downloader is reconciled even without a change, to correct drift. */
  resyncIntervalMs: number;
  /** How often a STANDARD workflow's last execution is read back. */
  executionPollIntervalMs: number;
  recheckIntervalMs: number;
  watchTimeoutS: number;
  /**
   * Whether execution status comes from Step Functions' EventBridge events through an SQS queue
   * (then ListExecutions is read only once per resync, as a safety net), instead of polling.
   */
  executionEvents: boolean;
  /** Name of the SQS queue, and of the EventBridge rule feeding it, for execution events. */
  executionEventsQueue: string;
  /** Reconciles running at once. */
  concurrency: number;
  /** Namespaces to watch; empty means all. */
  namespaces: string[];
  /** Only Downloaders matching this label selector are reconciled. */
  labelSelector?: string;
  /** Roles supplied by a platform team; when set the operator creates none of that kind. */
  stateMachineRoleArn?: string;
  schedulerRoleArn?: string;
  /** Permissions boundary attached to every role the operator creates. */
  permissionsBoundaryArn?: string;
  /** Address of the /metrics, /healthz and /readyz server; empty disables it. */
  metricsAddress: string;
  logLevel: string;
  /** Whether to take a Lease before reconciling, so several replicas run safely. */
  leaderElect: boolean;
  leaseName: string;
  /** Namespace of the Lease; defaults to the pod's namespace, else `default`. */
  leaseNamespace: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Identity of this replica in the Lease; defaults to the hostname plus a random suffix. */
  identity?: string;
  /** Source hosts Downloaders may download from; empty allows any. `*.example.com` allowed. */
  allowedSourceHosts: string[];
  /** JSON file of prices for the cost estimate; defaults when absent. */
  pricesFile?: string;
  /** Token buckets AWS calls are paced by; empty when pacing is off. */
  awsRateLimits: RateLimits;
  /**
   * Whether Downloaders of one namespace with the same origin and auth share one REST API (see
   * src/controller/shared-proxy.ts) instead of each having its own.
   */
  shareProxies: boolean;
}

export const DEFAULT_APIGW_INVOKE_ENDPOINT_TEMPLATE =
  '{restApiId}.execute-api.{region}.amazonaws.com';

/** Default name of the execution events queue and rule. */
export const DEFAULT_EXECUTION_EVENTS_QUEUE = 'downloader-operator-executions';

/** A name both an SQS queue (80 characters, no '.') and an EventBridge rule (64) accept. */
const EXECUTION_EVENTS_QUEUE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

interface OptionSpec {
  flag: string;
  env: string;
  description: string;
  default?: string;
}

/** Every option, with its flag and environment variable; the README's table is made from it. */
export const OPTIONS = {
  apigwInvokeEndpointTemplate: {
    flag: 'apigw-invoke-endpoint-template',
    env: 'APIGW_INVOKE_ENDPOINT_TEMPLATE',
    description: 'ApiEndpoint the state machine uses to call the proxy; {restApiId}, {region}',
    default: DEFAULT_APIGW_INVOKE_ENDPOINT_TEMPLATE,
  },
  stageName: {
    flag: 'stage-name',
    env: 'STAGE_NAME',
    description: 'stage of each proxy REST API',
    default: 'downloader',
  },
  scheduleGroup: {
    flag: 'schedule-group',
    env: 'SCHEDULE_GROUP',
    description: 'EventBridge Scheduler group of the schedules',
    default: 'default',
  },
  resyncIntervalS: {
    flag: 'resync-interval',
    env: 'RESYNC_INTERVAL_S',
    description: 'seconds between drift-correcting reconciles of each Downloader',
    default: '300',
  },
  watchTimeoutS: {
    flag: 'watch-timeout',
    env: 'WATCH_TIMEOUT_S',
    description:
      'seconds the API server keeps a watch open before the operator watches again; a watch ' +
      'silent 15 s longer is taken for dead (a network partition) and listed again',
    default: '300',
  },
  recheckIntervalS: {
    flag: 'recheck-interval',
    env: 'RECHECK_INTERVAL_S',
    description:
      'seconds between reads of what rarely changes (owner tags, the inline policies of roles, ' +
      'and with execution events the last execution); the resync reads the rest',
    default: '3600',
  },
  executionPollIntervalS: {
    flag: 'execution-poll-interval',
    env: 'EXECUTION_POLL_INTERVAL_S',
    description: "seconds between reads of a STANDARD workflow's last execution",
    default: '60',
  },
  executionEvents: {
    flag: 'execution-events',
    env: 'EXECUTION_EVENTS',
    description:
      'take execution status from EventBridge events through SQS, polling only on resync ' +
      '(true or false)',
    default: 'true',
  },
  executionEventsQueue: {
    flag: 'execution-events-queue',
    env: 'EXECUTION_EVENTS_QUEUE',
    description: 'SQS queue (and EventBridge rule) the operator makes for execution events',
    default: DEFAULT_EXECUTION_EVENTS_QUEUE,
  },
  concurrency: {
    flag: 'concurrency',
    env: 'CONCURRENCY',
    description: 'reconciles at work at once (one waiting for an AWS quota token lends its slot)',
    default: '4',
  },
  namespaces: {
    flag: 'namespaces',
    env: 'WATCH_NAMESPACES',
    description: 'comma-separated namespaces to watch; empty for all',
    default: '',
  },
  labelSelector: {
    flag: 'label-selector',
    env: 'LABEL_SELECTOR',
    description: 'reconcile only Downloaders matching this label selector',
  },
  stateMachineRoleArn: {
    flag: 'state-machine-role-arn',
    env: 'STATE_MACHINE_ROLE_ARN',
    description: 'use this role for every state machine instead of creating one each',
  },
  schedulerRoleArn: {
    flag: 'scheduler-role-arn',
    env: 'SCHEDULER_ROLE_ARN',
    description: 'use this role for every schedule instead of creating one each',
  },
  permissionsBoundaryArn: {
    flag: 'permissions-boundary-arn',
    env: 'PERMISSIONS_BOUNDARY_ARN',
    description: 'permissions boundary put on every role the operator creates',
  },
  metricsAddress: {
    flag: 'metrics-address',
    env: 'METRICS_ADDRESS',
    description: 'host:port of /metrics, /healthz, /readyz; empty to disable',
    default: '127.0.0.1:8080',
  },
  leaderElect: {
    flag: 'leader-elect',
    env: 'LEADER_ELECT',
    description: 'take a coordination.k8s.io Lease before reconciling (true or false)',
    default: 'false',
  },
  leaseName: {
    flag: 'lease-name',
    env: 'LEASE_NAME',
    description: 'name of the leader election Lease',
    default: 'downloader-operator',
  },
  leaseNamespace: {
    flag: 'lease-namespace',
    env: 'LEASE_NAMESPACE',
    description: "namespace of the Lease; default the pod's namespace (POD_NAMESPACE)",
  },
  leaseDurationS: {
    flag: 'lease-duration',
    env: 'LEASE_DURATION_S',
    description: 'seconds a non-leader waits after the last renewal before taking over',
    default: '15',
  },
  renewDeadlineS: {
    flag: 'renew-deadline',
    env: 'RENEW_DEADLINE_S',
    description: 'seconds the leader keeps trying to renew before it stops reconciling',
    default: '10',
  },
  retryPeriodS: {
    flag: 'retry-period',
    env: 'RETRY_PERIOD_S',
    description: 'seconds between attempts to acquire or renew the Lease',
    default: '2',
  },
  identity: {
    flag: 'identity',
    env: 'POD_NAME',
    description: 'identity of this replica in the Lease; default hostname plus a random suffix',
  },
  allowedSourceHosts: {
    flag: 'allowed-source-hosts',
    env: 'ALLOWED_SOURCE_HOSTS',
    description: 'comma-separated hosts Downloaders may use (*.example.com allowed); empty for any',
    default: '',
  },
  pricesFile: {
    flag: 'prices-file',
    env: 'PRICES_FILE',
    description: 'JSON file of USD prices for status.estimatedMonthlyCost (see README)',
  },
  awsRateLimits: {
    flag: 'aws-rate-limits',
    env: 'AWS_RATE_LIMITS',
    description:
      'pace AWS calls: empty for the documented quotas, off, service:Operation=rate/burst,... ' +
      'over them, or a JSON file',
  },
  shareProxies: {
    flag: 'share-proxies',
    env: 'SHARE_PROXIES',
    description:
      'one REST API per namespace, source origin and auth, shared by its Downloaders, instead ' +
      'of one per Downloader (true or false)',
    default: 'true',
  },
  logLevel: {
    flag: 'log-level',
    env: 'LOG_LEVEL',
    description: 'pino level: debug, info, warn, error',
    default: 'info',
  },
} as const satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof OPTIONS;

/** A configuration error: the message names the flag and the environment variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads the configuration from `argv` (without node and script) and `env`. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): OperatorConfig {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      Object.values(OPTIONS).map((o) => [o.flag, { type: 'string' as const }]),
    ),
    strict: true,
  });
  const read = (name: OptionName): string | undefined => {
    const option: OptionSpec = OPTIONS[name];
    const value = values[option.flag] ?? env[option.env] ?? option.default;
    return value === '' && option.default === undefined ? undefined : value;
  };
  const seconds = (name: OptionName): number => {
    const option: OptionSpec = OPTIONS[name];
    const value = Number(read(name));
    if (!Number.isFinite(value) || value <= 0) {
      throw new ConfigError(
        `--${option.flag} (${option.env}) must be a positive number of seconds`,
      );
    }
    return value * 1000;
  };
  const list = (name: OptionName): string[] =>
    (read(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const bool = (name: OptionName): boolean => {
    const option: OptionSpec = OPTIONS[name];
    const value = read(name);
    if (value !== 'true' && value !== 'false') {
      throw new ConfigError(`--${option.flag} (${option.env}) must be true or false`);
    }
    return value === 'true';
  };
  const template = read('apigwInvokeEndpointTemplate') ?? DEFAULT_APIGW_INVOKE_ENDPOINT_TEMPLATE;
  if (!template.includes('{restApiId}')) {
    throw new ConfigError(
      '--apigw-invoke-endpoint-template (APIGW_INVOKE_ENDPOINT_TEMPLATE) must contain {restApiId}',
    );
  }
  const concurrency = Number(read('concurrency'));
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigError('--concurrency (CONCURRENCY) must be a positive integer');
  }
  const executionEventsQueue = read('executionEventsQueue') ?? DEFAULT_EXECUTION_EVENTS_QUEUE;
  if (!EXECUTION_EVENTS_QUEUE_PATTERN.test(executionEventsQueue)) {
    throw new ConfigError(
      '--execution-events-queue (EXECUTION_EVENTS_QUEUE) must be 1 to 64 letters, digits, ' +
        "'-' or '_' (it names an SQS queue and an EventBridge rule)",
    );
  }
  if (seconds('renewDeadlineS') >= seconds('leaseDurationS')) {
    throw new ConfigError(
      '--renew-deadline (RENEW_DEADLINE_S) must be shorter than --lease-duration (LEASE_DURATION_S), ' +
        'so a leader that cannot renew stops before another replica may take over',
    );
  }
  return {
    apigwInvokeEndpointTemplate: template,
    stageName: read('stageName') ?? 'downloader',
    scheduleGroup: read('scheduleGroup') ?? 'default',
    resyncIntervalMs: seconds('resyncIntervalS'),
    executionPollIntervalMs: seconds('executionPollIntervalS'),
    recheckIntervalMs: seconds('recheckIntervalS'),
    watchTimeoutS: Math.max(1, Math.round(seconds('watchTimeoutS') / 1000)),
    executionEvents: bool('executionEvents'),
    executionEventsQueue,
    concurrency,
    namespaces: list('namespaces'),
    labelSelector: read('labelSelector'),
    stateMachineRoleArn: read('stateMachineRoleArn'),
    schedulerRoleArn: read('schedulerRoleArn'),
    permissionsBoundaryArn: read('permissionsBoundaryArn'),
    metricsAddress: read('metricsAddress') ?? '',
    logLevel: read('logLevel') ?? 'info',
    leaderElect: bool('leaderElect'),
    leaseName: read('leaseName') ?? 'downloader-operator',
    leaseNamespace: read('leaseNamespace') ?? env.POD_NAMESPACE ?? 'default',
    leaseDurationMs: seconds('leaseDurationS'),
    renewDeadlineMs: seconds('renewDeadlineS'),
    retryPeriodMs: seconds('retryPeriodS'),
    identity: read('identity'),
    allowedSourceHosts: list('allowedSourceHosts'),
    pricesFile: read('pricesFile'),
    awsRateLimits: rateLimits(read('awsRateLimits')),
    shareProxies: bool('shareProxies'),
  };
}

function rateLimits(setting: string | undefined): RateLimits {
  try {
    return parseRateLimits(setting);
  } catch (err) {
    if (!(err instanceof RateLimitsError)) throw err;
    throw new ConfigError(`--aws-rate-limits (AWS_RATE_LIMITS): ${err.message}`, { cause: err });
  }
}

/** The ApiEndpoint for one REST API, from the configured template. */
export function invokeEndpoint(template: string, restApiId: string, region: string): string {
  return template.replaceAll('{restApiId}', restApiId).replaceAll('{region}', region);
}

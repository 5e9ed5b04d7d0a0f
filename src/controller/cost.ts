import { readFileSync } from 'node:fs';
import { transportOf, type DownloaderSpec } from '../api/downloader-spec.js';

/**
 * An estimate of what one Downloader's pipeline costs a month, from its schedule and workflow
 * type, so users see the price of `rate(1 minute)` before the bill does. Prices are
 * configuration (`--prices-file`); the defaults are us-east-1 list prices without free tiers.
 */

/** USD prices per unit. */
export interface Prices {
  /** Step Functions STANDARD, per state transition. */
  standardTransition: number;
  /** Step Functions EXPRESS, per request (execution). */
  expressRequest: number;
  /** Step Functions EXPRESS, per GB-second of duration (billed in 64 MB, 100 ms steps). */
  expressGbSecond: number;
  /** API Gateway REST API, per request. */
  apiGatewayRequest: number;
  /** DynamoDB on-demand, per write request unit (an item up to 1 KB). */
  dynamodbWrite: number;
  /** EventBridge Scheduler, per invocation. */
  schedulerInvocation: number;
  /**
   * Secrets Manager, per secret and month: the secret EventBridge keeps an HttpTask
   * Downloader's connection credential in.
   */
  secretsManagerSecret: number;
  /** Assumed duration of one EXPRESS execution, in seconds. */
  expressSecondsPerRun: number;
}

export const DEFAULT_PRICES: Prices = {
  standardTransition: 0.025 / 1000,
  expressRequest: 1.0 / 1_000_000,
  expressGbSecond: 0.00001667,
  apiGatewayRequest: 3.5 / 1_000_000,
  dynamodbWrite: 0.625 / 1_000_000,
  schedulerInvocation: 1.0 / 1_000_000,
  secretsManagerSecret: 0.4,
  expressSecondsPerRun: 1,
};

/** Reads prices from a JSON file of Prices fields; missing fields keep their defaults. */
export function loadPrices(path: string | undefined): Prices {
  if (!path) return DEFAULT_PRICES;
  const overrides = JSON.parse(readFileSync(path, 'utf8')) as Partial<Prices>;
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in DEFAULT_PRICES) || typeof value !== 'number' || value < 0) {
      throw new Error(`${path}: ${key} is not a known price or not a non-negative number`);
    }
  }
  return { ...DEFAULT_PRICES, ...overrides };
}

const MINUTES_PER_MONTH = 30 * 24 * 60;

/**
 * Executions a month for an EventBridge Scheduler expression: exact for rate(), one for at(),
 * and for cron() the product of how many values each field allows (days from day-of-month or
 * day-of-week, whichever is not `?`), which is exact for the common forms and close for L, W, #.
 */
export function runsPerMonth(expression: string): number {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const unit = rate[2]?.startsWith('minute') ? 1 : rate[2]?.startsWith('hour') ? 60 : 1440;
    return MINUTES_PER_MONTH / (Number(rate[1]) * unit);
  }
  if (expression.startsWith('at(')) return 1;
  const cron = /^cron\((.+)\)$/.exec(expression)?.[1]?.split(/\s+/);
  if (!cron || cron.length !== 6) return 0;
  const [minutes = '*', hours = '*', dom = '*', months = '*', dow = '*'] = cron;
  const perDay = fieldCount(minutes, 0, 59) * fieldCount(hours, 0, 23);
  const monthShare = fieldCount(months, 1, 12) / 12;
  const days =
    dom === '?'
      ? (fieldCount(dow, 1, 7) * 30) / 7
      : dom.includes('L') || dom.includes('W')
        ? 1
        : Math.min(30, fieldCount(dom, 1, 31));
  return perDay * days * monthShare;
}

const NAMES: Record<string, number> = Object.fromEntries([
  ...['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'].map((d, i) => [d, i + 1]),
  ...['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'].map(
    (m, i) => [m, i + 1],
  ),
]);

/** How many values one cron field allows: `*`, lists, ranges, steps, day and month names. */
function fieldCount(field: string, min: number, max: number): number {
  if (field === '*' || field === '?') return max - min + 1;
  let count = 0;
  const named = field.toUpperCase().replace(/[A-Z]{3}/g, (name) => String(NAMES[name] ?? name));
  for (const part of named.split(',')) {
    const [range = '*', stepText] = part.split('/');
    const step = stepText ? Number(stepText) : 1;
    let low = min;
    let high = max;
    if (range !== '*') {
      const [from, to] = range.split('-');
      low = Number.isNaN(Number(from)) ? min : Number(from);
      high = to !== undefined && !Number.isNaN(Number(to)) ? Number(to) : stepText ? max : low;
    }
    if (part.includes('#') || part.includes('L')) {
      count += 1;
      continue;
    }
    count += Math.floor((high - low) / step) + 1;
  }
  return Math.max(1, Math.min(count, max - min + 1));
}

/** The estimate as status shows it: dollar amounts as strings with cents. */
export interface CostEstimate {
  monthlyUsd: string;
  runsPerMonth: number;
  breakdown: {
    stepFunctions: string;
    apiGateway: string;
    dynamodb: string;
    scheduler: string;
    /** HttpTask only: the connection's secret. */
    connection?: string;
  };
}

/**
 * The monthly estimate for `spec` whose state machine enters `transitionsPerRun` states per
 * execution (the states on its path; pages and fan-out multiply this at run time and are not
 * known in advance, so the estimate is per request: one page, one path).
 */
export function estimateMonthlyCost(
  spec: DownloaderSpec,
  transitionsPerRun: number,
  prices: Prices = DEFAULT_PRICES,
): CostEstimate {
  const runs = spec.schedule.suspend ? 0 : runsPerMonth(spec.schedule.expression);
  const expressGbSeconds = 0.0625 * Math.max(0.1, Math.ceil(prices.expressSecondsPerRun * 10) / 10);
  const stepFunctions =
    spec.workflow.type === 'EXPRESS'
      ? runs * (prices.expressRequest + expressGbSeconds * prices.expressGbSecond)
      : runs * transitionsPerRun * prices.standardTransition;
  // The HTTP Task calls the source itself: no API Gateway request; it bills as a state
  // transition like any task. Its connection keeps the credential in a Secrets Manager secret,
  // billed per month whether or not it runs.
  const httpTask = transportOf(spec) === 'HttpTask';
  const apiGateway = httpTask ? 0 : runs * prices.apiGatewayRequest;
  const connection = httpTask ? prices.secretsManagerSecret : 0;
  const dynamodb = runs * prices.dynamodbWrite;
  const scheduler = runs * prices.schedulerInvocation;
  const usd = (value: number) => value.toFixed(2);
  return {
    monthlyUsd: usd(stepFunctions + apiGateway + dynamodb + scheduler + connection),
    runsPerMonth: Math.round(runs),
    breakdown: {
      stepFunctions: usd(stepFunctions),
      apiGateway: usd(apiGateway),
      dynamodb: usd(dynamodb),
      scheduler: usd(scheduler),
      ...(httpTask ? { connection: usd(connection) } : {}),
    },
  };
}

/** States entered by one execution along the main path of a definition (nested states count). */
export function countTransitions(definition: string): number {
  const parsed = JSON.parse(definition) as { States?: Record<string, unknown> };
  let count = 0;
  const visit = (states: Record<string, unknown> | undefined) => {
    for (const state of Object.values(states ?? {})) {
      count += 1;
      const s = state as {
        Iterator?: { States?: Record<string, unknown> };
        ItemProcessor?: { States?: Record<string, unknown> };
        Branches?: Array<{ States?: Record<string, unknown> }>;
      };
      visit(s.Iterator?.States ?? s.ItemProcessor?.States);
      s.Branches?.forEach((branch) => visit(branch.States));
    }
  };
  visit(parsed.States);
  return count;
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { awsErrorKind } from './aws/errors.js';

/**
 * The operator's Prometheus metrics (prom-client: the maintained Node.js client, with the
 * exposition format and default process metrics done right, which hand-written code would not).
 */
export class OperatorMetrics {
  readonly registry = new Registry();

  readonly reconciles = new Counter({
    name: 'downloader_reconcile_total',
    help: 'Reconciles by result: done, retry (transient failure), forget (object gone).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: 'downloader_reconcile_duration_seconds',
    help: 'Time one reconcile took, by result.',
    labelNames: ['result'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** Read at scrape time from `queueDepthSource`. */
  queueDepthSource: () => number = () => 0;

  readonly queueDepth: Gauge = new Gauge({
    name: 'downloader_queue_depth',
    help: 'Keys waiting in the work queue, ready to be processed.',
    registers: [this.registry],
    collect: (): void => this.queueDepth.set(this.queueDepthSource()),
  });

  /** Read at scrape time from `reconcilesSource`. */
  reconcilesSource: () => { working: number; waiting: number } = () => ({
    working: 0,
    waiting: 0,
  });

  readonly reconcilesInFlight: Gauge<'state'> = new Gauge({
    name: 'downloader_reconciles_in_flight',
    help:
      'Reconciles under way: working (holding one of the --concurrency slots) or waiting ' +
      '(for an AWS quota token or a shared proxy, with the slot lent to another).',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: (): void => {
      const { working, waiting } = this.reconcilesSource();
      this.reconcilesInFlight.set({ state: 'working' }, working);
      this.reconcilesInFlight.set({ state: 'waiting' }, waiting);
    },
  });

  readonly queueWait = new Histogram({
    name: 'downloader_queue_wait_seconds',
    help: 'Time a key waited in the queue before a worker took it.',
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly awsCalls = new Counter({
    name: 'downloader_aws_calls_total',
    help: 'AWS API calls by service, operation and outcome (success, throttled, error).',
    labelNames: ['service', 'operation', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly awsPacingWait = new Histogram({
    name: 'downloader_aws_pacing_wait_seconds',
    help: 'Time an AWS call attempt waited for its rate limit tokens, by service and operation.',
    labelNames: ['service', 'operation'] as const,
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly executions = new Counter({
    name: 'downloader_executions_seen_total',
    help: 'Finished executions seen for the first time, by status.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: 'downloader_leader',
    help: '1 while this instance holds the leader lease and reconciles, else 0.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'downloader_operator_' });
  }

  /** Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * Adds a middleware to an AWS SDK v3 client that counts each call by service, operation and
   * outcome; throttling is counted apart from other errors.
   */
  instrument(client: { middlewareStack: { add: (...args: never[]) => void } }, service: string) {
    const counter = this.awsCalls;
    const middleware =
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        try {
          const result = await next(args);
          counter.inc({ service, operation, outcome: 'success' });
          return result;
        } catch (err) {
          const kind = awsErrorKind(err);
          counter.inc({
            service,
            operation,
            outcome: kind === 'throttling' ? 'throttled' : 'error',
          });
          throw err;
        }
      };
    (client.middlewareStack.add as (m: unknown, o: unknown) => void)(middleware, {
      step: 'initialize',
      name: 'downloaderOperatorMetrics',
      override: true,
    });
  }
}

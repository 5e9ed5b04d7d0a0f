import { createServer } from 'node:net';
import { createTestNamespace, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import { apply, eveExample, getDownloader, readyDownloader } from './downloaders.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function scrape(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

function leaseHolder(namespace: string): string {
  return kubectlOk([
    'get',
    'lease',
    'downloader-operator',
    '-n',
    namespace,
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]);
}

const changesIn = (operator: OperatorProcess) =>
  operator.lines().filter((line) => /"msg":"(created|updated|deleted) AWS resource"/.test(line));

describe('two replicas with leader election', () => {
  const replicas: Record<string, { operator: OperatorProcess; port: number }> = {};
  let namespace: string;

  beforeAll(async () => {
    namespace = createTestNamespace('leader');
    for (const identity of ['replica-a', 'replica-b']) {
      const port = await freePort();
      const operator = startOperator([
        '--namespaces',
        namespace,
        '--leader-elect',
        'true',
        '--lease-namespace',
        namespace,
        '--lease-duration',
        '6',
        '--renew-deadline',
        '4',
        '--retry-period',
        '1',
        '--identity',
        identity,
        '--metrics-address',
        `127.0.0.1:${port}`,
      ]);
      replicas[identity] = { operator, port };
    }
  });

  afterAll(async () => {
    await Promise.all(Object.values(replicas).map(({ operator }) => operator.kill()));
  });

  it('lets exactly one replica reconcile, and both report ready', async () => {
    apply(namespace, eveExample('eve', `Leader-${Date.now()}`));
    await eventually('Ready', () => readyDownloader(namespace, 'eve'), 90_000);
    const leader = leaseHolder(namespace);
    const follower = leader === 'replica-a' ? 'replica-b' : 'replica-a';
    expect(changesIn(replicas[leader]!.operator).length).toBeGreaterThan(0);
    expect(changesIn(replicas[follower]!.operator)).toEqual([]);
    for (const { port } of Object.values(replicas)) {
      expect((await scrape(port, '/readyz')).status).toBe(200);
      expect((await scrape(port, '/healthz')).status).toBe(200);
    }
  });

  it('exposes reconciles, AWS calls by service and operation, queue depth and leader status', async () => {
    const leader = leaseHolder(namespace);
    const follower = leader === 'replica-a' ? 'replica-b' : 'replica-a';
    const metrics = (await scrape(replicas[leader]!.port, '/metrics')).body;
    expect(metrics).toMatch(/^downloader_leader 1$/m);
    expect(metrics).toMatch(/^downloader_reconcile_total\{result="done"\} [1-9]/m);
    expect(metrics).toMatch(
      /^downloader_aws_calls_total\{service="states",operation="CreateStateMachine",outcome="success"\} 1$/m,
    );
    expect(metrics).toMatch(/^downloader_queue_depth \d+$/m);
    expect(metrics).toMatch(/^downloader_reconcile_duration_seconds_bucket/m);
    expect((await scrape(replicas[follower]!.port, '/metrics')).body).toMatch(
      /^downloader_leader 0$/m,
    );
  });

  it('fails over to the other replica after the leader dies, and nothing made twice', async () => {
    const leader = leaseHolder(namespace);
    const follower = leader === 'replica-a' ? 'replica-b' : 'replica-a';
    await replicas[leader]!.operator.kill();
    const killedAt = Date.now();
    const changed = eveExample('eve', getDownloader(namespace, 'eve')!.spec.table.name);
    changed.spec.source.path = '/v2/status?after=failover';
    apply(namespace, changed);
    await eventually(
      'the follower to lead',
      () => (leaseHolder(namespace) === follower ? true : undefined),
      30_000,
    );
    const tookOverMs = Date.now() - killedAt;
    expect(tookOverMs).toBeLessThan(6_000 + 5_000);
    const updated = await eventually('the change reconciled by the new leader', () => {
      const d = readyDownloader(namespace, 'eve');
      return d && d.metadata.generation === 2 ? d : undefined;
    });
    expect(updated.status?.observedGeneration).toBe(2);
    // The status may be patched before this process has read the follower's last log lines
    // (kubectl runs synchronously), so wait for the line rather than expect it at once.
    const stateMachineUpdated = (line: string) =>
      line.includes('"kind":"StateMachine"') && line.includes('updated');
    await eventually(
      'the new leader to log the state machine update',
      () => (changesIn(replicas[follower]!.operator).some(stateMachineUpdated) ? true : undefined),
      15_000,
    );
    const followerChanges = changesIn(replicas[follower]!.operator);
    expect(followerChanges.filter((line) => line.includes('created AWS resource'))).toEqual([]);
  });

  it('hands the lease back on SIGTERM and exits 0', async () => {
    const leader = leaseHolder(namespace);
    const code = await replicas[leader]!.operator.stop();
    expect(code).toBe(0);
    expect(leaseHolder(namespace)).toBe('');
  });
});

import { join } from 'node:path';
import { ListConnectionsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { GetRoleCommand, DeleteRolePolicyCommand, GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { Downloader } from '../../../src/api/downloader.js';
import { createTestNamespace, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import {
  apply,
  applySecret,
  bearerAuth,
  condition,
  eveExample,
  getDownloader,
  readyDownloader,
  runNow,
} from '../operator/downloaders.js';
import { EnforcedAws, readPolicy, withoutAction, type PolicyDocument } from './enforced-aws.js';

/**
 * The controller policy in iam/ is enough for the operator, and each of its parts is needed:
 * the operator runs as an IAM user holding exactly that policy against a local AWS of its own
 * that authorizes every request (LOCAL_AWS_ENFORCE_IAM=1, test/env/aws/moto_patches/
 * iam_enforcement.py), with the suite's kube-apiserver. The executions run as the roles the
 * operator made, and are authorized too. Each negative control leaves one permission out and
 * expects the part that needs it to report AccessDenied, which shows that enforcement is on.
 */

let aws: EnforcedAws;
/** The negative controls, started first so that they run while the other tests do. */
const denials: Denial[] = [];

beforeAll(async () => {
  const root = process.env.CLOUD_DIR ?? join(process.cwd(), '.local');
  aws = await EnforcedAws.start(join(root, 'aws-iam'));
  const full = await readPolicy('controller-policy.json');
  for (const [index, c] of DENIAL_CASES.entries()) {
    const namespace = createTestNamespace(`iam-deny-${index}`);
    const operator = await operatorWith(`op-missing-${index}`, c.policy(full), namespace);
    denials.push({ ...c, namespace, operator });
    apply(namespace, eve('eve', `IamDeny${index}-${Date.now()}`));
  }
});

afterAll(async () => {
  await Promise.all(denials.map((d) => d.operator.stop()));
  for (const d of denials) release(d.namespace);
  await aws?.stop();
});

// Pacing at AWS's quotas (DeleteRestApi once per 30 s) is not what these tests are about.
// A role's inline policy is read once per recheck interval: 5 s here, so a reconcile soon after
// puts back one that was deleted.
const POLL = [
  '--execution-poll-interval',
  '2',
  '--aws-rate-limits',
  'off',
  '--recheck-interval',
  '5',
];

/** One negative control: the policy without one permission, and the part that needs it. */
interface DenialCase {
  missing: string;
  part: string;
  policy: (full: PolicyDocument) => PolicyDocument;
  timeoutMs?: number;
}

interface Denial extends DenialCase {
  namespace: string;
  operator: OperatorProcess;
}

/**
 * Each case gets its own IAM user, operator and namespace. The state machine case waits out
 * the 60 s during which the operator takes an AccessDeniedException from CreateStateMachine
 * for a new role still propagating (reason RolePropagating) before it reports AccessDenied.
 */
const DENIAL_CASES: DenialCase[] = [
  {
    missing: 'apigateway:POST',
    part: 'ProxyReady',
    policy: (full) => withoutAction(full, 'apigateway:POST'),
  },
  {
    missing: 'dynamodb:CreateTable',
    part: 'TableReady',
    policy: (full) => withoutAction(full, 'dynamodb:CreateTable'),
  },
  {
    missing: 'states:CreateStateMachine',
    part: 'StateMachineReady',
    policy: (full) => withoutAction(full, 'states:CreateStateMachine'),
    timeoutMs: 150_000,
  },
  {
    missing: 'scheduler:CreateSchedule',
    part: 'ScheduleReady',
    policy: (full) => withoutAction(full, 'scheduler:CreateSchedule'),
  },
  {
    missing: 'iam:PassRole',
    part: 'ScheduleReady',
    // PassRole to Step Functions only: the schedule's role cannot be passed to Scheduler.
    policy: (full) => ({
      ...full,
      Statement: full.Statement.map((s) =>
        [s.Action].flat().includes('iam:PassRole')
          ? { ...s, Condition: { StringEquals: { 'iam:PassedToService': 'states.amazonaws.com' } } }
          : s,
      ),
    }),
  },
];

/** `eventually`, failing with the operator's last warnings and errors, which say why. */
async function waitFor<T>(
  operator: OperatorProcess,
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs?: number,
): Promise<T> {
  try {
    return await eventually(what, probe, timeoutMs);
  } catch (err) {
    const said = operator
      .lines()
      .filter((line) => /"level":(40|50|60)|Error/.test(line))
      .slice(-5);
    throw new Error(`${(err as Error).message}; the operator's last words:\n${said.join('\n')}`, {
      cause: err,
    });
  }
}

/** The EVE example against the enforced AWS's stand-in API. */
function eve(name: string, table: string): Downloader {
  const d = eveExample(name, table);
  d.spec.source.url = aws.env.UPSTREAM_URL ?? '';
  return d;
}

async function executionEnd(executionArn: string) {
  return eventually(`execution ${executionArn} to end`, async () => {
    const out = await aws.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return out.status === 'RUNNING' ? undefined : out;
  });
}

/**
 * Deletes the Downloader `eve` of a namespace whose operator has stopped, dropping its
 * finalizer: what it made in AWS goes with this test's local AWS.
 */
function release(namespace: string | undefined): void {
  if (!namespace) return;
  kubectlOk([
    'patch',
    '-n',
    namespace,
    'downloader/eve',
    '--type',
    'merge',
    '-p',
    '{"metadata":{"finalizers":null}}',
  ]);
  kubectlOk(['delete', '-n', namespace, 'downloader/eve', '--ignore-not-found', '--wait=false']);
}

/** An IAM user holding exactly `document`, and an operator running as it in `namespace`. */
async function operatorWith(
  user: string,
  document: PolicyDocument,
  namespace: string,
  args: string[] = [],
): Promise<OperatorProcess> {
  const key = await aws.createUser(user);
  const policyArn = await aws.createPolicy(`${user}-policy`, document);
  await aws.attachOnly(user, policyArn);
  // Each operator its own execution events queue: one queue shared by several operators
  // would hand each of them the others' events. The name stays within the policy's pattern.
  const queue = ['--execution-events-queue', `downloader-operator-${user}`];
  return startOperator(
    ['--namespaces', namespace, ...POLL, ...queue, ...args],
    aws.operatorEnv(key),
  );
}

describe('the local AWS enforcing IAM', () => {
  const as = (key: { accessKeyId: string; secretAccessKey: string }) => ({
    endpoint: aws.env.AWS_ENDPOINT_URL,
    region: aws.env.AWS_REGION,
    credentials: key,
  });

  it('refuses a key no IAM user or role holds', async () => {
    const stranger = new DynamoDBClient(as({ accessKeyId: 'testing', secretAccessKey: 'testing' }));
    await expect(stranger.send(new ListTablesCommand({}))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
  });

  it('allows a user without policies nothing but GetCallerIdentity', async () => {
    const key = await aws.createUser('nobody');
    const who = await new STSClient(as(key)).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toMatch(/:user\/nobody$/);
    await expect(new DynamoDBClient(as(key)).send(new ListTablesCommand({}))).rejects.toMatchObject(
      { name: 'AccessDeniedException' },
    );
  });

  it('lets an explicit Deny win over an Allow', async () => {
    const key = await aws.createUser('denied');
    const arn = await aws.createPolicy('denied-policy', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'dynamodb:*', Resource: '*' },
        { Effect: 'Deny', Action: 'dynamodb:ListTables', Resource: '*' },
      ],
    });
    await aws.attachOnly('denied', arn);
    const client = new DynamoDBClient(as(key));
    await expect(client.send(new ListTablesCommand({}))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    await expect(
      client.send(new DescribeTableCommand({ TableName: 'none' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('the operator holding exactly iam/controller-policy.json', () => {
  let namespace: string;
  let operator: OperatorProcess;
  const eveTable = `IamEve-${Date.now()}`;
  const secureTable = `IamSecure-${Date.now()}`;
  let ready: Downloader;

  beforeAll(async () => {
    namespace = createTestNamespace('iam');
    operator = await operatorWith(
      'downloader-operator',
      await readPolicy('controller-policy.json'),
      namespace,
    );
  });

  afterAll(async () => {
    await operator?.stop();
  });

  it('makes the article Downloader Ready, and its schedule fires it as the schedule role', async () => {
    apply(namespace, eve('eve', eveTable));
    ready = await waitFor(operator, 'Ready', () => readyDownloader(namespace, 'eve'), 90_000);

    // rate() fires once when the schedule is created: through the schedule's role.
    const scheduleArn = ready.status?.resources?.scheduleArn ?? '';
    const firing = await eventually('the first firing of the schedule', async () =>
      (await aws.scheduleFirings()).find((s) => s.arn === scheduleArn && s.fireCount > 0),
    );
    expect(firing.lastError).toBeNull();
    const fired = await executionEnd(firing.lastExecutionArn);
    expect(fired.status).toBe('SUCCEEDED');
  });

  it('runs it on run-now: the state machine role may invoke the proxy and put the item', async () => {
    const done = await runNow(namespace, 'eve', 'first');
    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    expect(condition(done, 'LastRunSucceeded')?.status).toBe('True');
    expect((await aws.items(eveTable)).length).toBeGreaterThanOrEqual(1);
  });

  it('makes the Downloader with an auth Secret Ready, and its run succeeds', async () => {
    applySecret(namespace, 'status-token', { token: aws.env.UPSTREAM_TOKEN ?? '' });
    const secure = eve('secure', secureTable);
    secure.spec.source.path = '/v2/secure/status';
    secure.spec.source.auth = bearerAuth('status-token');
    secure.spec.table.deletionPolicy = 'Delete';
    apply(namespace, secure);
    await waitFor(operator, 'Ready', () => readyDownloader(namespace, 'secure'), 90_000);

    const done = await runNow(namespace, 'secure', 'one');
    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    expect((await aws.items(secureTable)).length).toBeGreaterThanOrEqual(1);
  });

  it('runs the tasks as the role: without its policy a run fails, and a reconcile restores it', async () => {
    const resources = ready.status?.resources ?? {};
    const roleName = resources.stateMachineRoleArn?.split('/').pop() ?? '';
    await aws.iam.send(
      new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: 'downloader-operator' }),
    );
    const denied = await aws.sfn.send(
      new StartExecutionCommand({ stateMachineArn: resources.stateMachineArn, name: 'no-policy' }),
    );
    const failed = await executionEnd(denied.executionArn ?? '');
    expect(failed).toMatchObject({ status: 'FAILED', error: 'ApiGateway.403' });
    expect(failed.cause).toContain('execute-api:Invoke');

    // Each nudge is a reconcile; the first after the recheck interval reads the policy again.
    await eventually(
      'the role policy to be put back',
      async () => {
        kubectlOk([
          'annotate',
          '-n',
          namespace,
          'downloader/eve',
          `test/nudge=${Date.now()}`,
          '--overwrite',
        ]);
        const out = await aws.iam
          .send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: 'downloader-operator' }))
          .catch(() => undefined);
        return out?.PolicyDocument;
      },
      60_000,
      2_000,
    );
    const again = await aws.sfn.send(
      new StartExecutionCommand({ stateMachineArn: resources.stateMachineArn, name: 'restored' }),
    );
    expect((await executionEnd(again.executionArn ?? '')).status).toBe('SUCCEEDED');
  });

  it('follows a change of path, schedule and suspend (UpdateStateMachine, UpdateSchedule)', async () => {
    const before = getDownloader(namespace, 'eve')!;
    const changed = eve('eve', eveTable);
    changed.spec.source.path = '/v2/status?datasource=tranquility';
    changed.spec.schedule = { expression: 'cron(0/5 * * * ? *)', timezone: 'UTC', suspend: true };
    apply(namespace, changed);
    const updated = await waitFor(operator, 'the change to be Ready', () => {
      const d = readyDownloader(namespace, 'eve');
      return d && d.metadata.generation !== before.metadata.generation ? d : undefined;
    });

    const resources = updated.status?.resources ?? {};
    const sm = await aws.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: resources.stateMachineArn }),
    );
    expect(sm.definition).toContain('tranquility');
    const schedule = await aws.scheduler.send(
      new GetScheduleCommand({ Name: resources.scheduleArn?.split('/').pop() }),
    );
    expect(schedule).toMatchObject({
      ScheduleExpression: 'cron(0/5 * * * ? *)',
      State: 'DISABLED',
    });
  });

  it('makes an HttpTask Downloader Ready (its connection), runs it, and deletes the connection', async () => {
    const direct = eve('direct', `${secureTable}-direct`);
    direct.spec.source.path = '/v2/secure/status';
    direct.spec.source.transport = 'HttpTask';
    direct.spec.source.auth = bearerAuth('status-token');
    apply(namespace, direct);
    const ready = await waitFor(
      operator,
      'Ready',
      () => readyDownloader(namespace, 'direct'),
      90_000,
    );
    expect(ready.status?.resources?.connectionArn).toBeDefined();
    const done = await runNow(namespace, 'direct', 'one');
    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');

    kubectlOk(['delete', '-n', namespace, 'downloader/direct', '--timeout=90s']);
    const name = ready.status?.resources?.connectionArn?.split(':connection/')[1]?.split('/')[0];
    const left = (await aws.events.send(new ListConnectionsCommand({}))).Connections ?? [];
    expect(left.filter((c) => c.Name === name)).toEqual([]);
  });

  it('deletes what it created, and keeps the retained table', async () => {
    const eveNow = getDownloader(namespace, 'eve')!;
    const secureNow = getDownloader(namespace, 'secure')!;
    kubectlOk(['delete', '-n', namespace, 'downloader/eve', 'downloader/secure', '--timeout=90s']);

    for (const d of [eveNow, secureNow]) {
      const resources = d.status?.resources ?? {};
      expect(await aws.restApis(d.metadata.uid ?? '')).toHaveLength(0);
      expect(await aws.restApisIn(namespace)).toHaveLength(0);
      expect(await aws.stateMachines(resources.stateMachineArn?.split(':').pop() ?? '')).toEqual(
        [],
      );
      expect(await aws.schedules(resources.scheduleArn?.split('/').pop() ?? '')).toEqual([]);
      for (const role of [resources.stateMachineRoleArn, resources.schedulerRoleArn]) {
        expect(await aws.roles(role?.split('/').pop() ?? '')).toEqual([]);
      }
    }
    const tables = await aws.tableNames();
    expect(tables).toContain(eveTable);
    expect(tables).not.toContain(secureTable);
  });

  it('was never denied an AWS call', () => {
    const denied = operator
      .lines()
      .filter((line) => /"reason":"AccessDenied"|"errKind":"accessDenied"/.test(line));
    expect(denied).toEqual([]);
  });
});

describe('the operator missing one permission of the policy', () => {
  it.each(DENIAL_CASES.map((c, index) => [c.missing, c.part, index] as const))(
    'without %s, %s ends AccessDenied naming it',
    async (missing, part, index) => {
      const denial = denials[index]!;
      const denied = await waitFor(
        denial.operator,
        `${part} AccessDenied`,
        () => {
          const found = condition(getDownloader(denial.namespace, 'eve'), part);
          return found?.reason === 'AccessDenied' ? found : undefined;
        },
        denial.timeoutMs ?? 60_000,
      );
      expect(denied.status).toBe('False');
      expect(denied.message).toContain(missing);
      expect(condition(getDownloader(denial.namespace, 'eve'), 'Ready')?.status).toBe('False');
    },
  );
});

/** The variant that requires the permissions boundary on every role the operator creates. */
describe('the operator holding iam/controller-policy-with-boundary.json', () => {
  let boundaryArn: string;
  let withFlag: OperatorProcess;
  let withoutFlag: OperatorProcess;
  let namespace: string;
  let bareNamespace: string;
  const table = `IamBoundary-${Date.now()}`;

  beforeAll(async () => {
    boundaryArn = await aws.createPolicy(
      'downloader-operator-role-boundary',
      await readPolicy('role-permissions-boundary.json'),
    );
    const policy = await readPolicy('controller-policy-with-boundary.json');
    namespace = createTestNamespace('iam-boundary');
    bareNamespace = createTestNamespace('iam-noboundary');
    withFlag = await operatorWith('op-boundary', policy, namespace, [
      '--permissions-boundary-arn',
      boundaryArn,
    ]);
    withoutFlag = await operatorWith('op-no-boundary', policy, bareNamespace);
    apply(namespace, eve('eve', table));
    apply(bareNamespace, eve('eve', `${table}-bare`));
  });

  afterAll(async () => {
    await Promise.all([withFlag?.stop(), withoutFlag?.stop()]);
    release(bareNamespace);
  });

  it('creates every role with the boundary, and the runs succeed within it', async () => {
    const ready = await waitFor(withFlag, 'Ready', () => readyDownloader(namespace, 'eve'), 90_000);
    for (const arn of [
      ready.status?.resources?.stateMachineRoleArn,
      ready.status?.resources?.schedulerRoleArn,
    ]) {
      const role = await aws.iam.send(new GetRoleCommand({ RoleName: arn?.split('/').pop() }));
      expect(role.Role?.PermissionsBoundary?.PermissionsBoundaryArn).toBe(boundaryArn);
    }
    const done = await runNow(namespace, 'eve', 'bounded');
    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');

    kubectlOk(['delete', '-n', namespace, 'downloader/eve', '--timeout=90s']);
    const resources = ready.status?.resources ?? {};
    expect(await aws.roles(resources.stateMachineRoleArn?.split('/').pop() ?? '')).toEqual([]);
  });

  it('refuses to create a role without the boundary: AccessDenied on iam:CreateRole', async () => {
    const denied = await waitFor(withoutFlag, 'StateMachineReady AccessDenied', () => {
      const found = condition(getDownloader(bareNamespace, 'eve'), 'StateMachineReady');
      return found?.reason === 'AccessDenied' ? found : undefined;
    });
    expect(denied.message).toContain('iam:CreateRole');
  });
});

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreatePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import type { Downloader } from '../../../src/api/downloader.js';
import { HostileSource } from '../../faults/hostile-source.js';
import { createTestNamespace } from '../kubectl.js';
import { eventually, type OperatorProcess } from '../operator-process.js';
import { AwsInventory } from '../operator/aws-inventory.js';
import { eveExample } from '../operator/downloaders.js';
import { AwsCensus } from './census.js';
import {
  applyAll,
  conditionOf,
  isReady,
  kubectlAsync,
  kubectlOkAsync,
  listDownloaders,
  recordFigures,
  startOperatorFor,
  tableName,
} from './harness.js';

/**
 * A recognisable secret (SECRET-canary-...) in a Downloader's auth Secret must reach the source
 * through the proxy's integration and nowhere else the operator writes: logs at trace level,
 * Events, status, state machine definitions, execution input, output and history, moto's own
 * log. A Downloader may not read another namespace's Secret, nor take over another's table or
 * proxy. The roles the operator creates allow exactly their pipeline, within the configured
 * permissions boundary.
 */

const CANARY = `SECRET-canary-${randomBytes(8).toString('hex')}`;
const OTHER_NS_VALUE = `OTHER-NS-${randomBytes(8).toString('hex')}`;
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

function withCanary(d: Downloader, header = 'Authorization'): Downloader {
  d.spec.source.auth = {
    secretRef: { name: 'canary', key: 'token' },
    header,
    prefix: header === 'Authorization' ? 'Bearer ' : '',
  };
  return d;
}

/** Statements reduced to what they allow, for comparison with what the pipeline needs. */
function grants(document: string | undefined) {
  const parsed = JSON.parse(decodeURIComponent(document ?? '{}')) as {
    Statement: Array<{ Effect: string; Action: unknown; Resource: unknown; Principal?: unknown }>;
  };
  return parsed.Statement.map((s) => ({
    Effect: s.Effect,
    Action: s.Action,
    ...(s.Resource !== undefined ? { Resource: s.Resource } : {}),
    ...(s.Principal !== undefined ? { Principal: s.Principal } : {}),
  }));
}

describe('secrets, namespaces, ownership and IAM', () => {
  const census = new AwsCensus();
  const inventory = new AwsInventory();
  const figures: Record<string, unknown> = {};
  let source: HostileSource;
  let namespace: string;
  let otherNamespace: string;
  let operator: OperatorProcess;
  let boundaryArn: string;
  const sharedTable = tableName('Shared');

  beforeAll(async () => {
    source = await HostileSource.start();
    namespace = createTestNamespace('relsec');
    otherNamespace = createTestNamespace('relsecb');
    const boundary = await census.iam.send(
      new CreatePolicyCommand({
        PolicyName: `dl-boundary-${randomBytes(4).toString('hex')}`,
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['execute-api:Invoke', 'dynamodb:PutItem', 'states:StartExecution'],
              Resource: '*',
            },
          ],
        }),
      }),
    );
    boundaryArn = boundary.Policy?.Arn ?? '';
    operator = startOperatorFor(`${namespace},${otherNamespace}`, {
      args: ['--execution-poll-interval', '2', '--permissions-boundary-arn', boundaryArn],
      env: { LOG_LEVEL: 'trace' },
    });
  });

  afterAll(async () => {
    await operator?.stop();
    await source?.close();
    census.destroy();
    recordFigures('security', figures);
  });

  const upstream = () => process.env.UPSTREAM_URL ?? '';
  const secret = (name: string, value: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name },
    stringData: { token: value },
  });

  it('runs pipelines with the canary: a good source, an echo, a failing echo, a source that reflects it', async () => {
    await applyAll(namespace, [secret('canary', CANARY)]);
    await applyAll(otherNamespace, [secret('shared-name', OTHER_NS_VALUE)]);

    const ok = withCanary(eveExample('ok', tableName('Sec')));
    ok.spec.source.url = source.url;
    ok.spec.source.path = '/ok';
    const echo = withCanary(eveExample('echo', tableName('Sec')), 'X-Api-Key');
    echo.spec.source.path = '/v2/echo';
    echo.spec.source.method = 'POST';
    echo.spec.item = { pk: { S: '$.Headers.Date[0]' }, method: { S: '$.ResponseBody.method' } };
    const echoFail = withCanary(eveExample('echo-fail', tableName('Sec')), 'X-Api-Key');
    echoFail.spec.source.path = '/v2/echo?failStatus=500';
    const reflect = withCanary(eveExample('reflect', tableName('Sec')));
    reflect.spec.source.url = source.url;
    reflect.spec.source.path = '/reflect';
    const owner = eveExample('owner', sharedTable);
    owner.spec.source.url = upstream();
    await applyAll(namespace, [ok, echo, echoFail, reflect, owner]);

    const expected: Record<string, string> = {
      ok: 'Succeeded',
      echo: 'Succeeded',
      'echo-fail': 'SourceServerError',
      reflect: 'SourceUnauthorized',
    };
    const started = new Map<string, number>();
    await eventually(
      'two runs of each to end as expected',
      async () => {
        const all = await listDownloaders(namespace);
        let done = 0;
        for (const name of Object.keys(expected)) {
          const d = all.get(name);
          const runs = started.get(name) ?? 0;
          const last = d?.status?.lastExecution;
          const finished =
            last && last.status !== 'RUNNING' && d?.status?.lastRunNow === String(runs);
          if (isReady(d) && (runs === 0 || (finished && runs < 2))) {
            started.set(name, runs + 1);
            await kubectlOkAsync([
              'annotate',
              'downloader',
              name,
              '-n',
              namespace,
              `downloader.dev/run-now=${runs + 1}`,
              '--overwrite',
            ]);
          } else if (runs === 2 && finished) {
            if (conditionOf(d, 'LastRunSucceeded')?.reason === expected[name]) done += 1;
          }
        }
        return done === Object.keys(expected).length ? true : undefined;
      },
      150_000,
      1_000,
    );
    // Positive control: the credential reached the source, through the integration.
    expect(JSON.stringify(source.requests)).toContain(CANARY);
    const okState = (await listDownloaders(namespace)).get('ok');
    const integration = await inventory.proxyIntegration(
      okState?.status?.resources?.restApiId ?? '',
    );
    expect(integration?.requestParameters?.['integration.request.header.Authorization']).toBe(
      `'Bearer ${CANARY}'`,
    );
  });

  it('keeps the canary out of logs at trace level, Events, status and definitions', async () => {
    const leaks: string[] = [];
    const logLines = operator.lines().filter((l) => l.includes(CANARY));
    if (logLines.length > 0) leaks.push(`operator log: ${logLines[0]?.slice(0, 300)}`);
    for (const ns of [namespace, otherNamespace]) {
      const events = await kubectlOkAsync(['get', 'events', '-n', ns, '-o', 'json']);
      if (events.includes(CANARY)) leaks.push(`Events of ${ns}`);
      const downloaders = await kubectlOkAsync(['get', 'downloaders', '-n', ns, '-o', 'json']);
      if (downloaders.includes(CANARY)) leaks.push(`Downloaders of ${ns}`);
    }
    const all = await listDownloaders(namespace);
    for (const d of all.values()) {
      const arn = d.status?.resources?.stateMachineArn;
      if (!arn) continue;
      const sm = await census.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
      if (sm.definition?.includes(CANARY)) leaks.push(`definition of ${d.metadata.name}`);
    }
    const motoLog = readFileSync(
      join(process.env.CLOUD_DIR ?? '.local', 'logs', 'moto.log'),
      'utf8',
    );
    // moto logs each failed state with its cause, as Step Functions keeps it in the history: only
    // the reflecting source's failures may show there (see the next test).
    const motoLines = motoLog.split('\n').filter((l) => l.includes(CANARY));
    figures.motoLogLinesWithCanary = motoLines.length;
    if (motoLines.some((l) => !/ApiGateway\.401.*unauthorized/.test(l))) leaks.push('moto.log');
    figures.operatorLogLines = operator.lines().length;
    figures.leaksOutsideHistory = leaks;
    expect(leaks).toEqual([]);
  });

  it('keeps it out of execution input, output and history, but for a source that reflects it', async () => {
    const all = await listDownloaders(namespace);
    const found: Array<{ name: string; where: string }> = [];
    let executions = 0;
    for (const name of ['ok', 'echo', 'echo-fail', 'reflect']) {
      const arn = all.get(name)?.status?.resources?.stateMachineArn;
      const list = await census.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
      for (const execution of list.executions ?? []) {
        executions += 1;
        const described = await census.sfn.send(
          new DescribeExecutionCommand({ executionArn: execution.executionArn }),
        );
        if (described.input?.includes(CANARY)) found.push({ name, where: 'input' });
        if (described.output?.includes(CANARY)) found.push({ name, where: 'output' });
        const history = await census.sfn.send(
          new GetExecutionHistoryCommand({ executionArn: execution.executionArn }),
        );
        for (const event of history.events ?? []) {
          if (JSON.stringify(event).includes(CANARY))
            found.push({ name, where: event.type ?? '?' });
        }
      }
    }
    figures.executionsRead = executions;
    figures.canaryInHistory = found;
    // The reflecting source puts the credential in its error body, which Step Functions keeps as
    // the failure's cause: that is AWS's record of what the source said, out of the operator's
    // hands. Nothing else may hold it.
    expect(executions).toBeGreaterThanOrEqual(8);
    expect(found.filter((f) => f.name !== 'reflect')).toEqual([]);
    expect(found.every((f) => /Failed$/.test(f.where))).toBe(true);
  });

  it('never uses a same-named Secret of another namespace', async () => {
    const d = withCanary(eveExample('other-ns-secret', tableName('Sec')));
    d.spec.source.auth!.secretRef.name = 'shared-name';
    await applyAll(namespace, [d]);
    const blocked = await eventually('SecretNotFound', async () => {
      const got = (await listDownloaders(namespace)).get('other-ns-secret');
      return conditionOf(got, 'Ready')?.reason === 'SecretNotFound' ? got : undefined;
    });
    expect(conditionOf(blocked, 'Ready')?.message).toContain(`${namespace}/shared-name`);
    expect(operator.lines().some((l) => l.includes(OTHER_NS_VALUE))).toBe(false);
    const naming = withCanary(eveExample('names-namespace', tableName('Sec')));
    (naming.spec.source.auth!.secretRef as Record<string, string>).namespace = otherNamespace;
    const refused = await kubectlAsync(['apply', '-n', namespace, '-f', '-'], {
      input: JSON.stringify(naming),
    });
    expect(refused.stderr).toContain('spec.source.auth.secretRef.namespace');
  });

  it("cannot take over, overwrite or delete another Downloader's table or proxy", async () => {
    const ownerBefore = await eventually('the owner Ready', async () => {
      const got = (await listDownloaders(namespace)).get('owner');
      return isReady(got) ? got : undefined;
    });
    const ownerApi = ownerBefore.status?.resources?.restApiId ?? '';
    const integrationOf = async (id: string) => {
      const integration = { ...(await inventory.proxyIntegration(id)) };
      delete integration.$metadata;
      return integration;
    };
    const ownerIntegration = await integrationOf(ownerApi);
    const apisBefore = (await inventory.restApisIn(namespace)).map((api) => api.id).sort();
    expect(apisBefore).toContain(ownerApi);

    const taker = eveExample('taker', sharedTable);
    taker.spec.source.url = source.url;
    taker.spec.table.deletionPolicy = 'Delete';
    await applyAll(namespace, [taker]);
    const refused = await eventually('TableOwnedByOther', async () => {
      const got = (await listDownloaders(namespace)).get('taker');
      return conditionOf(got, 'Ready')?.reason === 'TableOwnedByOther' ? got : undefined;
    });
    expect(conditionOf(refused, 'Ready')?.message).toContain(`${namespace}/owner`);

    // A hostile status: the taker's status names the owner's REST API, then it is deleted.
    await kubectlOkAsync([
      'patch',
      'downloader',
      'taker',
      '-n',
      namespace,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { resources: { restApiId: ownerApi } } }),
    ]);
    await kubectlOkAsync(['annotate', 'downloader', 'taker', '-n', namespace, 'test/nudge=1']);
    await kubectlOkAsync(['delete', 'downloader', 'taker', '-n', namespace, '--timeout=90s']);

    expect(await census.tableNames()).toContain(sharedTable);
    // The taker shares the owner's origin, so the owner's REST API is shared: it stays while the
    // owner uses it, whatever the taker's status named, and no other REST API went either.
    expect((await inventory.restApisIn(namespace)).map((api) => api.id).sort()).toEqual(apisBefore);
    expect(await integrationOf(ownerApi)).toEqual(ownerIntegration);
    await kubectlOkAsync([
      'annotate',
      'downloader',
      'owner',
      '-n',
      namespace,
      'downloader.dev/run-now=after',
    ]);
    const ran = await eventually('the owner to run after the taker is gone', async () => {
      const got = (await listDownloaders(namespace)).get('owner');
      const last = got?.status?.lastExecution;
      return got?.status?.lastRunNow === 'after' && last && last.status !== 'RUNNING'
        ? got
        : undefined;
    });
    expect(ran.status?.lastExecution?.status).toBe('SUCCEEDED');
    expect(isReady(ran)).toBe(true);
  });

  it('gives roles exactly what their pipeline needs, within the permissions boundary', async () => {
    const ok = (await listDownloaders(namespace)).get('ok')!;
    const resources = ok.status?.resources ?? {};
    const roleName = (arn: string | undefined) => arn?.split('/').pop() ?? '';
    const expected = {
      [roleName(resources.stateMachineRoleArn)]: {
        trusted: 'states.amazonaws.com',
        grants: [
          {
            Effect: 'Allow',
            Action: 'execute-api:Invoke',
            Resource: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${resources.restApiId}/downloader/GET/ok`,
          },
          { Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: resources.tableArn },
        ],
      },
      [roleName(resources.schedulerRoleArn)]: {
        trusted: 'scheduler.amazonaws.com',
        grants: [
          { Effect: 'Allow', Action: 'states:StartExecution', Resource: resources.stateMachineArn },
        ],
      },
    };
    for (const [name, want] of Object.entries(expected)) {
      const role = (await census.iam.send(new GetRoleCommand({ RoleName: name }))).Role;
      expect(role?.PermissionsBoundary?.PermissionsBoundaryArn).toBe(boundaryArn);
      expect(grants(role?.AssumeRolePolicyDocument)).toEqual([
        { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: want.trusted } },
      ]);
      const inline = await census.iam.send(new ListRolePoliciesCommand({ RoleName: name }));
      expect(inline.PolicyNames).toEqual(['downloader-operator']);
      const attached = await census.iam.send(
        new ListAttachedRolePoliciesCommand({ RoleName: name }),
      );
      expect(attached.AttachedPolicies).toEqual([]);
      const policy = await census.iam.send(
        new GetRolePolicyCommand({ RoleName: name, PolicyName: 'downloader-operator' }),
      );
      expect(grants(policy.PolicyDocument)).toEqual(want.grants);
    }
    figures.rolesChecked = Object.keys(expected).length;
    figures.permissionsBoundary = 'on every role';
  });
});

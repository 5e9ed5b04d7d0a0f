import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EXECUTION_EVENTS_TAGS } from '../../../src/aws/execution-events.js';
import { DEFAULT_EXECUTION_EVENTS_QUEUE } from '../../../src/config.js';
import { names } from '../../../src/controller/desired.js';
import { connectionName } from '../../../src/controller/transport.js';
import { ROLE_PATH } from '../../../src/aws/roles.js';
import { ownerTags, type Owner } from '../../../src/aws/owner.js';
import {
  httpTaskStateMachinePolicy,
  schedulerPolicy,
  stateMachinePolicy,
} from '../../../src/workflow/policies.js';
import { allowingStatements, decide, type Need, type PolicyDocument } from './policy-evaluator.js';

/**
 * The controller policy in iam/ against the code: every AWS SDK command src/ sends maps (in the
 * table below) to the IAM authorizations AWS evaluates for it, and the policy allows each of
 * them and nothing the table does not need. A new command fails the first test until it is
 * added to the table, and to the policy if it needs more. The end-to-end proof that the policy
 * is enough is test/integration/iam/enforced-policy.test.ts.
 */

const policy = (file: string) =>
  JSON.parse(readFileSync(join('iam', file), 'utf8')) as PolicyDocument;
const CONTROLLER = policy('controller-policy.json');
const WITH_BOUNDARY = policy('controller-policy-with-boundary.json');
const ROLE_BOUNDARY = policy('role-permissions-boundary.json');

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const BOUNDARY_ARN = `arn:aws:iam::${ACCOUNT}:policy/downloader-operator-role-boundary`;

// A Downloader whose names are cut to fit: the policy's name patterns must survive the cut.
const owner: Owner = {
  namespace: 'team-data-pipelines-with-a-rather-long-namespace-name-0123456',
  name: `eve-player-count-${'x'.repeat(200)}`,
  uid: '3f0c7a52-9d1e-4c1b-8a7e-2b5d0e6f9a11',
};
const TAG_CONTEXT = { 'aws:TagKeys': Object.keys(ownerTags(owner)) };
const stateMachineArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${names.stateMachine(owner)}`;
const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${names.stateMachine(owner)}:run-now-0123abcd`;
const scheduleArn = `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/${names.schedule(owner)}`;
const roleArn = `arn:aws:iam::${ACCOUNT}:role${ROLE_PATH}${names.stateMachineRole(owner)}`;
const tableArn = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/PlayerCountTable`;
const queueArn = `arn:aws:sqs:${REGION}:${ACCOUNT}:${DEFAULT_EXECUTION_EVENTS_QUEUE}`;
const ruleArn = `arn:aws:events:${REGION}:${ACCOUNT}:rule/${DEFAULT_EXECUTION_EVENTS_QUEUE}`;
const EVENTS_TAG_CONTEXT = { 'aws:TagKeys': Object.keys(EXECUTION_EVENTS_TAGS) };
const CONNECTION_ID = '5a1b2c3d-0000-4000-8000-000000000000';
const connectionArn = `arn:aws:events:${REGION}:${ACCOUNT}:connection/${connectionName(owner)}/${CONNECTION_ID}`;
const connectionSecretArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:events!connection/${connectionName(owner)}/${CONNECTION_ID}/auth-AbCdEf`;
const connectionSecret = (...actions: string[]): Need[] =>
  actions.map((action) => ({ action, resource: connectionSecretArn }));
const apigw = (path: string) => `arn:aws:apigateway:${REGION}::${path}`;
const api = '/restapis/a1b2c3d4e5';
const method = `${api}/resources/r1s2t3/methods/ANY`;
const passRole = (service: string): Need => ({
  action: 'iam:PassRole',
  resource: roleArn,
  context: { 'iam:PassedToService': service },
});
const role = (action: string, context?: Need['context']): Need => ({
  action,
  resource: roleArn,
  ...(context ? { context } : {}),
});

/**
 * What AWS authorizes for each command the operator sends (Service Authorization Reference):
 * the action on the resource, plus what the request implies: iam:PassRole for a role handed to
 * a service, the tagging action for tags given at creation.
 */
const PERMISSIONS: Record<string, Need[]> = {
  'client-sts:GetCallerIdentityCommand': [{ action: 'sts:GetCallerIdentity', resource: '*' }],

  'client-api-gateway:GetRestApisCommand': [
    { action: 'apigateway:GET', resource: apigw('/restapis') },
  ],
  'client-api-gateway:GetRestApiCommand': [{ action: 'apigateway:GET', resource: apigw(api) }],
  'client-api-gateway:CreateRestApiCommand': [
    { action: 'apigateway:POST', resource: apigw('/restapis'), context: TAG_CONTEXT },
    {
      action: 'apigateway:PUT',
      resource: apigw(`/tags/${encodeURIComponent(apigw(api))}`),
      context: TAG_CONTEXT,
    },
  ],
  'client-api-gateway:DeleteRestApiCommand': [
    { action: 'apigateway:DELETE', resource: apigw(api) },
  ],
  'client-api-gateway:GetResourcesCommand': [
    { action: 'apigateway:GET', resource: apigw(`${api}/resources`) },
  ],
  'client-api-gateway:CreateResourceCommand': [
    { action: 'apigateway:POST', resource: apigw(`${api}/resources/root0`) },
  ],
  'client-api-gateway:PutMethodCommand': [{ action: 'apigateway:PUT', resource: apigw(method) }],
  'client-api-gateway:DeleteMethodCommand': [
    { action: 'apigateway:DELETE', resource: apigw(method) },
  ],
  'client-api-gateway:PutIntegrationCommand': [
    { action: 'apigateway:PUT', resource: apigw(`${method}/integration`) },
  ],
  'client-api-gateway:GetIntegrationCommand': [
    { action: 'apigateway:GET', resource: apigw(`${method}/integration`) },
  ],
  'client-api-gateway:CreateDeploymentCommand': [
    { action: 'apigateway:POST', resource: apigw(`${api}/deployments`) },
  ],
  'client-api-gateway:GetDeploymentCommand': [
    { action: 'apigateway:GET', resource: apigw(`${api}/deployments/d1e2f3`) },
  ],
  'client-api-gateway:GetStageCommand': [
    { action: 'apigateway:GET', resource: apigw(`${api}/stages/downloader`) },
  ],

  'client-dynamodb:CreateTableCommand': [
    { action: 'dynamodb:CreateTable', resource: tableArn },
    { action: 'dynamodb:TagResource', resource: tableArn, context: TAG_CONTEXT },
  ],
  'client-dynamodb:DescribeTableCommand': [
    { action: 'dynamodb:DescribeTable', resource: tableArn },
  ],
  'client-dynamodb:DeleteTableCommand': [{ action: 'dynamodb:DeleteTable', resource: tableArn }],
  'client-dynamodb:ListTagsOfResourceCommand': [
    { action: 'dynamodb:ListTagsOfResource', resource: tableArn },
  ],

  'client-sfn:CreateStateMachineCommand': [
    { action: 'states:CreateStateMachine', resource: stateMachineArn },
    { action: 'states:TagResource', resource: stateMachineArn, context: TAG_CONTEXT },
    passRole('states.amazonaws.com'),
  ],
  'client-sfn:DescribeStateMachineCommand': [
    { action: 'states:DescribeStateMachine', resource: stateMachineArn },
  ],
  'client-sfn:UpdateStateMachineCommand': [
    { action: 'states:UpdateStateMachine', resource: stateMachineArn },
    passRole('states.amazonaws.com'),
  ],
  'client-sfn:DeleteStateMachineCommand': [
    { action: 'states:DeleteStateMachine', resource: stateMachineArn },
  ],
  'client-sfn:ListTagsForResourceCommand': [
    { action: 'states:ListTagsForResource', resource: stateMachineArn },
  ],
  'client-sfn:TagResourceCommand': [
    { action: 'states:TagResource', resource: stateMachineArn, context: TAG_CONTEXT },
  ],
  'client-sfn:StartExecutionCommand': [
    { action: 'states:StartExecution', resource: stateMachineArn },
  ],
  'client-sfn:ListExecutionsCommand': [
    { action: 'states:ListExecutions', resource: stateMachineArn },
  ],
  'client-sfn:DescribeExecutionCommand': [
    { action: 'states:DescribeExecution', resource: executionArn },
  ],

  'client-scheduler:GetScheduleCommand': [
    { action: 'scheduler:GetSchedule', resource: scheduleArn },
  ],
  'client-scheduler:CreateScheduleCommand': [
    { action: 'scheduler:CreateSchedule', resource: scheduleArn },
    passRole('scheduler.amazonaws.com'),
  ],
  'client-scheduler:UpdateScheduleCommand': [
    { action: 'scheduler:UpdateSchedule', resource: scheduleArn },
    passRole('scheduler.amazonaws.com'),
  ],
  'client-scheduler:DeleteScheduleCommand': [
    { action: 'scheduler:DeleteSchedule', resource: scheduleArn },
  ],

  // The execution events queue and rule: one per installation, named from configuration.
  'client-sqs:GetQueueUrlCommand': [{ action: 'sqs:GetQueueUrl', resource: queueArn }],
  'client-sqs:CreateQueueCommand': [
    { action: 'sqs:CreateQueue', resource: queueArn, context: EVENTS_TAG_CONTEXT },
    { action: 'sqs:TagQueue', resource: queueArn, context: EVENTS_TAG_CONTEXT },
  ],
  'client-sqs:GetQueueAttributesCommand': [
    { action: 'sqs:GetQueueAttributes', resource: queueArn },
  ],
  'client-sqs:SetQueueAttributesCommand': [
    { action: 'sqs:SetQueueAttributes', resource: queueArn },
  ],
  'client-sqs:ListQueueTagsCommand': [{ action: 'sqs:ListQueueTags', resource: queueArn }],
  'client-sqs:TagQueueCommand': [
    { action: 'sqs:TagQueue', resource: queueArn, context: EVENTS_TAG_CONTEXT },
  ],
  'client-sqs:ReceiveMessageCommand': [{ action: 'sqs:ReceiveMessage', resource: queueArn }],
  // Batch actions are authorized as their single-message action.
  'client-sqs:DeleteMessageBatchCommand': [{ action: 'sqs:DeleteMessage', resource: queueArn }],
  'client-eventbridge:DescribeRuleCommand': [{ action: 'events:DescribeRule', resource: ruleArn }],
  'client-eventbridge:PutRuleCommand': [
    { action: 'events:PutRule', resource: ruleArn, context: EVENTS_TAG_CONTEXT },
    { action: 'events:TagResource', resource: ruleArn, context: EVENTS_TAG_CONTEXT },
  ],
  'client-eventbridge:ListTagsForResourceCommand': [
    { action: 'events:ListTagsForResource', resource: ruleArn },
  ],
  'client-eventbridge:TagResourceCommand': [
    { action: 'events:TagResource', resource: ruleArn, context: EVENTS_TAG_CONTEXT },
  ],
  'client-eventbridge:ListTargetsByRuleCommand': [
    { action: 'events:ListTargetsByRule', resource: ruleArn },
  ],
  'client-eventbridge:PutTargetsCommand': [
    { action: 'events:PutTargets', resource: ruleArn, context: { 'events:TargetArn': [queueArn] } },
  ],

  // HttpTask connections. EventBridge keeps the credential in a Secrets Manager secret it makes
  // and changes on the caller's behalf, which AWS authorizes as the caller's own secret calls.
  'client-eventbridge:CreateConnectionCommand': [
    { action: 'events:CreateConnection', resource: connectionArn },
    ...connectionSecret('secretsmanager:CreateSecret'),
  ],
  'client-eventbridge:DescribeConnectionCommand': [
    { action: 'events:DescribeConnection', resource: connectionArn },
  ],
  'client-eventbridge:UpdateConnectionCommand': [
    { action: 'events:UpdateConnection', resource: connectionArn },
    ...connectionSecret(
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecret',
    ),
  ],
  'client-eventbridge:DeleteConnectionCommand': [
    { action: 'events:DeleteConnection', resource: connectionArn },
    ...connectionSecret('secretsmanager:DeleteSecret'),
  ],

  'client-iam:CreateRoleCommand': [
    role('iam:CreateRole', { 'iam:PermissionsBoundary': BOUNDARY_ARN, ...TAG_CONTEXT }),
    role('iam:TagRole', TAG_CONTEXT),
  ],
  // Before the role exists, AWS cannot know its path: the name alone is all it has.
  'client-iam:GetRoleCommand': [
    role('iam:GetRole'),
    {
      action: 'iam:GetRole',
      resource: `arn:aws:iam::${ACCOUNT}:role/${names.stateMachineRole(owner)}`,
    },
  ],
  'client-iam:UpdateRoleCommand': [role('iam:UpdateRole')],
  'client-iam:DeleteRoleCommand': [role('iam:DeleteRole')],
  'client-iam:UpdateAssumeRolePolicyCommand': [role('iam:UpdateAssumeRolePolicy')],
  'client-iam:PutRolePolicyCommand': [
    role('iam:PutRolePolicy', { 'iam:PermissionsBoundary': BOUNDARY_ARN }),
  ],
  'client-iam:GetRolePolicyCommand': [role('iam:GetRolePolicy')],
  'client-iam:DeleteRolePolicyCommand': [
    role('iam:DeleteRolePolicy', { 'iam:PermissionsBoundary': BOUNDARY_ARN }),
  ],
  'client-iam:ListRolePoliciesCommand': [role('iam:ListRolePolicies')],
  'client-iam:ListAttachedRolePoliciesCommand': [role('iam:ListAttachedRolePolicies')],
  'client-iam:DetachRolePolicyCommand': [
    role('iam:DetachRolePolicy', { 'iam:PermissionsBoundary': BOUNDARY_ARN }),
  ],
  'client-iam:TagRoleCommand': [role('iam:TagRole', TAG_CONTEXT)],
  'client-iam:PutRolePermissionsBoundaryCommand': [
    role('iam:PutRolePermissionsBoundary', { 'iam:PermissionsBoundary': BOUNDARY_ARN }),
  ],
  'client-iam:DeleteRolePermissionsBoundaryCommand': [
    role('iam:DeleteRolePermissionsBoundary', { 'iam:PermissionsBoundary': BOUNDARY_ARN }),
  ],
};

/** Commands the boundary variant refuses on purpose: a role may not lose its boundary. */
const REFUSED_WITH_BOUNDARY = new Set(['client-iam:DeleteRolePermissionsBoundaryCommand']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

/** `client-xxx:NameCommand` for each AWS SDK command src/ constructs with `new`. */
function commandsInSource(): Set<string> {
  const found = new Set<string>();
  for (const file of sourceFiles('src')) {
    const text = readFileSync(file, 'utf8');
    const imported = new Map<string, string>();
    for (const match of text.matchAll(
      /import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/(client-[a-z0-9-]+)'/g,
    )) {
      for (const part of (match[1] ?? '').split(',')) {
        const name = part.trim().replace(/^type\s+/, '');
        if (name.endsWith('Command')) imported.set(name, match[2] ?? '');
      }
    }
    for (const match of text.matchAll(/new\s+([A-Za-z]+Command)\s*\(/g)) {
      const client = imported.get(match[1] ?? '');
      if (client) found.add(`${client}:${match[1]}`);
    }
  }
  return found;
}

const used = commandsInSource();
const neededFor = (commands: Iterable<string>) =>
  [...commands].flatMap((command) =>
    (PERMISSIONS[command] ?? []).map((need) => ({ command, need })),
  );

describe('iam/controller-policy.json', () => {
  it('knows what every AWS SDK command in src/ needs', () => {
    expect(used.size).toBeGreaterThan(30);
    expect([...used].filter((command) => !(command in PERMISSIONS))).toEqual([]);
  });

  it('allows what each of them needs', () => {
    const refused = neededFor(used)
      .filter(({ need }) => decide(CONTROLLER, need) !== 'allow')
      .map(({ command, need }) => `${command}: ${need.action} on ${need.resource}`);
    expect(refused).toEqual([]);
  });

  it('grants nothing else: each action and resource of each statement is needed', () => {
    const needs = neededFor(used).map(({ need }) => need);
    const unneeded: string[] = [];
    for (const statement of CONTROLLER.Statement) {
      for (const action of [statement.Action ?? []].flat()) {
        for (const resource of [statement.Resource ?? []].flat()) {
          const single = { ...statement, Action: action, Resource: resource };
          const needed = needs.some(
            (need) => allowingStatements({ ...CONTROLLER, Statement: [single] }, need).length > 0,
          );
          if (!needed) unneeded.push(`${statement.Sid}: ${action} on ${resource}`);
        }
      }
    }
    expect(unneeded).toEqual([]);
  });

  it('has no wildcard action, and no wildcard resource but for GetCallerIdentity', () => {
    for (const statement of CONTROLLER.Statement) {
      expect(statement.Effect).toBe('Allow');
      expect(statement.Sid).toMatch(/^[A-Za-z0-9]+$/);
      for (const action of [statement.Action ?? []].flat()) expect(action).not.toContain('*');
      if ([statement.Resource].flat().includes('*')) {
        expect(statement.Action).toBe('sts:GetCallerIdentity');
      }
    }
  });

  it('passes roles only under the operator path, and only to Step Functions and Scheduler', () => {
    expect(decide(CONTROLLER, passRole('lambda.amazonaws.com'))).toBe('implicitDeny');
    expect(decide(CONTROLLER, { action: 'iam:PassRole', resource: roleArn })).toBe('implicitDeny');
    const elsewhere = {
      ...passRole('states.amazonaws.com'),
      resource: `arn:aws:iam::${ACCOUNT}:role/admin`,
    };
    expect(decide(CONTROLLER, elsewhere)).toBe('implicitDeny');
  });

  it('points the events rule only at the operator queue', () => {
    const elsewhere = {
      action: 'events:PutTargets',
      resource: ruleArn,
      context: { 'events:TargetArn': [`arn:aws:lambda:${REGION}:${ACCOUNT}:function:any`] },
    };
    expect(decide(CONTROLLER, elsewhere)).toBe('implicitDeny');
  });

  it('tags only with the operator tag keys', () => {
    const foreign = { 'aws:TagKeys': ['downloader.dev/uid', 'owner'] };
    expect(decide(CONTROLLER, { ...role('iam:TagRole'), context: foreign })).toBe('implicitDeny');
    expect(
      decide(CONTROLLER, { action: 'dynamodb:TagResource', resource: tableArn, context: foreign }),
    ).toBe('implicitDeny');
  });
});

describe('iam/controller-policy-with-boundary.json', () => {
  it('allows what every command needs when the role carries the boundary', () => {
    const refused = neededFor([...used].filter((c) => !REFUSED_WITH_BOUNDARY.has(c)))
      .filter(({ need }) => decide(WITH_BOUNDARY, need) !== 'allow')
      .map(({ command, need }) => `${command}: ${need.action} on ${need.resource}`);
    expect(refused).toEqual([]);
  });

  it.each([
    'iam:CreateRole',
    'iam:PutRolePermissionsBoundary',
    'iam:PutRolePolicy',
    'iam:DeleteRolePolicy',
    'iam:DetachRolePolicy',
  ])('refuses %s without the boundary, or with another one', (action) => {
    expect(decide(WITH_BOUNDARY, role(action, TAG_CONTEXT))).toBe('implicitDeny');
    const other = {
      'iam:PermissionsBoundary': `arn:aws:iam::${ACCOUNT}:policy/AdministratorAccess`,
    };
    expect(decide(WITH_BOUNDARY, role(action, other))).toBe('implicitDeny');
  });

  it('never removes a boundary', () => {
    const need = PERMISSIONS['client-iam:DeleteRolePermissionsBoundaryCommand']![0]!;
    expect(decide(WITH_BOUNDARY, need)).toBe('implicitDeny');
  });

  it('differs from the plain policy only in the role statements', () => {
    const notIam = (p: PolicyDocument) =>
      p.Statement.filter((s) => ![s.Action].flat().some((a) => a?.startsWith('iam:')));
    expect(notIam(WITH_BOUNDARY)).toEqual(notIam(CONTROLLER));
  });
});

describe('iam/role-permissions-boundary.json', () => {
  it('allows everything the policies of the roles the operator makes grant', () => {
    const smPolicy = stateMachinePolicy({
      partition: 'aws',
      region: REGION,
      accountId: ACCOUNT,
      restApiId: 'a1b2c3d4e5',
      stage: 'downloader',
      method: 'GET',
      path: '/v2/status?datasource=tranquility',
      tableArn,
    });
    const schedPolicy = schedulerPolicy({ stateMachineArn });
    const httpPolicy = httpTaskStateMachinePolicy({
      partition: 'aws',
      stateMachineArn,
      sourceUrl: 'https://esi.evetech.net',
      method: 'GET',
      connectionArn,
      connectionName: connectionName(owner),
      tableArn,
    });
    const granted = [
      ...smPolicy.Statement,
      ...schedPolicy.Statement,
      ...httpPolicy.Statement,
    ].flatMap((s) =>
      [s.Action]
        .flat()
        .flatMap((action) => [s.Resource ?? []].flat().map((resource) => ({ action, resource }))),
    );
    expect(granted.length).toBe(3 + 5);
    expect(granted.filter((need) => decide(ROLE_BOUNDARY, need) !== 'allow')).toEqual([]);
  });

  it('caps those roles: nothing beyond invoking, putting items and starting downloaders', () => {
    expect(decide(ROLE_BOUNDARY, { action: 'dynamodb:DeleteTable', resource: tableArn })).toBe(
      'implicitDeny',
    );
    expect(decide(ROLE_BOUNDARY, { action: 'iam:CreateRole', resource: roleArn })).toBe(
      'implicitDeny',
    );
    const other = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:payroll`;
    expect(decide(ROLE_BOUNDARY, { action: 'states:StartExecution', resource: other })).toBe(
      'implicitDeny',
    );
  });
});

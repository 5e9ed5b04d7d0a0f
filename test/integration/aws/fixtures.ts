import {
  APIGatewayClient,
  CreateDeploymentCommand,
  CreateResourceCommand,
  CreateRestApiCommand,
  GetResourcesCommand,
  PutIntegrationCommand,
  PutMethodCommand,
} from '@aws-sdk/client-api-gateway';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';

import type { LocalAws } from './local-aws.js';

/** The account moto answers for with the test credentials. */
export const ACCOUNT_ID = '123456789012';

/** A role ARN for state machines and schedules; moto does not check IAM. */
export const TEST_ROLE_ARN = `arn:aws:iam::${ACCOUNT_ID}:role/downloader-test`;

/** The AWS SDK clients of the tests, all pointed at the local AWS. */
export interface Clients {
  apigw: APIGatewayClient;
  sfn: SFNClient;
  ddb: DynamoDBClient;
  scheduler: SchedulerClient;
}

export function clientsFor(aws: LocalAws): Clients {
  const config = { endpoint: aws.endpoint, region: aws.region, credentials: aws.credentials };
  return {
    apigw: new APIGatewayClient(config),
    sfn: new SFNClient(config),
    ddb: new DynamoDBClient(config),
    scheduler: new SchedulerClient(config),
  };
}

export function destroyClients(clients: Clients): void {
  for (const client of Object.values(clients)) client.destroy();
}

let nameCounter = 0;

/** A name no other test (or earlier run against the same AWS) uses. */
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  const random = Math.random().toString(36).slice(2, 7);
  return `${prefix}-${Date.now().toString(36)}-${random}${nameCounter}`;
}

/** The `ApiEndpoint` an apigateway:invoke task uses for a local REST API. */
export function invokeEndpoint(aws: LocalAws, restApiId: string): string {
  return aws.invokeEndpointTemplate.replace('{restApiId}', restApiId);
}

/** The URL of a deployed stage, to which a path is appended. */
export function stageUrl(aws: LocalAws, restApiId: string, stage: string): string {
  return aws.stageUrlTemplate.replace('{restApiId}', restApiId).replace('{stage}', stage);
}

export interface ProxyApiOptions {
  /** Origin the proxy forwards to. */
  upstreamUrl: string;
  stage?: string;
  /** Extra method request parameters, e.g. `{'method.request.header.MyCustomAuth': false}`. */
  methodRequestParameters?: Record<string, boolean>;
  /** Extra integration request parameters, e.g. a header mapping. */
  integrationRequestParameters?: Record<string, string>;
  /** Map `{proxy}` in the URI from the method's path parameter (default true, as AWS needs). */
  mapProxyPath?: boolean;
  /** The integration timeout (API Gateway's default is 29 s). */
  timeoutInMillis?: number;
}

export interface ProxyApi {
  restApiId: string;
  resourceId: string;
  stage: string;
}

/**
 * The article's REST API: a `{proxy+}` resource with an ANY method and an HTTP_PROXY
 * integration to `<upstream>/{proxy}`, deployed to a stage.
 */
export async function createProxyApi(apigw: APIGatewayClient, options: ProxyApiOptions) {
  const stage = options.stage ?? 'prod';
  const mapProxyPath = options.mapProxyPath ?? true;
  const api = await apigw.send(new CreateRestApiCommand({ name: uniqueName('proxy') }));
  const restApiId = api.id!;
  const resources = await apigw.send(new GetResourcesCommand({ restApiId }));
  const rootId = resources.items!.find((r) => r.path === '/')!.id!;
  const resource = await apigw.send(
    new CreateResourceCommand({ restApiId, parentId: rootId, pathPart: '{proxy+}' }),
  );
  const resourceId = resource.id!;

  await apigw.send(
    new PutMethodCommand({
      restApiId,
      resourceId,
      httpMethod: 'ANY',
      authorizationType: 'NONE',
      requestParameters: {
        'method.request.path.proxy': true,
        ...options.methodRequestParameters,
      },
    }),
  );
  await apigw.send(
    new PutIntegrationCommand({
      restApiId,
      resourceId,
      httpMethod: 'ANY',
      type: 'HTTP_PROXY',
      integrationHttpMethod: 'ANY',
      uri: `${options.upstreamUrl}/{proxy}`,
      timeoutInMillis: options.timeoutInMillis,
      requestParameters: {
        ...(mapProxyPath ? { 'integration.request.path.proxy': 'method.request.path.proxy' } : {}),
        ...options.integrationRequestParameters,
      },
    }),
  );
  await apigw.send(new CreateDeploymentCommand({ restApiId, stageName: stage }));
  return { restApiId, resourceId, stage } satisfies ProxyApi;
}

/** The article's table: partition key `pk` of type S, on-demand. */
export async function createPlayerCountTable(ddb: DynamoDBClient): Promise<string> {
  const tableName = uniqueName('PlayerCountTable');
  await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return tableName;
}

export interface ArticleDefinitionOptions {
  apiEndpoint: string;
  tableName: string;
  stage?: string;
  path?: string;
  /** Extra apigateway:invoke parameters (Headers, QueryParameters...). */
  invokeParameters?: Record<string, unknown>;
}

/**
 * The article's two-step state machine: "Get player count" (apigateway:invoke) then "Store
 * player count" (dynamodb:putItem) with `pk` from the Date header and `count` from the body.
 */
export function articleDefinition(options: ArticleDefinitionOptions) {
  return {
    StartAt: 'Get player count',
    States: {
      'Get player count': {
        Type: 'Task',
        Resource: 'arn:aws:states:::apigateway:invoke',
        Parameters: {
          ApiEndpoint: options.apiEndpoint,
          Stage: options.stage ?? 'prod',
          Method: 'GET',
          Path: options.path ?? '/v2/status',
          ...options.invokeParameters,
        },
        Next: 'Store player count',
      },
      'Store player count': {
        Type: 'Task',
        Resource: 'arn:aws:states:::dynamodb:putItem',
        Parameters: {
          TableName: options.tableName,
          Item: {
            pk: { 'S.$': '$.Headers.Date[0]' },
            count: { 'N.$': "States.Format('{}', $.ResponseBody.players)" },
          },
        },
        End: true,
      },
    },
  };
}

export async function createStateMachine(sfn: SFNClient, definition: object): Promise<string> {
  const created = await sfn.send(
    new CreateStateMachineCommand({
      name: uniqueName('sm'),
      definition: JSON.stringify(definition),
      roleArn: TEST_ROLE_ARN,
    }),
  );
  return created.stateMachineArn!;
}

/** Polls until `probe` returns a value, or fails naming what did not happen in time. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits until an execution leaves RUNNING and returns its description. */
export async function waitForExecution(
  sfn: SFNClient,
  executionArn: string,
  timeoutMs = 30_000,
): Promise<DescribeExecutionCommandOutput> {
  return waitFor(
    `execution ${executionArn} to finish`,
    async () => {
      const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return description.status === 'RUNNING' ? undefined : description;
    },
    timeoutMs,
  );
}

/** The parsed outputs of an execution's TaskSucceeded events, in order. */
export async function taskOutputs(sfn: SFNClient, executionArn: string): Promise<unknown[]> {
  const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
  return (history.events ?? [])
    .filter((e) => e.type === 'TaskSucceeded')
    .map((e) => JSON.parse(e.taskSucceededEventDetails?.output ?? 'null') as unknown);
}

/** A request the stand-in upstream received, as its `GET /_requests` reports it. */
export interface UpstreamRequest {
  method: string;
  path: string;
  rawUrl: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

/** What the upstream received with `?scope=<scope>` (a scope keeps tests apart). */
export async function upstreamRequests(aws: LocalAws, scope: string): Promise<UpstreamRequest[]> {
  const response = await fetch(`${aws.upstreamUrl}/_requests?scope=${encodeURIComponent(scope)}`);
  const body = (await response.json()) as { requests: UpstreamRequest[] };
  return body.requests;
}

/** Sets switches of the upstream for requests carrying `?scope=<scope>`. */
export async function controlUpstream(
  aws: LocalAws,
  scope: string,
  settings: Record<string, number>,
): Promise<void> {
  const response = await fetch(`${aws.upstreamUrl}/_control`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ scope, ...settings }),
  });
  if (!response.ok) throw new Error(`upstream /_control answered ${response.status}`);
}

/** A debug endpoint of the launcher (outside the AWS API). */
export async function launcherDebug<T>(aws: LocalAws, pathAndQuery: string): Promise<T> {
  const response = await fetch(`${aws.endpoint}/_launcher/${pathAndQuery}`);
  const body = (await response.json()) as T;
  if (!response.ok) throw new Error(`launcher ${pathAndQuery} answered ${response.status}`);
  return body;
}

/** Creates a state machine of `definition`, runs it once with `input` and waits for its end. */
export async function executeOnce(sfn: SFNClient, definition: object, input: object = {}) {
  const stateMachineArn = await createStateMachine(sfn, definition);
  const started = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn,
      name: uniqueName('run'),
      input: JSON.stringify(input),
    }),
  );
  const execution = await waitForExecution(sfn, started.executionArn!);
  return { ...execution, parsedOutput: JSON.parse(execution.output ?? 'null') as unknown };
}

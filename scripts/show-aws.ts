/**
 * Prints the AWS resources behind one Downloader, read from AWS itself (not from the operator),
 * and the items in its table. Used by the demo: `tsx scripts/show-aws.ts NAMESPACE NAME
 * [--rows-only]`.
 */
import {
  APIGatewayClient,
  GetIntegrationCommand,
  GetResourcesCommand,
  GetRestApiCommand,
  GetStageCommand,
} from '@aws-sdk/client-api-gateway';
import { DescribeTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DownloaderClient } from '../src/kube/downloader-client.js';
import { createKubeClients } from '../src/kube/clients.js';

const [namespace = 'demo', name = 'eve-player-count', flag] = process.argv.slice(2);
const downloader = await new DownloaderClient(createKubeClients()).get(namespace, name);
const resources = downloader.status?.resources ?? {};
const dynamodb = new DynamoDBClient({});
const tableName = downloader.spec.table.name;

if (flag !== '--rows-only') {
  const apigw = new APIGatewayClient({});
  if (resources.restApiId) {
    const restApiId = resources.restApiId;
    const items = (await apigw.send(new GetResourcesCommand({ restApiId }))).items ?? [];
    const proxy = items.find((r) => r.path === '/{proxy+}');
    const integration = proxy?.id
      ? await apigw.send(
          new GetIntegrationCommand({ restApiId, resourceId: proxy.id, httpMethod: 'ANY' }),
        )
      : undefined;
    const stage = await apigw.send(
      new GetStageCommand({ restApiId, stageName: resources.stageName ?? 'downloader' }),
    );
    const api = await apigw.send(new GetRestApiCommand({ restApiId }));
    const shareKey = api.tags?.['downloader.dev/share-key'];
    console.log(
      `API Gateway REST API ${restApiId} (${api.name})` +
        (shareKey ? `, shared in ${namespace} by share key ${shareKey}` : ''),
    );
    console.log(`  {proxy+} ANY -> ${integration?.type} ${integration?.uri}`);
    console.log(`  stage ${stage.stageName}, deployment ${stage.deploymentId}`);
  }
  const table = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  console.log(
    `DynamoDB table ${tableName}: ${table.Table?.TableStatus}, keys ${JSON.stringify(table.Table?.KeySchema)}`,
  );
  if (resources.stateMachineArn) {
    const sm = await new SFNClient({}).send(
      new DescribeStateMachineCommand({ stateMachineArn: resources.stateMachineArn }),
    );
    console.log(`Step Functions state machine ${sm.name} (${sm.type}), role ${sm.roleArn}`);
    console.log(JSON.stringify(JSON.parse(sm.definition ?? '{}'), null, 2).replace(/^/gm, '  '));
  }
  if (resources.scheduleArn) {
    const scheduleName = resources.scheduleArn.split('/').pop() ?? '';
    const schedule = await new SchedulerClient({}).send(
      new GetScheduleCommand({ Name: scheduleName }),
    );
    console.log(
      `EventBridge schedule ${schedule.Name}: ${schedule.ScheduleExpression} ` +
        `${schedule.ScheduleExpressionTimezone ?? ''} ${schedule.State} -> ${schedule.Target?.Arn}`,
    );
  }
}

const rows = (await dynamodb.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
console.log(`${rows.length} rows in ${tableName}; latest:`);
rows
  .sort((a, b) => Date.parse(b.pk?.S ?? '') - Date.parse(a.pk?.S ?? ''))
  .slice(0, 3)
  .forEach((row) => console.log(`  ${JSON.stringify(row)}`));

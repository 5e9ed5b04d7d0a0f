import {
  APIGatewayClient,
  GetIntegrationCommand,
  GetResourcesCommand,
  GetRestApisCommand,
  GetStageCommand,
} from '@aws-sdk/client-api-gateway';
import { DynamoDBClient, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';

/**
 * Reads AWS directly, independently of the operator's own code, to check what exists: the
 * tests judge the operator by what is in AWS, not by what it says it did.
 */
export class AwsInventory {
  readonly apigw = new APIGatewayClient({});
  readonly dynamodb = new DynamoDBClient({});
  readonly sfn = new SFNClient({});
  readonly scheduler = new SchedulerClient({});
  readonly iam = new IAMClient({});

  /** REST APIs tagged as belonging to the Downloader with this UID (not shared ones). */
  async restApis(uid: string) {
    const apis = (await this.apigw.send(new GetRestApisCommand({ limit: 500 }))).items ?? [];
    return apis.filter((api) => api.tags?.['downloader.dev/uid'] === uid);
  }

  /** Every REST API the operator made in `namespace`, shared or a Downloader's own. */
  async restApisIn(namespace: string) {
    const apis = (await this.apigw.send(new GetRestApisCommand({ limit: 500 }))).items ?? [];
    return apis.filter(
      (api) =>
        api.tags?.['downloader.dev/managed-by'] === 'downloader-operator' &&
        api.tags['downloader.dev/namespace'] === namespace,
    );
  }

  /** The shared REST APIs of `namespace` (tagged with a share key), oldest first. */
  async sharedRestApis(namespace: string) {
    const apis = await this.restApisIn(namespace);
    return apis
      .filter((api) => api.tags?.['downloader.dev/share-key'] !== undefined)
      .sort((a, b) => (a.createdDate?.getTime() ?? 0) - (b.createdDate?.getTime() ?? 0));
  }

  async proxyIntegration(restApiId: string) {
    const resources = (await this.apigw.send(new GetResourcesCommand({ restApiId }))).items ?? [];
    const proxy = resources.find((r) => r.path === '/{proxy+}');
    if (!proxy?.id) return undefined;
    return this.apigw.send(
      new GetIntegrationCommand({ restApiId, resourceId: proxy.id, httpMethod: 'ANY' }),
    );
  }

  async stage(restApiId: string, stageName: string) {
    return this.apigw.send(new GetStageCommand({ restApiId, stageName }));
  }

  async stateMachines(namePrefix: string) {
    const list = (await this.sfn.send(new ListStateMachinesCommand({}))).stateMachines ?? [];
    return list.filter((sm) => sm.name?.startsWith(namePrefix));
  }

  async schedules(namePrefix: string) {
    return (
      (await this.scheduler.send(new ListSchedulesCommand({ NamePrefix: namePrefix }))).Schedules ??
      []
    );
  }

  async roles(namePrefix: string) {
    const roles = (await this.iam.send(new ListRolesCommand({ PathPrefix: '/' }))).Roles ?? [];
    return roles.filter((role) => role.RoleName?.startsWith(namePrefix));
  }

  /** Every table name, all pages (a long-lived local cloud holds more than one page). */
  async tableNames() {
    const names: string[] = [];
    let start: string | undefined;
    do {
      const page = await this.dynamodb.send(
        new ListTablesCommand({ ExclusiveStartTableName: start }),
      );
      names.push(...(page.TableNames ?? []));
      start = page.LastEvaluatedTableName;
    } while (start);
    return names;
  }

  async items(tableName: string) {
    return (await this.dynamodb.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
  }
}

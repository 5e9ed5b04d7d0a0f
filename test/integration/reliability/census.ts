import { APIGatewayClient, GetRestApisCommand, type RestApi } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { IAMClient, ListRolesCommand, type Role } from '@aws-sdk/client-iam';
import {
  ListSchedulesCommand,
  SchedulerClient,
  type ScheduleSummary,
} from '@aws-sdk/client-scheduler';
import {
  ListStateMachinesCommand,
  SFNClient,
  type StateMachineListItem,
} from '@aws-sdk/client-sfn';
import type { Downloader } from '../../../src/api/downloader.js';

/**
 * Counts what exists in AWS, read directly (straight to moto, never through a fault proxy) and
 * with every page, so the reliability tests judge the operator by AWS's state rather than by
 * what it reports. Names of resources made for a Downloader start with `dl-<namespace>-`; REST
 * APIs are found by their tags.
 */
export class AwsCensus {
  private readonly config = { endpoint: process.env.AWS_ENDPOINT_URL, maxAttempts: 5 };
  readonly apigw = new APIGatewayClient(this.config);
  readonly dynamodb = new DynamoDBClient(this.config);
  readonly sfn = new SFNClient(this.config);
  readonly scheduler = new SchedulerClient(this.config);
  readonly iam = new IAMClient(this.config);

  /** Closes the clients' connections. */
  destroy(): void {
    for (const client of [this.apigw, this.dynamodb, this.sfn, this.scheduler, this.iam]) {
      client.destroy();
    }
  }

  async restApis(): Promise<RestApi[]> {
    const all: RestApi[] = [];
    let position: string | undefined;
    do {
      const page = await this.apigw.send(new GetRestApisCommand({ limit: 500, position }));
      all.push(...(page.items ?? []));
      position = page.position;
    } while (position);
    return all;
  }

  async stateMachines(): Promise<StateMachineListItem[]> {
    const all: StateMachineListItem[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.sfn.send(
        new ListStateMachinesCommand({ maxResults: 1000, nextToken }),
      );
      all.push(...(page.stateMachines ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return all;
  }

  async schedules(namePrefix: string): Promise<ScheduleSummary[]> {
    const all: ScheduleSummary[] = [];
    let NextToken: string | undefined;
    do {
      const page = await this.scheduler.send(
        new ListSchedulesCommand({ NamePrefix: namePrefix, MaxResults: 100, NextToken }),
      );
      all.push(...(page.Schedules ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    return all;
  }

  async roles(): Promise<Role[]> {
    const all: Role[] = [];
    let Marker: string | undefined;
    do {
      const page = await this.iam.send(new ListRolesCommand({ MaxItems: 1000, Marker }));
      all.push(...(page.Roles ?? []));
      Marker = page.IsTruncated ? page.Marker : undefined;
    } while (Marker);
    return all;
  }

  async tableNames(): Promise<string[]> {
    const all: string[] = [];
    let start: string | undefined;
    do {
      const page = await this.dynamodb.send(
        new ListTablesCommand({ ExclusiveStartTableName: start }),
      );
      all.push(...(page.TableNames ?? []));
      start = page.LastEvaluatedTableName;
    } while (start);
    return all;
  }

  /**
   * What the operator made in one namespace: REST APIs tagged managed-by the operator for it,
   * state machines, schedules and roles whose names carry its `dl-<namespace>-` prefix.
   */
  async ofNamespace(namespace: string): Promise<NamespaceCensus> {
    const prefix = `dl-${namespace}-`;
    const [apis, machines, schedules, roles] = await Promise.all([
      this.restApis(),
      this.stateMachines(),
      this.schedules(prefix),
      this.roles(),
    ]);
    return {
      restApis: apis.filter(
        (a) =>
          a.tags?.['downloader.dev/managed-by'] === 'downloader-operator' &&
          a.tags['downloader.dev/namespace'] === namespace,
      ),
      stateMachines: machines.filter((m) => m.name?.startsWith(prefix)),
      schedules: schedules.filter((s) => s.Name?.startsWith(prefix)),
      roles: roles.filter((r) => r.RoleName?.startsWith(prefix)),
    };
  }
}

/** What exists in AWS for one namespace. */
export interface NamespaceCensus {
  restApis: RestApi[];
  stateMachines: StateMachineListItem[];
  schedules: ScheduleSummary[];
  roles: Role[];
}

/** How many of each resource one Downloader has in a census; exactly one each is right. */
export interface PipelineCount {
  restApis: number;
  stateMachines: number;
  schedules: number;
  stateMachineRoles: number;
  schedulerRoles: number;
}

/**
 * Counts the resources of `downloader` in `census`, by the names in its status and by UID tag.
 * Its REST API may be shared with other Downloaders: it counts as one when the API its status
 * names exists, plus any REST API still tagged with its UID under another id (a leak: a
 * Downloader's own API left behind after it moved to a shared one).
 */
export function countFor(census: NamespaceCensus, downloader: Downloader): PipelineCount {
  const uid = downloader.metadata.uid ?? '-';
  const resources = downloader.status?.resources ?? {};
  const last = (arn: string | undefined, sep: string) => arn?.split(sep).pop() ?? '-';
  const machine = last(resources.stateMachineArn, ':');
  const schedule = last(resources.scheduleArn, '/');
  const sfnRole = last(resources.stateMachineRoleArn, '/');
  const schedRole = last(resources.schedulerRoleArn, '/');
  return {
    restApis:
      census.restApis.filter((a) => a.id === resources.restApiId).length +
      census.restApis.filter(
        (a) => a.tags?.['downloader.dev/uid'] === uid && a.id !== resources.restApiId,
      ).length,
    stateMachines: census.stateMachines.filter((m) => m.name === machine).length,
    schedules: census.schedules.filter((s) => s.Name === schedule).length,
    stateMachineRoles: census.roles.filter((r) => r.RoleName === sfnRole).length,
    schedulerRoles: census.roles.filter((r) => r.RoleName === schedRole).length,
  };
}

/** Exactly one of each. */
export const ONE_EACH: PipelineCount = {
  restApis: 1,
  stateMachines: 1,
  schedules: 1,
  stateMachineRoles: 1,
  schedulerRoles: 1,
};

/** The number of resources in a census: zero once every Downloader of a namespace is gone. */
export function censusSize(census: NamespaceCensus): Record<keyof NamespaceCensus, number> {
  return {
    restApis: census.restApis.length,
    stateMachines: census.stateMachines.length,
    schedules: census.schedules.length,
    roles: census.roles.length,
  };
}

/**
 * How many REST APIs the Downloaders should have between them when the operator shares them:
 * one per namespace, source origin (scheme, host and port of source.url) and auth (Secret name
 * and key, header, prefix). Worked out here from the specs, independently of the operator's code.
 */
export function expectedRestApis(downloaders: readonly Downloader[]): number {
  const keys = new Set(
    downloaders.map((d) => {
      const auth = d.spec.source.auth;
      return JSON.stringify([
        d.metadata.namespace,
        new URL(d.spec.source.url).origin,
        auth ? [auth.secretRef.name, auth.secretRef.key, auth.header, auth.prefix] : null,
      ]);
    }),
  );
  return keys.size;
}

import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { APIGatewayClient, GetRestApisCommand } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreateUserCommand,
  DetachUserPolicyCommand,
  IAMClient,
  ListAttachedUserPoliciesCommand,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import { ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { parseEnvFile } from '../aws/local-aws.js';

const run = promisify(execFile);

/** The first start may build the Python venv. */
const START_TIMEOUT_MS = 10 * 60_000;

/** An IAM policy document, as the files in iam/ hold them. */
export interface PolicyDocument {
  Version: string;
  Statement: Array<{
    Sid?: string;
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
  }>;
}

/** Reads one of the policy files in iam/. */
export async function readPolicy(file: string): Promise<PolicyDocument> {
  return JSON.parse(await readFile(join('iam', file), 'utf8')) as PolicyDocument;
}

/** `document` without `action` in any statement; statements left with no action go. */
export function withoutAction(document: PolicyDocument, action: string): PolicyDocument {
  const statements = document.Statement.map((statement) => {
    const actions = [statement.Action].flat().filter((a) => a !== action);
    return { ...statement, Action: actions };
  }).filter((statement) => statement.Action.length > 0);
  if (JSON.stringify(statements) === JSON.stringify(document.Statement)) {
    throw new Error(`the policy has no action ${action} to leave out`);
  }
  return { ...document, Statement: statements };
}

/**
 * A local AWS of its own (test/env/start-aws.sh with LOCAL_AWS_ENFORCE_IAM=1): every request is
 * authorized against IAM, and the test side works as its admin user.
 */
export class EnforcedAws {
  readonly iam: IAMClient;
  readonly sfn: SFNClient;
  readonly dynamodb: DynamoDBClient;
  readonly scheduler: SchedulerClient;
  readonly apigw: APIGatewayClient;
  readonly events: EventBridgeClient;

  private constructor(
    readonly stateDir: string,
    readonly env: Record<string, string>,
  ) {
    const config = {
      endpoint: env.AWS_ENDPOINT_URL,
      region: env.AWS_REGION,
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
      },
    };
    this.iam = new IAMClient(config);
    this.sfn = new SFNClient(config);
    this.dynamodb = new DynamoDBClient(config);
    this.scheduler = new SchedulerClient(config);
    this.apigw = new APIGatewayClient(config);
    this.events = new EventBridgeClient(config);
  }

  /** Starts it in `stateDir` and checks that the launcher says IAM is enforced. */
  static async start(stateDir: string): Promise<EnforcedAws> {
    await mkdir(stateDir, { recursive: true });
    await run('bash', ['test/env/start-aws.sh', stateDir], {
      timeout: START_TIMEOUT_MS,
      env: { ...process.env, LOCAL_AWS_ENFORCE_IAM: '1', LOCAL_AWS_PORT: '', UPSTREAM_PORT: '' },
    });
    const env = parseEnvFile(await readFile(join(stateDir, 'aws.env'), 'utf8'));
    const health = (await (await fetch(`${env.AWS_ENDPOINT_URL}/_launcher/health`)).json()) as {
      iamEnforced?: boolean;
    };
    if (env.LOCAL_AWS_ENFORCE_IAM !== '1' || health.iamEnforced !== true) {
      throw new Error(`the local AWS in ${stateDir} does not enforce IAM`);
    }
    return new EnforcedAws(stateDir, env);
  }

  async stop(): Promise<void> {
    for (const client of [this.iam, this.sfn, this.dynamodb, this.scheduler, this.apigw]) {
      client.destroy();
    }
    await run('bash', ['test/env/stop-aws.sh', this.stateDir]);
  }

  /** Creates a managed policy from `document` and returns its ARN. */
  async createPolicy(name: string, document: PolicyDocument): Promise<string> {
    const out = await this.iam.send(
      new CreatePolicyCommand({ PolicyName: name, PolicyDocument: JSON.stringify(document) }),
    );
    return out.Policy?.Arn ?? '';
  }

  /** Creates an IAM user with an access key; the caller attaches its policies. */
  async createUser(name: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
    await this.iam.send(new CreateUserCommand({ UserName: name }));
    const key = await this.iam.send(new CreateAccessKeyCommand({ UserName: name }));
    return {
      accessKeyId: key.AccessKey?.AccessKeyId ?? '',
      secretAccessKey: key.AccessKey?.SecretAccessKey ?? '',
    };
  }

  /** Makes `policyArn` the one managed policy attached to the user. */
  async attachOnly(userName: string, policyArn: string): Promise<void> {
    const attached = await this.iam.send(
      new ListAttachedUserPoliciesCommand({ UserName: userName }),
    );
    for (const policy of attached.AttachedPolicies ?? []) {
      if (policy.PolicyArn === policyArn) continue;
      await this.iam.send(
        new DetachUserPolicyCommand({ UserName: userName, PolicyArn: policy.PolicyArn }),
      );
    }
    if (!(attached.AttachedPolicies ?? []).some((p) => p.PolicyArn === policyArn)) {
      await this.iam.send(
        new AttachUserPolicyCommand({ UserName: userName, PolicyArn: policyArn }),
      );
    }
  }

  /**
   * The environment an operator process needs to work against this AWS as `key`: endpoint,
   * credentials and the invoke endpoint template; the Kubernetes side stays the suite's.
   */
  operatorEnv(key: { accessKeyId: string; secretAccessKey: string }): Record<string, string> {
    return {
      AWS_ENDPOINT_URL: this.env.AWS_ENDPOINT_URL ?? '',
      AWS_REGION: this.env.AWS_REGION ?? 'us-east-1',
      AWS_DEFAULT_REGION: this.env.AWS_REGION ?? 'us-east-1',
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      APIGW_INVOKE_ENDPOINT_TEMPLATE: this.env.APIGW_INVOKE_ENDPOINT_TEMPLATE ?? '',
    };
  }

  /** What the launcher's scheduler did with each schedule (fire count, last error...). */
  async scheduleFirings(): Promise<
    Array<{ arn: string; fireCount: number; lastError: string | null; lastExecutionArn: string }>
  > {
    const out = await fetch(`${this.env.AWS_ENDPOINT_URL}/_launcher/scheduler/schedules`);
    return ((await out.json()) as { schedules: [] }).schedules;
  }

  async restApis(uid: string) {
    const apis = (await this.apigw.send(new GetRestApisCommand({ limit: 500 }))).items ?? [];
    return apis.filter((api) => api.tags?.['downloader.dev/uid'] === uid);
  }

  /** Every REST API the operator made in `namespace`, shared or a Downloader's own. */
  async restApisIn(namespace: string) {
    const apis = (await this.apigw.send(new GetRestApisCommand({ limit: 500 }))).items ?? [];
    return apis.filter((api) => api.tags?.['downloader.dev/namespace'] === namespace);
  }

  async stateMachines(namePrefix: string) {
    const list = (await this.sfn.send(new ListStateMachinesCommand({}))).stateMachines ?? [];
    return list.filter((sm) => sm.name?.startsWith(namePrefix));
  }

  async schedules(namePrefix: string) {
    const out = await this.scheduler.send(new ListSchedulesCommand({ NamePrefix: namePrefix }));
    return out.Schedules ?? [];
  }

  async roles(namePrefix: string) {
    const roles = (await this.iam.send(new ListRolesCommand({}))).Roles ?? [];
    return roles.filter((role) => role.RoleName?.startsWith(namePrefix));
  }

  async tableNames() {
    return (await this.dynamodb.send(new ListTablesCommand({}))).TableNames ?? [];
  }

  async items(tableName: string) {
    return (await this.dynamodb.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
  }
}

import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';

/** Options of `createAwsClients`; each one left out is resolved the SDK's usual way. */
export interface AwsClientOptions {
  /** Region; default from AWS_REGION, the shared config file, or instance metadata. */
  region?: string;
  /**
   * Endpoint for every service, for a local AWS. Rarely needed: the SDK itself honours
   * AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) from the environment.
   */
  endpoint?: string;
  /** Attempts per call, the first included, with the SDK's standard retry and backoff. */
  maxAttempts?: number;
}

/** One SDK client per AWS service the operator uses. */
export interface AwsClients {
  apiGateway: APIGatewayClient;
  dynamodb: DynamoDBClient;
  /** EventBridge (events), for the rule that feeds execution status events to SQS. */
  eventBridge: EventBridgeClient;
  iam: IAMClient;
  scheduler: SchedulerClient;
  sfn: SFNClient;
  /** SQS, for the queue of execution status events. */
  sqs: SQSClient;
  sts: STSClient;
  /** Closes the clients' connection pools. */
  destroy(): void;
}

/**
 * Creates the SDK clients. Credentials come from the SDK's default chain (environment, web
 * identity as IRSA or Pod Identity provides it, shared files, instance metadata), so nothing here
 * names a credential.
 */
export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const config = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  };
  const clients = {
    apiGateway: new APIGatewayClient(config),
    dynamodb: new DynamoDBClient(config),
    eventBridge: new EventBridgeClient(config),
    iam: new IAMClient(config),
    scheduler: new SchedulerClient(config),
    sfn: new SFNClient(config),
    sqs: new SQSClient(config),
    sts: new STSClient(config),
  };
  return {
    ...clients,
    destroy() {
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}

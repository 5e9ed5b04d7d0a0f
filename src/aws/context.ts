import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { parseArn } from '../workflow/arn.js';

/**
 * Where the operator works in AWS: the region, the account and its partition. ARNs of resources
 * the operator names itself (a state machine, a table) are built from it instead of being read
 * back, so a resource can be found by its ARN before it exists.
 */
export interface AwsContext {
  region: string;
  accountId: string;
  /** `aws`, `aws-cn`, `aws-us-gov`...: the partition the caller's ARN names. */
  partition: string;
}

/**
 * Asks STS who the operator is (GetCallerIdentity needs no permission) and returns its
 * context. `region` defaults to the STS client's. The partition comes from the caller's ARN,
 * which is right for every partition, including ones no region prefix table knows.
 */
export async function loadAwsContext(sts: STSClient, region?: string): Promise<AwsContext> {
  const resolvedRegion = region ?? (await sts.config.region());
  const identity = await sts.send(new GetCallerIdentityCommand({}));

  const partition = identity.Arn ? parseArn(identity.Arn)?.partition : undefined;
  if (!identity.Account || !partition) {
    throw new Error('STS GetCallerIdentity returned no account or no parsable ARN');
  }
  return { region: resolvedRegion, accountId: identity.Account, partition };
}

/**
 * Amazon Resource Names: parsing, and building the few the operator needs. Format
 * `arn:partition:service:region:account-id:resource` (IAM User Guide, "IAM identifiers").
 */

/** The parts of an ARN. `resource` keeps any "/" or ":" it contains. */
export interface Arn {
  partition: string;
  service: string;
  region: string;
  accountId: string;
  resource: string;
}

/** Parses an ARN, or returns undefined for a string that is not one. */
export function parseArn(arn: string): Arn | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  const [, partition = '', service = '', region = '', accountId = ''] = parts;
  const resource = parts.slice(5).join(':');
  if (partition === '' || service === '' || resource === '') return undefined;
  return { partition, service, region, accountId, resource };
}

/** Formats the parts of an ARN. */
export function formatArn(arn: Arn): string {
  return ['arn', arn.partition, arn.service, arn.region, arn.accountId, arn.resource].join(':');
}

/** Region name prefixes of the partitions other than `aws`, most specific first. */
const PARTITION_PREFIXES: readonly (readonly [string, string])[] = [
  ['cn-', 'aws-cn'],
  ['us-gov-', 'aws-us-gov'],
  ['us-isob-', 'aws-iso-b'],
  ['us-iso-', 'aws-iso'],
  ['eusc-', 'aws-eusc'],
];

/** The partition a region belongs to: `aws-cn` for cn-north-1, `aws` for us-east-1, etc. */
export function partitionOfRegion(region: string): string {
  return PARTITION_PREFIXES.find(([prefix]) => region.startsWith(prefix))?.[1] ?? 'aws';
}

/** The ARN of a DynamoDB table. */
export function tableArn(partition: string, region: string, accountId: string, table: string) {
  return formatArn({
    partition,
    service: 'dynamodb',
    region,
    accountId,
    resource: `table/${table}`,
  });
}

/** The ARN of a Step Functions state machine. */
export function stateMachineArn(
  partition: string,
  region: string,
  accountId: string,
  name: string,
): string {
  return formatArn({
    partition,
    service: 'states',
    region,
    accountId,
    resource: `stateMachine:${name}`,
  });
}

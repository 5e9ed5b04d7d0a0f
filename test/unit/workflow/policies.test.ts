import {
  formatArn,
  parseArn,
  partitionOfRegion,
  stateMachineArn,
  tableArn,
} from '../../../src/workflow/arn.js';
import type { DownloaderSpec } from '../../../src/api/downloader-spec.js';
import {
  executeApiArn,
  invokedPaths,
  parsePolicyDocument,
  policiesEqual,
  policyJson,
  schedulerPolicy,
  schedulerTrustPolicy,
  stateMachinePolicy,
  stateMachineTrustPolicy,
} from '../../../src/workflow/policies.js';

const TARGET = {
  partition: 'aws',
  region: 'us-east-1',
  accountId: '123456789012',
  restApiId: 'a1b2c3d4e5',
  stage: 'prod',
  method: 'GET',
  path: '/v2/status?datasource=tranquility',
};
const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/PlayerCountTable';
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:eve-player-count';

describe('stateMachineTrustPolicy', () => {
  it('lets only Step Functions assume the role, for state machines of this account', () => {
    expect(stateMachineTrustPolicy('123456789012')).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'states.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
        },
      ],
    });
  });

  it('also requires the source ARN pattern when one is given', () => {
    const policy = stateMachineTrustPolicy('123456789012', {
      sourceArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:*',
    });

    expect(policy.Statement[0]?.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': '123456789012' },
      ArnLike: { 'aws:SourceArn': 'arn:aws:states:us-east-1:123456789012:stateMachine:*' },
    });
  });
});

describe('schedulerTrustPolicy', () => {
  it('lets only EventBridge Scheduler assume the role, for schedules of this account', () => {
    expect(schedulerTrustPolicy('123456789012').Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
      },
    ]);
  });
});

describe('executeApiArn', () => {
  it('names the stage, method and path without the leading slash or the query', () => {
    expect(executeApiArn(TARGET)).toBe(
      'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v2/status',
    );
  });

  it('gives the root path an empty resource path', () => {
    expect(executeApiArn({ ...TARGET, path: '/', method: 'post' })).toBe(
      'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/',
    );
  });

  it('uses the partition', () => {
    expect(executeApiArn({ ...TARGET, partition: 'aws-cn', region: 'cn-north-1' })).toBe(
      'arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3d4e5/prod/GET/v2/status',
    );
  });
});

describe('stateMachinePolicy', () => {
  it('allows invoking exactly the proxied method and putting items into exactly the table', () => {
    expect(stateMachinePolicy({ ...TARGET, tableArn: TABLE_ARN })).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'InvokeSourceThroughProxy',
          Effect: 'Allow',
          Action: 'execute-api:Invoke',
          Resource: 'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v2/status',
        },
        {
          Sid: 'PutDownloadedItem',
          Effect: 'Allow',
          Action: 'dynamodb:PutItem',
          Resource: TABLE_ARN,
        },
      ],
    });
  });

  it('grants no wildcard resource and no action beyond the two it needs', () => {
    const policy = stateMachinePolicy({ ...TARGET, tableArn: TABLE_ARN });

    const actions = policy.Statement.flatMap((statement) => [statement.Action].flat());
    const resources = policy.Statement.flatMap((statement) => [statement.Resource ?? []].flat());
    expect(actions).toEqual(['execute-api:Invoke', 'dynamodb:PutItem']);
    expect(resources.filter((resource) => resource.includes('*'))).toEqual([]);
  });
});

describe('stateMachinePolicy for several paths', () => {
  it('allows invoking each path asked, and only them', () => {
    const policy = stateMachinePolicy({
      ...TARGET,
      tableArn: TABLE_ARN,
      paths: ['/v2/systems/1', '/v2/systems/2'],
    });

    expect(policy.Statement[0]?.Resource).toEqual([
      'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v2/systems/1',
      'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v2/systems/2',
    ]);
  });

  it('keeps a single resource a string, as for path alone', () => {
    const policy = stateMachinePolicy({ ...TARGET, tableArn: TABLE_ARN, paths: ['/v2/status'] });

    expect(policy).toEqual(stateMachinePolicy({ ...TARGET, tableArn: TABLE_ARN }));
  });
});

describe('invokedPaths', () => {
  const spec = (
    parts: Omit<Partial<DownloaderSpec>, 'source'> & {
      source?: Partial<DownloaderSpec['source']>;
    },
  ) =>
    ({
      ...parts,
      source: {
        url: 'https://x.example',
        path: '/v2/orders?page=1',
        method: 'GET',
        ...parts.source,
      },
    }) as DownloaderSpec;

  it('is source.path without its query', () => {
    expect(invokedPaths(spec({}))).toEqual(['/v2/orders']);
  });

  it('is the fan-out paths when there are some', () => {
    expect(invokedPaths(spec({ fanOut: { paths: ['/a', '/b'], concurrency: 2 } }))).toEqual([
      '/a',
      '/b',
    ]);
  });

  it('is source.path for fan-out over query values and for a cursor', () => {
    const cursor = {
      type: 'NextLink' as const,
      nextPath: '$.n',
      cursorParameter: 'c',
      maxPages: 2,
    };
    expect(
      invokedPaths(
        spec({
          source: { pagination: cursor },
          fanOut: { query: { parameter: 'q', values: ['1'] }, concurrency: 1 },
        }),
      ),
    ).toEqual(['/v2/orders']);
  });

  it('is any path when next links name the paths', () => {
    const links = { type: 'NextLink' as const, nextPath: '$.next', maxPages: 2 };
    expect(invokedPaths(spec({ source: { pagination: links } }))).toEqual(['/*']);
    expect(executeApiArn({ ...TARGET, path: '/*' })).toBe(
      'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/*',
    );
  });
});

describe('schedulerPolicy', () => {
  it('allows starting executions of exactly the one state machine', () => {
    expect(schedulerPolicy({ stateMachineArn: STATE_MACHINE_ARN })).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'StartDownloaderExecution',
          Effect: 'Allow',
          Action: 'states:StartExecution',
          Resource: STATE_MACHINE_ARN,
        },
      ],
    });
  });
});

describe('policiesEqual', () => {
  const desired = stateMachinePolicy({ ...TARGET, tableArn: TABLE_ARN });

  it('holds for the URL-encoded document IAM returns', () => {
    const fromIam = encodeURIComponent(JSON.stringify(desired, null, 4));

    expect(policiesEqual(fromIam, desired)).toBe(true);
  });

  it('treats a one-element list like the string where IAM accepts either', () => {
    const listed = JSON.parse(policyJson(desired));
    listed.Statement[0].Action = ['execute-api:Invoke'];
    listed.Statement[1].Resource = [TABLE_ARN];
    const trust = JSON.parse(policyJson(schedulerTrustPolicy('123456789012')));
    trust.Statement[0].Condition.StringEquals['aws:SourceAccount'] = ['123456789012'];

    expect(policiesEqual(JSON.stringify(listed), desired)).toBe(true);
    expect(policiesEqual(JSON.stringify(trust), schedulerTrustPolicy('123456789012'))).toBe(true);
  });

  it('fails when someone widened a resource', () => {
    const widened = JSON.parse(policyJson(desired));
    widened.Statement[1].Resource = 'arn:aws:dynamodb:us-east-1:123456789012:table/*';

    expect(policiesEqual(JSON.stringify(widened), desired)).toBe(false);
  });

  it('fails for text that is not a policy document', () => {
    expect(policiesEqual('%E0%A4%A', desired)).toBe(false);
    expect(parsePolicyDocument('not json')).toBeUndefined();
  });
});

describe('ARNs', () => {
  it('parses an ARN whose resource contains colons and slashes', () => {
    expect(parseArn(STATE_MACHINE_ARN)).toEqual({
      partition: 'aws',
      service: 'states',
      region: 'us-east-1',
      accountId: '123456789012',
      resource: 'stateMachine:eve-player-count',
    });
    expect(parseArn('arn:aws:iam::123456789012:role/dl/eve')?.resource).toBe('role/dl/eve');
  });

  it('rejects strings that are not ARNs', () => {
    expect(parseArn('PlayerCountTable')).toBeUndefined();
    expect(parseArn('arn:aws:dynamodb:us-east-1:1')).toBeUndefined();
  });

  it('formats what it parses back to the same string', () => {
    const arn = parseArn(TABLE_ARN);

    expect(arn && formatArn(arn)).toBe(TABLE_ARN);
  });

  it('finds the partition of a region', () => {
    expect(partitionOfRegion('us-east-1')).toBe('aws');
    expect(partitionOfRegion('cn-northwest-1')).toBe('aws-cn');
    expect(partitionOfRegion('us-gov-west-1')).toBe('aws-us-gov');
    expect(partitionOfRegion('us-isob-east-1')).toBe('aws-iso-b');
  });

  it('builds table and state machine ARNs', () => {
    expect(tableArn('aws', 'us-east-1', '123456789012', 'PlayerCountTable')).toBe(TABLE_ARN);
    expect(stateMachineArn('aws', 'us-east-1', '123456789012', 'eve-player-count')).toBe(
      STATE_MACHINE_ARN,
    );
  });
});

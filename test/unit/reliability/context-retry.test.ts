import type { STSClient } from '@aws-sdk/client-sts';
import { loadAwsContext } from '../../../src/aws/context.js';
import { awsError, fakeClient } from '../aws/fake-client.js';

describe('loadAwsContext at start-up', () => {
  const identity = { Account: '123456789012', Arn: 'arn:aws:sts::123456789012:assumed-role/op/x' };

  it('waits out throttling that outlasts the SDK retries, with growing capped delays', async () => {
    let failures = 3;
    const sts = fakeClient({
      GetCallerIdentity: () => {
        if (failures-- > 0) throw awsError('Throttling', 400);
        return identity;
      },
    });
    const delays: number[] = [];
    const context = await loadAwsContext(sts as unknown as STSClient, 'us-east-1', {
      onRetry: (_err, ms) => delays.push(ms),
      sleep: async () => undefined,
    });
    expect(context.accountId).toBe('123456789012');
    expect(delays).toEqual([1_000, 2_000, 4_000]);
  });

  it('fails at once when the operator is denied, which waiting does not fix', async () => {
    const sts = fakeClient({
      GetCallerIdentity: () => {
        throw awsError('AccessDenied', 403);
      },
    });
    await expect(
      loadAwsContext(sts as unknown as STSClient, 'us-east-1', { sleep: async () => undefined }),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(sts.calls).toEqual(['GetCallerIdentity']);
  });
});

import type { STSClient } from '@aws-sdk/client-sts';
import { loadAwsContext } from '../../../src/aws/context.js';
import { fakeClient } from './fake-client.js';

describe('loadAwsContext', () => {
  it('takes the account from STS and the partition from the caller ARN', async () => {
    const sts = fakeClient({
      GetCallerIdentity: () => ({
        Account: '111122223333',
        Arn: 'arn:aws-us-gov:sts::111122223333:assumed-role/operator/pod',
      }),
    });
    await expect(loadAwsContext(sts as unknown as STSClient, 'us-gov-west-1')).resolves.toEqual({
      region: 'us-gov-west-1',
      accountId: '111122223333',
      partition: 'aws-us-gov',
    });
  });
});

import { loadAwsContext } from '../../../src/aws/context.js';
import { localAws } from './aws-env.js';

describe('createAwsClients', () => {
  const aws = localAws();
  afterAll(() => aws.destroy());

  it('reaches the local AWS through AWS_ENDPOINT_URL alone, as the SDK honours it natively', async () => {
    const context = await loadAwsContext(aws.sts);
    expect(context).toEqual({
      region: process.env.AWS_REGION,
      accountId: '123456789012',
      partition: 'aws',
    });
  });
});

import { createAwsClients } from '../../../src/aws/clients.js';

describe('createAwsClients', () => {
  it('applies region, endpoint and attempts to every client', async () => {
    const clients = createAwsClients({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4566',
      maxAttempts: 5,
    });
    try {
      for (const client of [
        clients.apiGateway,
        clients.dynamodb,
        clients.iam,
        clients.scheduler,
        clients.sfn,
        clients.sts,
      ]) {
        expect(await client.config.region()).toBe('eu-west-1');
        expect(await client.config.maxAttempts()).toBe(5);
        const endpoint = await client.config.endpoint?.();
        expect(endpoint).toMatchObject({ hostname: '127.0.0.1', port: 4566, protocol: 'http:' });
      }
    } finally {
      clients.destroy();
    }
  });
});

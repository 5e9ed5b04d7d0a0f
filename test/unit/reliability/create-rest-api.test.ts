import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { APIGatewayClient, CreateRestApiCommand } from '@aws-sdk/client-api-gateway';
import { CreateOutcomeUnknown, withoutBlindRetry } from '../../../src/aws/proxy.js';
import { AwsFaultProxy } from '../../faults/aws-fault-proxy.js';

/**
 * CreateRestApi is not idempotent: when an answer is lost after API Gateway made the API, a
 * retry makes a second one. The reliability suite found exactly that (two REST APIs for one
 * Downloader, one left behind after deletion); these tests pin the fix at the SDK level.
 */
describe(withoutBlindRetry.name, () => {
  let moto: http.Server;
  let created = 0;
  let proxy: AwsFaultProxy;

  beforeAll(async () => {
    moto = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        created += 1;
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: `api${created}`, rootResourceId: 'root' }));
      });
    });
    await new Promise<void>((resolve) => moto.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => moto.close(() => resolve()));
  });

  beforeEach(async () => {
    created = 0;
    proxy = await AwsFaultProxy.start({
      target: `http://127.0.0.1:${(moto.address() as AddressInfo).port}`,
      seed: 1,
    });
  });

  afterEach(async () => {
    await proxy.close();
  });

  const client = () =>
    new APIGatewayClient({
      endpoint: proxy.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  const create = () => withoutBlindRetry(new CreateRestApiCommand({ name: 'p' }));

  it('does not send CreateRestApi again after a 5xx, whose outcome is unknown', async () => {
    proxy.addRule({ operation: 'CreateRestApi', fault: 'error503', times: 1 });
    await expect(client().send(create())).rejects.toBeInstanceOf(CreateOutcomeUnknown);
    expect(proxy.operationStats()['apigateway:CreateRestApi']?.requests).toBe(1);
  });

  it('does not send it again after the answer was lost, so one API exists', async () => {
    proxy.addRule({ operation: 'CreateRestApi', fault: 'resetAfter', times: 1 });
    await expect(client().send(create())).rejects.toThrow();
    expect(created).toBe(1);
  });

  it('still lets the SDK retry after throttling, which AWS answers before creating anything', async () => {
    proxy.addRule({ operation: 'CreateRestApi', fault: 'throttle', times: 2 });
    await expect(client().send(create())).resolves.toMatchObject({ id: 'api1' });
    expect(proxy.operationStats()['apigateway:CreateRestApi']?.requests).toBe(3);
    expect(created).toBe(1);
  });

  it('is needed: without it the SDK retries a lost answer and a second API is made', async () => {
    proxy.addRule({ operation: 'CreateRestApi', fault: 'resetAfter', times: 1 });
    await client().send(new CreateRestApiCommand({ name: 'p' }));
    expect(created).toBe(2);
  });
});

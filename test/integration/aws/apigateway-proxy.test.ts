// The launcher's invocation of deployed REST APIs over HTTP (stage URL
// /restapis/<id>/<stage>/_user_request_/<path>), which moto's server mode lacks: routing to the
// {proxy+} HTTP_PROXY integration, request parameter mappings, the answer as API Gateway gives
// it, deployment snapshots, and the mapping validation of PutIntegration.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateDeploymentCommand, PutIntegrationCommand } from '@aws-sdk/client-api-gateway';

import {
  type Clients,
  clientsFor,
  createProxyApi,
  destroyClients,
  stageUrl,
  uniqueName,
  upstreamRequests,
} from './fixtures.js';
import { type LocalAws, useLocalAws } from './local-aws.js';

// Set here rather than in the jest config, so the file runs the same under any config.
jest.setTimeout(30_000);

let aws: LocalAws;
let clients: Clients;

beforeAll(async () => {
  aws = await useLocalAws();
  clients = clientsFor(aws);
}, 600_000);

afterAll(async () => {
  if (clients) destroyClients(clients);
  await aws?.stop();
});

describe('invoking a deployed {proxy+} HTTP_PROXY REST API at its stage URL', () => {
  it('forwards path and query to the upstream and answers with its status, headers and body', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });
    const scope = uniqueName('paged');

    const response = await fetch(
      `${stageUrl(aws, api.restApiId, 'prod')}/v2/markets/orders?page=2&scope=${scope}`,
    );

    expect(response.status).toBe(200);
    expect(response.headers.get('x-pages')).toBe('3');
    expect(response.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(response.headers.get('date')).toMatch(/GMT$/);
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    // API Gateway renames some integration response headers instead of passing them on.
    expect(response.headers.get('x-amzn-remapped-date')).toMatch(/GMT$/);
    const orders = (await response.json()) as { order_id: number }[];
    expect(orders.map((o) => o.order_id)).toEqual([2000, 2001, 2002]);

    const [received] = await upstreamRequests(aws, scope);
    expect(received?.path).toBe('/v2/markets/orders');
    expect(received?.query).toEqual({ page: '2', scope });
  });

  it('passes an upstream error through unchanged', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });

    const response = await fetch(`${stageUrl(aws, api.restApiId, 'prod')}/v2/secure/status`);

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'authorization required' });
    expect(response.headers.get('x-amzn-remapped-www-authenticate')).toBe(
      'Bearer realm="upstream"',
    );
  });

  it('applies header mappings from static values and from method request headers', async () => {
    const api = await createProxyApi(clients.apigw, {
      upstreamUrl: aws.upstreamUrl,
      methodRequestParameters: {
        'method.request.header.MyCustomAuth': true,
        'method.request.querystring.tenant': false,
      },
      integrationRequestParameters: {
        'integration.request.header.Authorization': 'method.request.header.MyCustomAuth',
        'integration.request.header.X-Static': "'fixed value'",
        'integration.request.querystring.team': 'method.request.querystring.tenant',
      },
    });
    const scope = uniqueName('mapped');

    const response = await fetch(
      `${stageUrl(aws, api.restApiId, 'prod')}/v2/secure/status?scope=${scope}&tenant=blue`,
      { headers: { MyCustomAuth: `Bearer ${aws.upstreamToken}`, 'X-Client': 'jest' } },
    );

    expect(response.status).toBe(200);
    const [received] = await upstreamRequests(aws, scope);
    expect(received?.headers.authorization).toBe(`Bearer ${aws.upstreamToken}`);
    expect(received?.headers['x-static']).toBe('fixed value');
    // A proxy integration passes the client's own headers and query on as well.
    expect(received?.headers['x-client']).toBe('jest');
    expect(received?.query).toEqual({ scope, tenant: 'blue', team: 'blue' });
  });

  it('answers 403 Missing Authentication Token for a path no resource matches', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });

    const response = await fetch(`${stageUrl(aws, api.restApiId, 'prod')}/`);

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'Missing Authentication Token' });
  });

  it('answers 403 Forbidden for a stage that does not exist', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });

    const response = await fetch(`${stageUrl(aws, api.restApiId, 'staging')}/v2/status`);

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'Forbidden' });
  });

  it('sends {proxy} literally when the integration lacks the path mapping, as AWS does', async () => {
    const api = await createProxyApi(clients.apigw, {
      upstreamUrl: aws.upstreamUrl,
      mapProxyPath: false,
    });
    const scope = uniqueName('unmapped');

    const response = await fetch(
      `${stageUrl(aws, api.restApiId, 'prod')}/v2/status?scope=${scope}`,
    );

    expect(response.status).toBe(404);
    const [received] = await upstreamRequests(aws, scope);
    expect(received?.rawUrl).toBe(`/%7Bproxy%7D?scope=${scope}`);
  });
});

describe('integration failures', () => {
  it('answers 504 when the upstream is slower than the integration timeout', async () => {
    const api = await createProxyApi(clients.apigw, {
      upstreamUrl: aws.upstreamUrl,
      timeoutInMillis: 300,
    });

    const response = await fetch(`${stageUrl(aws, api.restApiId, 'prod')}/v2/status?delayMs=2000`);

    expect(response.status).toBe(504);
    expect(await response.json()).toEqual({ message: 'Endpoint request timed out' });
  });

  it('answers 500 when the upstream refuses the connection', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const api = await createProxyApi(clients.apigw, { upstreamUrl: 'http://127.0.0.1:1' });

    const response = await fetch(`${stageUrl(aws, api.restApiId, 'prod')}/v2/status`);

    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ message: 'Internal server error' });
  });
});

describe('deployments', () => {
  it('serve what was deployed until the API is deployed again', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });
    const changeAuth = async () => {
      await clients.apigw.send(
        new PutIntegrationCommand({
          restApiId: api.restApiId,
          resourceId: api.resourceId,
          httpMethod: 'ANY',
          type: 'HTTP_PROXY',
          integrationHttpMethod: 'ANY',
          uri: `${aws.upstreamUrl}/{proxy}`,
          requestParameters: {
            'integration.request.path.proxy': 'method.request.path.proxy',
            'integration.request.header.Authorization': `'Bearer ${aws.upstreamToken}'`,
          },
        }),
      );
    };
    const secureStatus = () => fetch(`${stageUrl(aws, api.restApiId, 'prod')}/v2/secure/status`);

    await changeAuth();
    const beforeRedeploy = await secureStatus();
    await clients.apigw.send(
      new CreateDeploymentCommand({ restApiId: api.restApiId, stageName: 'prod' }),
    );
    const afterRedeploy = await secureStatus();

    expect(beforeRedeploy.status).toBe(401);
    expect(afterRedeploy.status).toBe(200);
  });
});

describe('PutIntegration request parameter validation', () => {
  const putIntegration = (api: { restApiId: string; resourceId: string }, mapping: string) =>
    clients.apigw.send(
      new PutIntegrationCommand({
        restApiId: api.restApiId,
        resourceId: api.resourceId,
        httpMethod: 'ANY',
        type: 'HTTP_PROXY',
        integrationHttpMethod: 'ANY',
        uri: `${aws.upstreamUrl}/{proxy}`,
        requestParameters: {
          'integration.request.path.proxy': 'method.request.path.proxy',
          'integration.request.header.Authorization': mapping,
        },
      }),
    );

  it('rejects a method request header the method does not declare', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });

    await expect(putIntegration(api, 'method.request.header.MyCustomAuth')).rejects.toMatchObject({
      name: 'BadRequestException',
      message: expect.stringContaining(
        'Invalid mapping expression parameter specified: method.request.header.MyCustomAuth',
      ),
    });
  });

  it('rejects a static value without single quotes', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });

    await expect(putIntegration(api, 'Bearer token')).rejects.toMatchObject({
      name: 'BadRequestException',
    });
  });

  it('accepts a declared method request header', async () => {
    const api = await createProxyApi(clients.apigw, {
      upstreamUrl: aws.upstreamUrl,
      methodRequestParameters: { 'method.request.header.MyCustomAuth': true },
    });

    await expect(putIntegration(api, 'method.request.header.MyCustomAuth')).resolves.toBeDefined();
  });
});

import {
  DeleteMethodCommand,
  GetRestApisCommand,
  GetStageCommand,
} from '@aws-sdk/client-api-gateway';
import type { Owner } from '../../../src/aws/owner.js';
import { ProxyManager, type ProxyDesired } from '../../../src/aws/proxy.js';
import { TerminalError } from '../../../src/errors.js';
import { localAws, newOwner, rejection } from './aws-env.js';

const TOKEN = process.env.UPSTREAM_TOKEN ?? 'local-test-token';

/** GETs `path` through the deployed stage of a REST API, as the local AWS serves it. */
async function invoke(restApiId: string, stage: string, path: string): Promise<number> {
  const template = process.env.APIGW_STAGE_URL_TEMPLATE;
  if (!template) throw new Error('APIGW_STAGE_URL_TEMPLATE is not set');
  const url = template.replace('{restApiId}', restApiId).replace('{stage}', stage) + path;
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status;
}

/** Everything a value could leak through: a thrown error's fields, message and stack. */
function errorText(err: unknown): string {
  const e = err as Error;
  return `${JSON.stringify(err)}\n${e.message}\n${e.stack ?? ''}`;
}

describe(ProxyManager.name, () => {
  const aws = localAws();
  const manager = new ProxyManager(aws.apiGateway);
  afterAll(() => aws.destroy());

  const upstream = () => {
    const url = process.env.UPSTREAM_URL;
    if (!url) throw new Error('UPSTREAM_URL is not set');
    return url;
  };
  const desiredProxy = (owner: Owner, overrides: Partial<ProxyDesired> = {}): ProxyDesired => ({
    name: `${owner.name}-proxy`,
    sourceUrl: upstream(),
    stageName: 'v1',
    ...overrides,
  });
  const withToken = (owner: Owner, value = `Bearer ${TOKEN}`) =>
    desiredProxy(owner, { auth: { header: 'Authorization', value } });

  async function apisOf(owner: Owner): Promise<string[]> {
    const ids: string[] = [];
    let position: string | undefined;
    do {
      const page = await aws.apiGateway.send(new GetRestApisCommand({ limit: 500, position }));
      for (const api of page.items ?? []) {
        if (api.tags?.['downloader.dev/uid'] === owner.uid && api.id) ids.push(api.id);
      }
      position = page.position;
    } while (position);
    return ids;
  }

  it('builds a deployed IAM-only proxy to the source, and finds no difference after', async () => {
    const owner = newOwner();
    const desired = desiredProxy(owner);
    expect(await manager.observe(owner, desired)).toBeUndefined();

    const created = await manager.apply(owner, desired, undefined);
    expect(await apisOf(owner)).toEqual([created.restApiId]);

    const observed = await manager.observe(owner, desired);
    expect(observed).toMatchObject({
      restApiId: created.restApiId,
      methodPresent: true,
      methodAuthorizationType: 'AWS_IAM',
      integrationType: 'HTTP_PROXY',
      integrationUri: `${upstream()}/{proxy}`,
      stageName: 'v1',
      deployedIntegrationHash: created.deployedIntegrationHash,
    });
    expect(manager.diff(desired, observed!)).toEqual([]);
    expect(await invoke(created.restApiId, 'v1', '/v2/status')).toBe(200);
  });

  it('maps the secret into the auth header and redeploys when it rotates, never showing it', async () => {
    const owner = newOwner();
    const desired = withToken(owner);
    const created = await manager.apply(owner, desired, undefined);
    expect(await invoke(created.restApiId, 'v1', '/v2/secure/status')).toBe(200);

    let observed = await manager.observe(owner, desired);
    expect(manager.diff(desired, observed!)).toEqual([]);
    expect(JSON.stringify(observed)).not.toContain(TOKEN);

    const rotated = withToken(owner, 'Bearer rotated-value-6f2a');
    const changes = manager.diff(rotated, observed!);
    expect([...changes].sort()).toEqual(['auth header value', 'deployment']);
    expect(JSON.stringify(changes)).not.toMatch(new RegExp(`${TOKEN}|rotated-value`));

    // Until the operator redeploys, the stage still serves the old snapshot.
    expect(await invoke(created.restApiId, 'v1', '/v2/secure/status')).toBe(200);
    const applied = await manager.apply(owner, rotated, observed);
    expect(JSON.stringify(applied)).not.toMatch(new RegExp(`${TOKEN}|rotated-value`));
    expect(applied.deploymentId).not.toBe(observed?.deploymentId);
    expect(await invoke(created.restApiId, 'v1', '/v2/secure/status')).toBe(401);

    observed = await manager.observe(owner, rotated);
    expect(manager.diff(rotated, observed!)).toEqual([]);
  });

  it('follows a new source URL into the integration and the deployment', async () => {
    const owner = newOwner();
    const desired = desiredProxy(owner);
    await manager.apply(owner, desired, undefined);

    const moved = { ...desired, sourceUrl: `${upstream()}/v2` };
    let observed = await manager.observe(owner, moved);
    expect([...manager.diff(moved, observed!)].sort()).toEqual(['deployment', 'integration.uri']);
    await manager.apply(owner, moved, observed);

    observed = await manager.observe(owner, moved);
    expect(manager.diff(moved, observed!)).toEqual([]);
    expect(await invoke(observed!.restApiId, 'v1', '/status')).toBe(200);
  });

  it('puts back a method deleted by hand, keeping the API', async () => {
    const owner = newOwner();
    const desired = withToken(owner);
    const created = await manager.apply(owner, desired, undefined);
    await aws.apiGateway.send(
      new DeleteMethodCommand({
        restApiId: created.restApiId,
        resourceId: created.proxyResourceId!,
        httpMethod: 'ANY',
      }),
    );

    let observed = await manager.observe(owner, desired);
    expect(manager.diff(desired, observed!)).toContain('method');
    await manager.apply(owner, desired, observed);
    observed = await manager.observe(owner, desired);
    expect(manager.diff(desired, observed!)).toEqual([]);
    expect(await apisOf(owner)).toEqual([created.restApiId]);
  });

  it('keeps exactly one API when apply runs again after the observed state (and hint) was lost', async () => {
    const owner = newOwner();
    const desired = withToken(owner);
    const first = await manager.apply(owner, desired, undefined);
    const second = await manager.apply(owner, desired, undefined);
    const third = await manager.apply(owner, { ...desired, hintRestApiId: 'gone12345' }, undefined);

    expect(second.restApiId).toBe(first.restApiId);
    expect(third.restApiId).toBe(first.restApiId);
    expect(await apisOf(owner)).toEqual([first.restApiId]);
    // Nothing changed between the runs, so nothing was deployed again.
    expect(third.deploymentId).toBe(first.deploymentId);
  });

  it("ignores a hint naming another Downloader's API", async () => {
    const mine = newOwner();
    const theirs = newOwner();
    const their = await manager.apply(theirs, desiredProxy(theirs), undefined);

    const desired = desiredProxy(mine, { hintRestApiId: their.restApiId });
    expect(await manager.observe(mine, desired)).toBeUndefined();
    const created = await manager.apply(mine, desired, undefined);
    expect(created.restApiId).not.toBe(their.restApiId);
    expect(await apisOf(theirs)).toEqual([their.restApiId]);
  });

  it('refuses a secret value API Gateway cannot hold, without the value in the error', async () => {
    const owner = newOwner();
    const value = "Bearer it's-secret-91c3";
    const err = await rejection(manager.apply(owner, withToken(owner, value), undefined));
    expect(err).toBeInstanceOf(TerminalError);
    expect(err).toMatchObject({ reason: 'SecretValueInvalid' });
    expect(errorText(err)).not.toContain('secret-91c3');
    expect(await apisOf(owner)).toEqual([]);
  });

  it('fails on a header name API Gateway refuses, without the secret in the error', async () => {
    const owner = newOwner();
    const value = 'Bearer scrub-me-4e7d';
    const desired = desiredProxy(owner, { auth: { header: 'Bad Header', value } });
    const err = await rejection(manager.apply(owner, desired, undefined));
    expect(err).toMatchObject({ name: 'BadRequestException' });
    expect(errorText(err)).not.toContain('scrub-me-4e7d');
  });

  it('deletes the API with its stage, and a second delete is harmless', async () => {
    const owner = newOwner();
    const desired = desiredProxy(owner);
    const observed = await manager.apply(owner, desired, undefined);
    await aws.apiGateway.send(
      new GetStageCommand({ restApiId: observed.restApiId, stageName: 'v1' }),
    );

    await manager.delete(owner, observed);
    expect(await manager.observe(owner, desired)).toBeUndefined();
    expect(await apisOf(owner)).toEqual([]);
    await expect(manager.delete(owner, observed)).resolves.toBeUndefined();
  });
});

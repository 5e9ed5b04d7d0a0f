import type { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import {
  ProxyManager,
  deploymentDescription,
  integrationHash,
  integrationRequestParameters,
  integrationUri,
  parseDeploymentDescription,
  validateAuth,
  type ProxyDesired,
  type ProxyObserved,
} from '../../../src/aws/proxy.js';
import { TerminalError } from '../../../src/errors.js';
import { awsError, fakeClient } from './fake-client.js';

const owner = { namespace: 'eve', name: 'players', uid: 'uid-1' };
const SECRET = 'Bearer unit-secret-8d1f';
const desired: ProxyDesired = {
  name: 'dl-eve-players-1234abcd-proxy',
  sourceUrl: 'https://esi.example.net',
  stageName: 'v1',
  auth: { header: 'Authorization', value: SECRET },
};

/** A manager with a fixed fingerprint key and an observed state that matches `desired`. */
function steady() {
  const manager = new ProxyManager(fakeClient({}) as unknown as APIGatewayClient, {
    fingerprintKey: Buffer.alloc(32, 7),
  });
  const observed: ProxyObserved = {
    restApiId: 'api1',
    rootResourceId: 'root',
    proxyResourceId: 'res1',
    methodPresent: true,
    methodAuthorizationType: 'AWS_IAM',
    methodDeclaresPath: true,
    integrationType: 'HTTP_PROXY',
    integrationHttpMethod: 'ANY',
    integrationUri: 'https://esi.example.net/{proxy}',
    requestParameters: Object.fromEntries(
      Object.entries(integrationRequestParameters(desired)).map(([k, v]) => [k, manager.redact(v)]),
    ),
    stageName: 'v1',
    deploymentId: 'dep1',
    deployedIntegrationHash: integrationHash(desired),
  };
  return { manager, observed };
}

describe(ProxyManager.name, () => {
  describe('diff', () => {
    it('is empty in steady state', () => {
      const { manager, observed } = steady();
      expect(manager.diff(desired, observed)).toEqual([]);
    });

    it('reports a rotated secret as "auth header value" and a stale deployment, never the value', () => {
      const { manager, observed } = steady();
      const rotated = { ...desired, auth: { header: 'Authorization', value: 'Bearer rotated-77' } };
      const changes = manager.diff(rotated, observed);
      expect(changes.sort()).toEqual(['auth header value', 'deployment']);
      expect(JSON.stringify(changes)).not.toMatch(/unit-secret|rotated-77/);
    });

    it('reports a new source URL in the integration uri and the deployment', () => {
      const { manager, observed } = steady();
      const moved = { ...desired, sourceUrl: 'https://other.example.net/base' };
      expect(manager.diff(moved, observed).sort()).toEqual(['deployment', 'integration.uri']);
    });

    it('reports a method that is missing or open to the public', () => {
      const { manager, observed } = steady();
      expect(manager.diff(desired, { ...observed, methodPresent: false })).toContain('method');
      expect(manager.diff(desired, { ...observed, methodAuthorizationType: 'NONE' })).toContain(
        'method',
      );
    });

    it('reports auth removed from the spec as a request parameter change', () => {
      const { manager, observed } = steady();
      const noAuth = { ...desired, auth: undefined };
      expect(manager.diff(noAuth, observed)).toContain('integration.requestParameters');
    });

    it('reports a stage deployed by someone else (no hash of ours)', () => {
      const { manager, observed } = steady();
      const foreign = { ...observed, deployedIntegrationHash: undefined };
      expect(manager.diff(desired, foreign)).toEqual(['deployment']);
    });
  });

  it('scrubs the secret from an AWS error that echoes it, keeping the error classifiable', async () => {
    const { observed } = steady();
    const rotated = { ...desired, auth: { header: 'Authorization', value: 'Bearer echoed-5c1e' } };
    const client = fakeClient({
      PutIntegration: (input) => {
        // API Gateway quotes a mapping it refuses in its message.
        const parameters = input.requestParameters as Record<string, string>;
        const echoed = parameters['integration.request.header.Authorization'];
        throw awsError(
          'BadRequestException',
          400,
          `Invalid mapping expression specified: ${echoed}`,
        );
      },
    });
    const manager = new ProxyManager(client as unknown as APIGatewayClient, {
      fingerprintKey: Buffer.alloc(32, 7),
    });
    const err = (await manager.apply(owner, rotated, observed).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('BadRequestException');
    expect(err.message).toBe("Invalid mapping expression specified: '[redacted]'");
    expect(`${err.message}${err.stack}`).not.toContain('echoed-5c1e');
    expect(client.calls).toEqual(['PutIntegration']);
  });

  it('keeps no secret in the observed state: static values become keyed fingerprints', () => {
    const { manager, observed } = steady();
    expect(JSON.stringify(observed)).not.toContain('unit-secret');
    expect(manager.redact("'x'")).toMatch(/^redacted:[0-9a-f]{16}$/);
    expect(manager.redact('method.request.path.proxy')).toBe('method.request.path.proxy');
    const other = new ProxyManager(fakeClient({}) as unknown as APIGatewayClient);
    expect(other.redact(`'${SECRET}'`)).not.toBe(manager.redact(`'${SECRET}'`));
  });
});

describe('integration building', () => {
  it('appends {proxy} to the source URL, without a double slash', () => {
    expect(integrationUri('https://a.example')).toBe('https://a.example/{proxy}');
    expect(integrationUri('https://a.example/base/')).toBe('https://a.example/base/{proxy}');
  });

  it('maps the path, and the auth header as a static value in single quotes', () => {
    expect(integrationRequestParameters(desired)).toEqual({
      'integration.request.path.proxy': 'method.request.path.proxy',
      'integration.request.header.Authorization': `'${SECRET}'`,
    });
    expect(integrationRequestParameters({ ...desired, auth: undefined })).toEqual({
      'integration.request.path.proxy': 'method.request.path.proxy',
    });
  });
});

describe('integrationHash', () => {
  it('is 16 hex digits, stable, and changes with the URI or the secret', () => {
    const hash = integrationHash(desired);
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(integrationHash({ ...desired })).toBe(hash);
    expect(integrationHash({ ...desired, sourceUrl: 'https://b.example' })).not.toBe(hash);
    expect(integrationHash({ ...desired, auth: { header: 'Authorization', value: 'x' } })).not.toBe(
      hash,
    );
  });

  it('ignores what does not reach the deployment: the API name and the hint', () => {
    expect(integrationHash({ ...desired, name: 'other', hintRestApiId: 'abc' })).toBe(
      integrationHash(desired),
    );
  });

  it('round-trips through the deployment description, which holds no secret', () => {
    const description = deploymentDescription(integrationHash(desired));
    expect(description).not.toContain('unit-secret');
    expect(parseDeploymentDescription(description)).toBe(integrationHash(desired));
    expect(parseDeploymentDescription('deployed by hand')).toBeUndefined();
    expect(parseDeploymentDescription(undefined)).toBeUndefined();
  });
});

describe('validateAuth', () => {
  it.each([["Bearer it's"], ['Bearer a\nb'], ['Bearer a\rb']])(
    'refuses %j with SecretValueInvalid, without the value in the error',
    (value) => {
      let err: unknown;
      try {
        validateAuth({ header: 'Authorization', value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TerminalError);
      expect((err as TerminalError).reason).toBe('SecretValueInvalid');
      expect(`${(err as Error).message}\n${(err as Error).stack}`).not.toContain(value);
    },
  );

  it('accepts an ordinary token and no auth at all', () => {
    expect(() => validateAuth({ header: 'Authorization', value: SECRET })).not.toThrow();
    expect(() => validateAuth(undefined)).not.toThrow();
  });
});

import type { Downloader } from '../../../src/api/downloader.js';
import { NO_CREDENTIAL_HEADER } from '../../../src/aws/connection.js';
import type { OperatorConfig } from '../../../src/config.js';
import { names, ownerOf, stateMachineDesired } from '../../../src/controller/desired.js';
import {
  connectionDesired,
  connectionName,
  httpTaskRoleDesired,
} from '../../../src/controller/transport.js';
import { eveSpec } from '../workflow/fixtures.js';

const location = { region: 'eu-west-1', accountId: '123456789012', partition: 'aws' };
const config = {
  stageName: 'downloader',
  apigwInvokeEndpointTemplate: '{restApiId}.execute-api.{region}.amazonaws.com',
} as OperatorConfig;
const CONNECTION_ARN = 'arn:aws:events:eu-west-1:123456789012:connection/x/0f0e';

function downloader(auth = true): Downloader {
  const spec = eveSpec({
    source: {
      url: 'https://esi.evetech.net/',
      transport: 'HttpTask',
      ...(auth
        ? {
            auth: {
              secretRef: { name: 'esi-token', key: 'token' },
              header: 'Authorization',
              prefix: 'Bearer ',
            },
          }
        : {}),
    },
  });
  return {
    apiVersion: 'downloader.dev/v1alpha1',
    kind: 'Downloader',
    metadata: { namespace: 'team-data', name: 'x'.repeat(80), uid: 'uid-1' },
    spec,
  } as Downloader;
}

describe('the HttpTask transport', () => {
  it('names the connection within EventBridge rules, from the UID', () => {
    const name = connectionName(ownerOf(downloader()));
    expect(name.length).toBeLessThanOrEqual(64);
    expect(name).toMatch(/^[.\-_A-Za-z0-9]+$/);
    expect(name).toMatch(/-conn$/);
    expect(connectionName({ ...ownerOf(downloader()), uid: 'uid-2' })).not.toBe(name);
  });

  it('puts the auth header and the whole value (prefix and Secret) in the connection', () => {
    expect(connectionDesired(downloader(), 'Bearer abc')).toMatchObject({
      header: 'Authorization',
      value: 'Bearer abc',
    });
  });

  it('gives a Downloader without auth a connection with the harmless header', () => {
    expect(connectionDesired(downloader(false), undefined)).toMatchObject(NO_CREDENTIAL_HEADER);
  });

  it('grants the role the HTTP Task permissions on its own state machine and connection', () => {
    const d = downloader();
    const role = httpTaskRoleDesired(d, location, config, CONNECTION_ARN, 'arn:table');
    expect(role.name).toBe(names.stateMachineRole(ownerOf(d)));
    const policy = JSON.parse(role.inlinePolicy) as {
      Statement: Array<{ Action: unknown; Resource: unknown; Condition?: unknown }>;
    };
    expect(policy.Statement[0]).toMatchObject({
      Action: 'states:InvokeHTTPEndpoint',
      Resource: `arn:aws:states:eu-west-1:123456789012:stateMachine:${names.stateMachine(ownerOf(d))}`,
      Condition: { StringLike: { 'states:HTTPEndpoint': 'https://esi.evetech.net/*' } },
    });
    expect(JSON.stringify(policy)).toContain(`events!connection/${connectionName(ownerOf(d))}/*`);
  });

  it('makes the state machine download with http:invoke from the source URL', () => {
    const desired = stateMachineDesired(
      downloader(),
      location,
      config,
      '',
      'arn:role',
      CONNECTION_ARN,
    );
    expect(desired.definition).toContain('"Resource": "arn:aws:states:::http:invoke"');
    expect(desired.definition).toContain('"ApiEndpoint": "https://esi.evetech.net/v2/status"');
    expect(desired.definition).not.toContain('execute-api');
  });
});

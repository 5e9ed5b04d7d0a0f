import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CONNECTION_REASONS,
  ConnectionManager,
  connectionDescription,
  type ConnectionDesired,
} from '../../../src/aws/connection.js';
import { RequeueAfter, TerminalError } from '../../../src/errors.js';
import { awsError, fakeClient, type Handler } from './fake-client.js';

const owner = { namespace: 'eve', name: 'eve-player-count', uid: 'uid-1' };
const SECRET = 'Bearer s3cr3t-token';
const desired: ConnectionDesired = {
  name: 'dl-eve-eve-player-count-1a2b3c4d-conn',
  header: 'Authorization',
  value: SECRET,
};
const ARN = `arn:aws:events:us-east-1:123456789012:connection/${desired.name}/0f0e`;
const T1 = new Date('2026-12-03T10:00:00Z');
const T2 = new Date('2026-12-03T11:00:00Z');

function described(overrides: Record<string, unknown> = {}) {
  return {
    Name: desired.name,
    ConnectionArn: ARN,
    ConnectionState: 'AUTHORIZED',
    AuthorizationType: 'API_KEY',
    AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'Authorization' } },
    Description: connectionDescription(owner),
    LastModifiedTime: T1,
    ...overrides,
  };
}

function manager(handlers: Record<string, Handler>) {
  const client = fakeClient(handlers);
  const connections = new ConnectionManager(client as unknown as EventBridgeClient, {
    fingerprintKey: Buffer.alloc(32, 7),
  });
  return { client, connections };
}

describe(ConnectionManager.name, () => {
  describe('observe', () => {
    it('returns undefined when there is no connection of that name', async () => {
      const { connections } = manager({
        DescribeConnection: () => {
          throw awsError('ResourceNotFoundException');
        },
      });
      expect(await connections.observe(owner, desired)).toBeUndefined();
    });

    it('refuses a connection of that name made for another Downloader', async () => {
      const { connections } = manager({
        DescribeConnection: () => described({ Description: 'someone else' }),
      });
      const err = await connections.observe(owner, desired).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TerminalError);
      expect((err as TerminalError).reason).toBe(CONNECTION_REASONS.ownedByOther);
    });
  });

  describe('diff', () => {
    it('reports an unknown value once, then nothing in steady state', async () => {
      let modified = T1;
      const { client, connections } = manager({
        DescribeConnection: () => described({ LastModifiedTime: modified }),
        UpdateConnection: () => {
          modified = T2;
          return { ConnectionArn: ARN, ConnectionState: 'AUTHORIZED', LastModifiedTime: T2 };
        },
      });
      const first = await connections.observe(owner, desired);
      expect(connections.diff(desired, first!)).toEqual(['auth header value']);
      await connections.apply(owner, desired, first);
      const second = await connections.observe(owner, desired);
      expect(connections.diff(desired, second!)).toEqual([]);
      expect(client.calls).toEqual([
        'DescribeConnection',
        'UpdateConnection',
        'DescribeConnection',
      ]);
    });

    it('reports a rotated Secret, and a connection someone else changed since', async () => {
      let modified = T1;
      const { connections } = manager({
        DescribeConnection: () => described({ LastModifiedTime: modified }),
        UpdateConnection: () => ({
          ConnectionArn: ARN,
          ConnectionState: 'AUTHORIZED',
          LastModifiedTime: T1,
        }),
      });
      await connections.apply(owner, desired, await connections.observe(owner, desired));
      const observed = await connections.observe(owner, desired);
      expect(connections.diff({ ...desired, value: 'Bearer rotated' }, observed!)).toEqual([
        'auth header value',
      ]);
      modified = T2;
      expect(connections.diff(desired, (await connections.observe(owner, desired))!)).toEqual([
        'auth header value',
      ]);
    });

    it('reports another header, another authorization type and a deauthorized connection', () => {
      const { connections } = manager({});
      const observed = {
        name: desired.name,
        arn: ARN,
        state: 'DEAUTHORIZED',
        authorizationType: 'BASIC',
        header: 'X-Api-Key',
        valueFingerprint: connections.fingerprint(SECRET),
      };
      expect(connections.diff(desired, observed)).toEqual([
        'authorizationType',
        'auth header',
        'state',
      ]);
    });
  });

  describe('apply', () => {
    it('creates an API_KEY connection whose description names the owner, and returns no secret', async () => {
      const inputs: Record<string, unknown>[] = [];
      const { connections } = manager({
        CreateConnection: (input) => {
          inputs.push(input);
          return { ConnectionArn: ARN, ConnectionState: 'AUTHORIZED', LastModifiedTime: T1 };
        },
      });
      const observed = await connections.apply(owner, desired, undefined);
      expect(inputs[0]).toEqual({
        Name: desired.name,
        Description: connectionDescription(owner),
        AuthorizationType: 'API_KEY',
        AuthParameters: {
          ApiKeyAuthParameters: { ApiKeyName: 'Authorization', ApiKeyValue: SECRET },
        },
      });
      expect(observed.arn).toBe(ARN);
      expect(JSON.stringify(observed)).not.toContain('s3cr3t');
    });

    it('updates a connection an earlier attempt created, once it is found to be its own', async () => {
      const { client, connections } = manager({
        CreateConnection: () => {
          throw awsError('ResourceAlreadyExistsException');
        },
        DescribeConnection: () => described(),
        UpdateConnection: () => ({
          ConnectionArn: ARN,
          ConnectionState: 'AUTHORIZED',
          LastModifiedTime: T2,
        }),
      });
      await connections.apply(owner, desired, undefined);
      expect(client.calls).toEqual(['CreateConnection', 'DescribeConnection', 'UpdateConnection']);
    });

    it('scrubs the secret from AWS errors', async () => {
      const { connections } = manager({
        CreateConnection: () => {
          throw awsError('ValidationException', 400, `bad value ${SECRET}`);
        },
      });
      const err = (await connections
        .apply(owner, desired, undefined)
        .catch((e: unknown) => e)) as Error;
      expect(err.message).not.toContain('s3cr3t');
    });

    it('refuses a value with a line break without naming it', async () => {
      const { client, connections } = manager({});
      const err = await connections
        .apply(owner, { ...desired, value: 'Bearer a\nb' }, undefined)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TerminalError);
      expect((err as TerminalError).reason).toBe(CONNECTION_REASONS.secretValueInvalid);
      expect((err as Error).message).not.toContain('Bearer a');
      expect(client.calls).toEqual([]);
    });

    it('waits while EventBridge is still authorizing the connection', async () => {
      const { connections } = manager({
        CreateConnection: () => ({
          ConnectionArn: ARN,
          ConnectionState: 'AUTHORIZING',
          LastModifiedTime: T1,
        }),
      });
      await expect(connections.apply(owner, desired, undefined)).rejects.toBeInstanceOf(
        RequeueAfter,
      );
    });
  });

  describe('delete', () => {
    it('deletes by name and counts an absent connection as deleted', async () => {
      const { client, connections } = manager({
        DeleteConnection: () => {
          throw awsError('ResourceNotFoundException');
        },
      });
      await connections.delete(owner, { name: desired.name, arn: ARN });
      expect(client.calls).toEqual(['DeleteConnection']);
    });
  });
});

import type { V1Secret } from '@kubernetes/client-node';
import type { Downloader } from '../../../src/api/downloader.js';
import { applyExecution } from '../../../src/controller/execution-status.js';
import { credentialValues } from '../../../src/controller/secrets.js';

/**
 * A source that echoes request headers in its error body hands the operator its own credential
 * as a failure's cause. The reliability suite found it copied into status.lastExecution.cause,
 * the LastRunSucceeded message and a Warning Event; these pin the masking.
 */

const SECRET = 'SECRET-canary-0123456789';

function downloader(prefix = 'Bearer '): Downloader {
  return {
    apiVersion: 'downloader.dev/v1alpha1',
    kind: 'Downloader',
    metadata: { name: 'd', namespace: 'ns', generation: 1 },
    spec: {
      source: {
        url: 'https://api.example.com',
        path: '/x',
        method: 'GET',
        auth: { secretRef: { name: 'tok', key: 'token' }, header: 'Authorization', prefix },
      },
      table: { name: 'T1x', partitionKey: { name: 'pk', type: 'S' }, deletionPolicy: 'Retain' },
      item: { pk: { S: '$.x' } },
      schedule: { expression: 'rate(1 minute)', timezone: 'UTC', suspend: false },
      workflow: { type: 'STANDARD' },
    },
  } as Downloader;
}

const secrets = {
  get: (namespace: string, name: string): V1Secret | undefined =>
    namespace === 'ns' && name === 'tok'
      ? { data: { token: Buffer.from(SECRET).toString('base64') } }
      : undefined,
};

describe('masking the credential in execution status', () => {
  it('lists the header value and the Secret value, longest first', () => {
    expect(credentialValues(downloader(), secrets)).toEqual([`Bearer ${SECRET}`, SECRET]);
    expect(credentialValues(downloader(), { get: () => undefined })).toEqual([]);
  });

  it('masks a credential the source echoed in the cause, the condition and the failure', () => {
    const status = {};
    const cause = JSON.stringify({ received: { authorization: `Bearer ${SECRET}` } });
    const applied = applyExecution(
      status,
      {
        name: 'e1',
        status: 'FAILED',
        startTime: '2026-01-01T00:00:00Z',
        stopTime: '2026-01-01T00:00:01Z',
        error: 'ApiGateway.401',
        cause,
      },
      { generation: 1, now: new Date('2026-01-01T00:00:02Z') },
      credentialValues(downloader(), secrets),
    );
    expect(JSON.stringify(status)).not.toContain(SECRET);
    expect(JSON.stringify(applied)).not.toContain(SECRET);
    expect(JSON.stringify(status)).toContain('[redacted]');
    expect(applied.failure?.reason).toBe('SourceUnauthorized');
  });
});

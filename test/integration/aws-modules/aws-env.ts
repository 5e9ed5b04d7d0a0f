import { randomBytes, randomUUID } from 'node:crypto';
import { createAwsClients, type AwsClients } from '../../../src/aws/clients.js';
import type { Owner } from '../../../src/aws/owner.js';

/**
 * What the AWS module tests share: SDK clients for the local AWS the suite's global setup
 * started (configured only by the environment it exported, AWS_ENDPOINT_URL included, as the
 * operator is), and owners with fresh UIDs so that tests sharing one moto never meet.
 */

/** Clients of the local AWS; destroy them in afterAll. */
export function localAws(): AwsClients {
  if (!process.env.AWS_ENDPOINT_URL) {
    throw new Error('AWS_ENDPOINT_URL is not set: run through the integration project');
  }
  return createAwsClients();
}

/** A short random suffix for names. */
export function suffix(): string {
  return randomBytes(4).toString('hex');
}

/** A Downloader owner with a fresh UID. */
export function newOwner(name = `dl-${suffix()}`): Owner {
  return { namespace: 'aws-modules', name, uid: randomUUID() };
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

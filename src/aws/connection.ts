import {
  ConnectionAuthorizationType,
  CreateConnectionCommand,
  DeleteConnectionCommand,
  DescribeConnectionCommand,
  UpdateConnectionCommand,
  type EventBridgeClient,
} from '@aws-sdk/client-eventbridge';
import type { Logger } from 'pino';
import { RequeueAfter, TerminalError } from '../errors.js';
import { isConflict, isNotFound, scrubSecret, traced } from './errors.js';
import type { Owner } from './owner.js';
import type { ResourceManager } from './resource.js';
import { newFingerprintKey, secretFingerprint } from './secret-fingerprint.js';

/**
 * The EventBridge connection through which a Downloader's HTTP Task (transport HttpTask)
 * authenticates to the source: API_KEY authorization, whose key name is the auth header and whose
 * value is the prefix and the Secret's value. EventBridge keeps the value in a Secrets Manager
 * secret of its own and the HTTP Task adds the header at run time, so the value never enters the
 * state machine, its input or its history.
 *
 * The secret value:
 * - DescribeConnection does not return it, so a rotated Secret cannot be seen in AWS. The
 *   manager remembers, per connection, a keyed fingerprint (HMAC, with a key made at random per
 *   process and never kept) of the value it last applied and the connection's LastModifiedTime
 *   then. A connection modified since (someone else changed it), or one this process has not
 *   written yet, counts as holding an unknown value and is updated once: after a restart, one
 *   UpdateConnection per HttpTask Downloader, then none in steady state. Nothing derived from the
 *   value is stored in AWS or Kubernetes.
 * - It never appears in what this module returns or logs; AWS errors from CreateConnection and
 *   UpdateConnection have it scrubbed from their message.
 * - A value EventBridge cannot hold (a control character, over 512 characters) is refused with
 *   TerminalError SecretValueInvalid, whose message does not contain it.
 *
 * Finding the connection after a crash: connection names are unique per account and region, and
 * the name is derived from the Downloader's UID (see resourceName), so it is found by name.
 * EventBridge connections take no tags, so ownership is recorded in the description, which names
 * the UID; a connection of that name with another description is refused (ConnectionOwnedByOther)
 * rather than taken over.
 */

/** Condition reasons this module produces. */
export const CONNECTION_REASONS = {
  secretValueInvalid: 'SecretValueInvalid',
  ownedByOther: 'ConnectionOwnedByOther',
  authorizing: 'ConnectionAuthorizing',
} as const;

/**
 * A Downloader without `source.auth` still needs a connection (the HTTP Task requires one). It
 * gets an API_KEY connection with this harmless header, rather than BASIC, which would send an
 * `Authorization: Basic` header that a source without authentication may refuse.
 */
export const NO_CREDENTIAL_HEADER = { header: 'X-Downloader-Operator', value: 'no-credential' };

/** A control character, which EventBridge refuses in ApiKeyValue. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;
/** EventBridge's bound on ApiKeyValue. */
const MAX_VALUE_LENGTH = 512;
/** Connection states in which EventBridge is still working on it: wait, then look again. */
const PENDING_STATES = new Set(['CREATING', 'UPDATING', 'AUTHORIZING', 'DEAUTHORIZING']);
/** States in which the HTTP Task can use the connection. */
const USABLE_STATES = new Set(['AUTHORIZED', 'ACTIVE']);
const PENDING_REQUEUE_MS = 5_000;

/** What the spec asks for. */
export interface ConnectionDesired {
  /** Connection name: unique per account and region, derived from the owner's UID. */
  name: string;
  /** The header the credential is sent in (ApiKeyName). */
  header: string;
  /** Secret: the header's whole value (prefix and the Secret's value). Never log. */
  value: string;
}

/** What exists in EventBridge. Holds no secret. */
export interface ConnectionObserved {
  name: string;
  arn: string;
  state?: string;
  authorizationType?: string;
  /** ApiKeyName of an API_KEY connection. */
  header?: string;
  description?: string;
  /**
   * Fingerprint of the value this process last applied, when the connection has not been
   * modified since; undefined when the value it holds is unknown.
   */
  valueFingerprint?: string;
}

/** The description naming `owner`, by which the connection is recognised as its own. */
export function connectionDescription(owner: Owner): string {
  return `downloader-operator connection of ${owner.namespace}/${owner.name} (uid ${owner.uid})`;
}

/** Refuses a value EventBridge cannot hold; the message never contains the value. */
export function validateConnectionValue(desired: ConnectionDesired): void {
  if (
    desired.value.length === 0 ||
    desired.value.length > MAX_VALUE_LENGTH ||
    CONTROL_CHARACTER.test(desired.value)
  ) {
    throw new TerminalError(
      CONNECTION_REASONS.secretValueInvalid,
      `the value for header ${desired.header} (prefix and Secret) is empty, longer than ` +
        `${MAX_VALUE_LENGTH} characters or contains a control character, which an EventBridge ` +
        'connection cannot hold',
    );
  }
}

/** Options of ConnectionManager. */
export interface ConnectionManagerOptions {
  logger?: Logger;
  /** Key of the value fingerprints; default random per instance. */
  fingerprintKey?: Buffer;
}

/** Manages the EventBridge connections of HttpTask Downloaders; one instance serves all. */
export class ConnectionManager implements ResourceManager<ConnectionDesired, ConnectionObserved> {
  readonly kind = 'Connection';
  private readonly logger: Logger | undefined;
  private readonly fingerprintKey: Buffer;
  /** Per connection name: the fingerprint of the value applied, and LastModifiedTime then. */
  private readonly applied = new Map<string, { fingerprint: string; modified: number }>();

  constructor(
    private readonly eventBridge: EventBridgeClient,
    options: ConnectionManagerOptions = {},
  ) {
    this.logger = options.logger;
    this.fingerprintKey = options.fingerprintKey ?? newFingerprintKey();
  }

  /** A keyed fingerprint of a value: comparable, and useless to anyone without the key. */
  fingerprint(value: string): string {
    return secretFingerprint(this.fingerprintKey, value);
  }

  /**
   * Reads the connection; undefined if there is none. Throws TerminalError
   * ConnectionOwnedByOther for a connection of this name that another Downloader made.
   */
  async observe(owner: Owner, desired: ConnectionDesired): Promise<ConnectionObserved | undefined> {
    let out;
    try {
      out = await traced(this.logger, 'DescribeConnection', () =>
        this.eventBridge.send(new DescribeConnectionCommand({ Name: desired.name })),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    if (out.Description !== connectionDescription(owner)) {
      throw new TerminalError(
        CONNECTION_REASONS.ownedByOther,
        `EventBridge connection ${desired.name} exists but was not made for this Downloader ` +
          `(its description does not name uid ${owner.uid}); delete it or rename the Downloader`,
      );
    }
    const record = this.applied.get(desired.name);
    const modified = out.LastModifiedTime?.getTime() ?? 0;
    return {
      name: desired.name,
      arn: out.ConnectionArn ?? '',
      ...(out.ConnectionState ? { state: out.ConnectionState } : {}),
      ...(out.AuthorizationType ? { authorizationType: out.AuthorizationType } : {}),
      ...(out.AuthParameters?.ApiKeyAuthParameters?.ApiKeyName
        ? { header: out.AuthParameters.ApiKeyAuthParameters.ApiKeyName }
        : {}),
      ...(out.Description ? { description: out.Description } : {}),
      ...(record && record.modified === modified ? { valueFingerprint: record.fingerprint } : {}),
    };
  }

  /**
   * Names of what differs: authorizationType, "auth header", "auth header value" (never the
   * value; also when the value held is unknown), state (deauthorized or failed).
   */
  diff(desired: ConnectionDesired, observed: ConnectionObserved): string[] {
    const out: string[] = [];
    if (observed.authorizationType !== ConnectionAuthorizationType.API_KEY) {
      out.push('authorizationType');
    }
    if (observed.header !== desired.header) out.push('auth header');
    if (observed.valueFingerprint !== this.fingerprint(desired.value))
      out.push('auth header value');
    const state = observed.state ?? '';
    if (!USABLE_STATES.has(state) && !PENDING_STATES.has(state)) out.push('state');
    return out;
  }

  /**
   * Creates the connection, or updates its authorization (which also authorizes a deauthorized
   * one). Throws RequeueAfter while EventBridge is still authorizing it.
   */
  async apply(
    owner: Owner,
    desired: ConnectionDesired,
    observed: ConnectionObserved | undefined,
  ): Promise<ConnectionObserved> {
    validateConnectionValue(desired);
    const auth = {
      AuthorizationType: ConnectionAuthorizationType.API_KEY,
      AuthParameters: {
        ApiKeyAuthParameters: { ApiKeyName: desired.header, ApiKeyValue: desired.value },
      },
    };
    const description = connectionDescription(owner);

    let out: { ConnectionArn?: string; ConnectionState?: string; LastModifiedTime?: Date };
    try {
      if (observed) {
        out = await this.update(desired, description, auth);
      } else {
        try {
          out = await traced(this.logger, 'CreateConnection', () =>
            this.eventBridge.send(
              new CreateConnectionCommand({
                Name: desired.name,
                Description: description,
                ...auth,
              }),
            ),
          );
        } catch (err) {
          if (!isConflict(err)) throw err;
          // Made by an attempt whose answer was lost: check it is ours, then update it.
          if (!(await this.observe(owner, desired))) throw err;
          out = await this.update(desired, description, auth);
        }
      }
    } catch (err) {
      throw scrubSecret(err, desired.value);
    }

    const fingerprint = this.fingerprint(desired.value);
    const modified = await this.modifiedTime(desired.name, out.LastModifiedTime);
    this.applied.set(desired.name, { fingerprint, modified });
    const state = out.ConnectionState ?? '';
    if (PENDING_STATES.has(state)) {
      throw new RequeueAfter(
        PENDING_REQUEUE_MS,
        CONNECTION_REASONS.authorizing,
        `EventBridge connection ${desired.name} is ${state}`,
      );
    }
    return {
      name: desired.name,
      arn: out.ConnectionArn ?? observed?.arn ?? '',
      ...(state ? { state } : {}),
      authorizationType: ConnectionAuthorizationType.API_KEY,
      header: desired.header,
      description,
      valueFingerprint: fingerprint,
    };
  }

  /** Deletes the connection (EventBridge deletes its secret); absent counts as deleted. */
  async delete(_owner: Owner, observed: ConnectionObserved): Promise<void> {
    this.applied.delete(observed.name);
    try {
      await traced(this.logger, 'DeleteConnection', () =>
        this.eventBridge.send(new DeleteConnectionCommand({ Name: observed.name })),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private update(
    desired: ConnectionDesired,
    description: string,
    auth: Pick<CreateConnectionCommand['input'], 'AuthorizationType' | 'AuthParameters'>,
  ) {
    return traced(this.logger, 'UpdateConnection', () =>
      this.eventBridge.send(
        new UpdateConnectionCommand({ Name: desired.name, Description: description, ...auth }),
      ),
    );
  }

  /**
   * The LastModifiedTime observe will see after this write: the write's own answer, or (when it
   * has none) a DescribeConnection, so that the next observe recognises the state as this one.
   */
  private async modifiedTime(name: string, answered: Date | undefined): Promise<number> {
    if (answered) return answered.getTime();
    const out = await traced(this.logger, 'DescribeConnection', () =>
      this.eventBridge.send(new DescribeConnectionCommand({ Name: name })),
    );
    return out.LastModifiedTime?.getTime() ?? 0;
  }
}

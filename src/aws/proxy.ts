import { createHash } from 'node:crypto';
import {
  CreateDeploymentCommand,
  CreateResourceCommand,
  CreateRestApiCommand,
  DeleteMethodCommand,
  DeleteRestApiCommand,
  GetDeploymentCommand,
  GetIntegrationCommand,
  GetResourcesCommand,
  GetRestApiCommand,
  GetRestApisCommand,
  GetStageCommand,
  PutIntegrationCommand,
  PutMethodCommand,
  type APIGatewayClient,
  type Integration,
  type Resource,
  type RestApi,
} from '@aws-sdk/client-api-gateway';
import type { Logger } from 'pino';
import { TerminalError } from '../errors.js';
import { isConflict, isNotFound, isThrottling, scrubSecret, traced } from './errors.js';
import {
  MANAGED_BY,
  TAG_KEYS,
  isSharedAs,
  ownerTags,
  shareTags,
  type Owner,
  type ShareOwner,
} from './owner.js';
import type { ResourceManager } from './resource.js';
import { newFingerprintKey, secretFingerprint } from './secret-fingerprint.js';

/**
 * The API Gateway REST API through which a Downloader's state machine reaches the source: a
 * `{proxy+}` resource whose ANY method forwards to `${sourceUrl}/{proxy}` (HTTP_PROXY), deployed
 * to one stage. Step Functions calls it with `apigateway:invoke` and IAM_ROLE auth, so the
 * method requires AWS_IAM: nobody else can use the proxy to reach the source with the user's
 * credentials.
 *
 * Authentication. Step Functions refuses to send an Authorization header, so the credential is
 * a static value in the integration: the request parameter
 * `integration.request.header.<Header>` is `'<value>'`. The value is a secret, and:
 * - it never appears in what this module returns: in the observed state, every static value is
 *   replaced by a keyed fingerprint (HMAC with a key made at random per process and never kept),
 *   and diff reports a difference in it as "auth header value";
 * - AWS errors from PutIntegration have it scrubbed from their message before they are rethrown;
 * - a value API Gateway cannot hold as a static value (a single quote or a line break) is refused
 *   with TerminalError SecretValueInvalid, whose message does not contain it.
 *
 * Deployments. A stage serves a snapshot of the API taken by CreateDeployment, so a changed
 * integration (a new source URL, a rotated Secret) takes effect only once deployed. Each
 * deployment's description carries a hash of the integration it was made from (see
 * `integrationHash`), and apply redeploys when the stage's deployment carries another hash.
 *
 * Finding the API after a crash: API Gateway names are not unique, so the API is found by its
 * owner tag. observe tries the id the operator last recorded (`hintRestApiId`) first, then scans
 * the region's REST APIs for the tag. Tags are given at creation (moto, the local AWS, takes them
 * only then), so an API the operator created is always found.
 *
 * Only put* calls change the API, never update* (moto answers 500 to UpdateIntegration and
 * UpdateMethod). Real API Gateway refuses PutMethod on an existing method, so a method that needs
 * changing is deleted and put again, with its integration.
 */

/** Condition reasons this module produces. */
export const PROXY_REASONS = {
  secretValueInvalid: 'SecretValueInvalid',
} as const;

/** The resource path part that forwards every path. */
export const PROXY_PATH_PART = '{proxy+}';
const PROXY_PATH = `/${PROXY_PATH_PART}`;
const PROXY_METHOD = 'ANY';
const AUTHORIZATION_TYPE = 'AWS_IAM';
const INTEGRATION_TYPE = 'HTTP_PROXY';
const PATH_PARAMETER = 'method.request.path.proxy';
const DEPLOYMENT_PREFIX = 'downloader-operator integration sha256:';
/** Bumped when what a deployment is made from changes shape, to redeploy every proxy once. */
const INTEGRATION_HASH_VERSION = 1;

/** A credential sent to the source in a header. */
export interface ProxyAuth {
  /** Header name, for example Authorization. */
  header: string;
  /** Secret: the header's whole value (prefix and the Secret's value). */
  value: string;
}

/** What the spec asks for. */
export interface ProxyDesired {
  /** Name of the REST API (not unique in API Gateway; the API is found by tag). */
  name: string;
  /** Origin of the source plus an optional base path, without a trailing slash. */
  sourceUrl: string;
  stageName: string;
  auth?: ProxyAuth;
  /** REST API id recorded in the Downloader's status, tried before a scan. */
  hintRestApiId?: string;
  /**
   * Set for a REST API shared by several Downloaders: it is then found by, and created with,
   * the share tags (namespace and share key hash) instead of the owner's UID tag, and the owner
   * passed to observe and apply is ignored.
   */
  share?: ShareOwner;
}

/** A REST API the operator manages, as a scan of the region lists it. */
export interface ManagedRestApi {
  id: string;
  name?: string;
  tags: Record<string, string>;
  createdDate?: Date;
}

/** What exists in API Gateway. Static request parameter values are fingerprints, not values. */
export interface ProxyObserved {
  restApiId: string;
  rootResourceId: string;
  proxyResourceId?: string;
  methodPresent: boolean;
  methodAuthorizationType?: string;
  /** Whether the method declares the proxy path parameter. */
  methodDeclaresPath?: boolean;
  integrationType?: string;
  integrationHttpMethod?: string;
  integrationUri?: string;
  /** The integration's request parameters; static ('...') values replaced by fingerprints. */
  requestParameters?: Record<string, string>;
  /** The desired stage, if it exists. */
  stageName?: string;
  deploymentId?: string;
  /** Hash from the stage's deployment description, if the operator made that deployment. */
  deployedIntegrationHash?: string;
}

/** The integration URI for `sourceUrl`. */
export function integrationUri(sourceUrl: string): string {
  return `${sourceUrl.replace(/\/+$/, '')}/{proxy}`;
}

/** The request parameter that carries the auth header, for a header name. */
export function authParameterKey(header: string): string {
  return `integration.request.header.${header}`;
}

/** The integration's request parameters, secret value included: send to AWS, never log. */
export function integrationRequestParameters(desired: ProxyDesired): Record<string, string> {
  return {
    'integration.request.path.proxy': PATH_PARAMETER,
    ...(desired.auth ? { [authParameterKey(desired.auth.header)]: `'${desired.auth.value}'` } : {}),
  };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * A hash of everything a deployment of the proxy is made from: method authorization, integration
 * type, URI and request parameters. The auth value enters only as its own SHA-256, so a rotated
 * Secret changes the hash. 16 hex digits (64 bits) is plenty to tell deployments apart.
 *
 * The hash is stored in the deployment's description, readable by whoever may read the API's
 * configuration; those principals can read the integration, where the value itself is, so the
 * hash tells them nothing they cannot see already, and it tells nobody else anything.
 */
export function integrationHash(desired: ProxyDesired): string {
  const parameters = integrationRequestParameters(desired);
  if (desired.auth) {
    const key = authParameterKey(desired.auth.header);
    parameters[key] = `sha256:${sha256Hex(desired.auth.value)}`;
  }
  const sorted = Object.entries(parameters).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const material = JSON.stringify([
    INTEGRATION_HASH_VERSION,
    AUTHORIZATION_TYPE,
    INTEGRATION_TYPE,
    PROXY_METHOD,
    integrationUri(desired.sourceUrl),
    sorted,
  ]);
  return sha256Hex(material).slice(0, 16);
}

/** The description the operator gives a deployment made from `hash`. */
export function deploymentDescription(hash: string): string {
  return `${DEPLOYMENT_PREFIX}${hash}`;
}

/** The hash in a deployment description the operator wrote; undefined for any other. */
export function parseDeploymentDescription(description: string | undefined): string | undefined {
  if (!description?.startsWith(DEPLOYMENT_PREFIX)) return undefined;
  const hash = description.slice(DEPLOYMENT_PREFIX.length);
  return /^[0-9a-f]{16}$/.test(hash) ? hash : undefined;
}

/**
 * Refuses an auth value API Gateway cannot carry as a static parameter value: the value sits
 * between single quotes, and a header cannot span lines. The message never contains the value.
 */
export function validateAuth(auth: ProxyAuth | undefined): void {
  if (!auth) return;
  if (/['\r\n]/.test(auth.value)) {
    throw new TerminalError(
      PROXY_REASONS.secretValueInvalid,
      `the value for header ${auth.header} (prefix and Secret) contains a single quote or a ` +
        'line break, which API Gateway cannot send as a static header value',
    );
  }
}

/**
 * Thrown in place of a second attempt of CreateRestApi after an attempt whose outcome is unknown
 * (a dropped connection, a 5xx): API Gateway may have created the API all the same, and
 * CreateRestApi is not idempotent, so the SDK's own retry would make a second API with the same
 * tags, which nothing would ever delete. The reconcile fails instead; the next one finds the API
 * by its owner tag, or creates it if the first attempt made nothing.
 */
export class CreateOutcomeUnknown extends Error {
  override readonly name = 'CreateOutcomeUnknown';
}

/**
 * Lets the SDK retry `command` only after throttling, which AWS answers before doing anything;
 * after any other failure the next attempt throws CreateOutcomeUnknown instead of sending. The
 * middleware sits inside the SDK's retry loop (finalizeRequest step, after retryMiddleware).
 */
export function withoutBlindRetry<C extends CreateRestApiCommand>(command: C): C {
  let outcomeUnknown = false;
  command.middlewareStack.add(
    (next) => async (args) => {
      if (outcomeUnknown) {
        throw new CreateOutcomeUnknown(
          'CreateRestApi got no usable answer and may have created the API; not sending it ' +
            'again: the next reconcile looks for the API by its tag first',
        );
      }
      try {
        return await next(args);
      } catch (err) {
        if (!isThrottling(err)) outcomeUnknown = true;
        throw err;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'downloaderOperatorNoBlindRetry' },
  );
  return command;
}

/** Options of ProxyManager. */
export interface ProxyManagerOptions {
  logger?: Logger;
  /** Key of the fingerprints in the observed state; default random per instance. */
  fingerprintKey?: Buffer;
}

/** Manages the proxy REST APIs; one instance serves every Downloader. */
export class ProxyManager implements ResourceManager<ProxyDesired, ProxyObserved> {
  readonly kind = 'Proxy';
  private readonly logger: Logger | undefined;
  private readonly fingerprintKey: Buffer;

  constructor(
    private readonly apiGateway: APIGatewayClient,
    options: ProxyManagerOptions = {},
  ) {
    this.logger = options.logger;
    this.fingerprintKey = options.fingerprintKey ?? newFingerprintKey();
  }

  /**
   * A request parameter value as the observed state holds it: static values ('...', the only
   * place a secret can be) become a keyed fingerprint; mapping expressions stay as they are.
   */
  redact(value: string): string {
    if (!value.startsWith("'")) return value;
    return `redacted:${secretFingerprint(this.fingerprintKey, value)}`;
  }

  /** Finds the API (hint, then tag scan) and reads it; undefined if there is none. */
  async observe(owner: Owner, desired: ProxyDesired): Promise<ProxyObserved | undefined> {
    const api = await this.find(
      (tags) =>
        desired.share ? isSharedAs(tags, desired.share) : tags?.[TAG_KEYS.uid] === owner.uid,
      desired.hintRestApiId,
    );
    if (!api?.id) return undefined;
    return this.read(api.id, api.rootResourceId, desired.stageName);
  }

  /**
   * Names of what differs: proxyResource, method, integration.type, integration.uri,
   * integration.requestParameters, "auth header value" (never the value), deployment.
   */
  diff(desired: ProxyDesired, observed: ProxyObserved): string[] {
    const out = new Set<string>();
    if (!observed.proxyResourceId) out.add('proxyResource');
    if (
      !observed.methodPresent ||
      observed.methodAuthorizationType !== AUTHORIZATION_TYPE ||
      !observed.methodDeclaresPath
    ) {
      out.add('method');
    }
    if (
      observed.integrationType !== INTEGRATION_TYPE ||
      observed.integrationHttpMethod !== PROXY_METHOD
    ) {
      out.add('integration.type');
    }
    if (observed.integrationUri !== integrationUri(desired.sourceUrl)) out.add('integration.uri');

    const authKey = desired.auth ? authParameterKey(desired.auth.header) : undefined;
    const wanted = integrationRequestParameters(desired);
    const have = observed.requestParameters ?? {};
    for (const key of new Set([...Object.keys(wanted), ...Object.keys(have)])) {
      const want = wanted[key];
      const got = have[key];
      if (want !== undefined && got !== undefined && this.redact(want) === got) continue;
      const valueOnly = key === authKey && want !== undefined && got !== undefined;
      out.add(valueOnly ? 'auth header value' : 'integration.requestParameters');
    }

    if (!observed.deploymentId || observed.deployedIntegrationHash !== integrationHash(desired)) {
      out.add('deployment');
    }
    return [...out];
  }

  /** Creates what is missing, puts what differs, and deploys when the stage is behind. */
  async apply(
    owner: Owner,
    desired: ProxyDesired,
    observed: ProxyObserved | undefined,
  ): Promise<ProxyObserved> {
    validateAuth(desired.auth);

    // Without an observed state (lost, or never read), look before creating: a second REST API
    // would not fail, it would be a duplicate.
    const current =
      observed ?? (await this.observe(owner, desired)) ?? (await this.createApi(owner, desired));
    const changes = this.diff(desired, current);
    const restApiId = current.restApiId;

    const proxyResourceId =
      current.proxyResourceId ??
      (await this.ensureProxyResource(restApiId, current.rootResourceId));

    let putIntegration = changes.some(
      (c) => c.startsWith('integration.') || c === 'auth header value',
    );
    if (changes.includes('method') || !current.proxyResourceId) {
      await this.putMethod(restApiId, proxyResourceId, current.methodPresent);
      putIntegration = true;
    }
    if (putIntegration) await this.putIntegration(restApiId, proxyResourceId, desired);

    const hash = integrationHash(desired);
    let deploymentId = current.deploymentId;
    if (changes.includes('deployment')) {
      const out = await traced(this.logger, 'CreateDeployment', () =>
        this.apiGateway.send(
          new CreateDeploymentCommand({
            restApiId,
            stageName: desired.stageName,
            description: deploymentDescription(hash),
          }),
        ),
      );
      deploymentId = out.id;
    }

    const parameters = integrationRequestParameters(desired);
    return {
      restApiId,
      rootResourceId: current.rootResourceId,
      proxyResourceId,
      methodPresent: true,
      methodAuthorizationType: AUTHORIZATION_TYPE,
      methodDeclaresPath: true,
      integrationType: INTEGRATION_TYPE,
      integrationHttpMethod: PROXY_METHOD,
      integrationUri: integrationUri(desired.sourceUrl),
      requestParameters: Object.fromEntries(
        Object.entries(parameters).map(([k, v]) => [k, this.redact(v)]),
      ),
      stageName: desired.stageName,
      ...(deploymentId ? { deploymentId } : {}),
      deployedIntegrationHash: hash,
    };
  }

  /** Deletes the REST API (stages and deployments go with it); absent counts as deleted. */
  async delete(_owner: Owner, observed: ProxyObserved): Promise<void> {
    await this.deleteApi(observed.restApiId);
  }

  /** Deletes a REST API by id; absent counts as deleted. */
  async deleteApi(restApiId: string): Promise<void> {
    try {
      await traced(this.logger, 'DeleteRestApi', () =>
        this.apiGateway.send(new DeleteRestApiCommand({ restApiId })),
      );
    } catch (err) {
      if (isNotFound(err)) return;
      // moto answers 500 (an HTML page) to DeleteRestApi of an unknown id where API Gateway
      // answers NotFoundException: ask whether the API is still there before failing.
      if (!(await this.exists(restApiId))) return;
      throw err;
    }
  }

  private async exists(restApiId: string): Promise<boolean> {
    try {
      await traced(this.logger, 'GetRestApi', () =>
        this.apiGateway.send(new GetRestApiCommand({ restApiId })),
      );
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Every REST API tagged managed-by the operator, in one scan of the region (500 a page): what
   * the orphan sweep of shared proxies judges.
   */
  async listManaged(): Promise<ManagedRestApi[]> {
    const found: ManagedRestApi[] = [];
    let position: string | undefined;
    do {
      const from = position;
      const page = await traced(this.logger, 'GetRestApis', () =>
        this.apiGateway.send(new GetRestApisCommand({ limit: 500, position: from })),
      );
      for (const api of page.items ?? []) {
        if (!api.id || api.tags?.[TAG_KEYS.managedBy] !== MANAGED_BY) continue;
        found.push({
          id: api.id,
          ...(api.name ? { name: api.name } : {}),
          tags: api.tags,
          ...(api.createdDate ? { createdDate: api.createdDate } : {}),
        });
      }
      position = page.position;
    } while (position);
    return found;
  }

  /** The tags of one REST API; undefined when it does not exist. */
  async tagsOf(restApiId: string): Promise<Record<string, string> | undefined> {
    try {
      const api = await traced(this.logger, 'GetRestApi', () =>
        this.apiGateway.send(new GetRestApiCommand({ restApiId })),
      );
      return api.tags ?? {};
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The REST API whose tags match: the hinted one if they do, else the oldest found by a scan. */
  private async find(
    matches: (tags: Record<string, string> | undefined) => boolean,
    hint: string | undefined,
  ): Promise<RestApi | undefined> {
    if (hint) {
      try {
        const api = await traced(this.logger, 'GetRestApi', () =>
          this.apiGateway.send(new GetRestApiCommand({ restApiId: hint })),
        );
        if (matches(api.tags)) return api;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }

    const mine: RestApi[] = [];
    let position: string | undefined;
    do {
      const from = position;
      const page = await traced(this.logger, 'GetRestApis', () =>
        this.apiGateway.send(new GetRestApisCommand({ limit: 500, position: from })),
      );
      mine.push(...(page.items ?? []).filter((api) => matches(api.tags)));
      position = page.position;
    } while (position);

    // Two can exist only if tags were lost or an API was copied; keep to the oldest, always.
    mine.sort(
      (a, b) =>
        (a.createdDate?.getTime() ?? 0) - (b.createdDate?.getTime() ?? 0) ||
        (a.id ?? '').localeCompare(b.id ?? ''),
    );
    return mine[0];
  }

  /** Reads resources, method, integration and stage of a REST API. */
  private async read(
    restApiId: string,
    rootHint: string | undefined,
    stageName: string,
  ): Promise<ProxyObserved> {
    const resources = await this.resources(restApiId);
    const rootResourceId = rootHint ?? resources.find((r) => r.path === '/')?.id ?? '';
    const proxies = resources.filter((r) => r.path === PROXY_PATH);
    const proxy = proxies.find((r) => r.resourceMethods?.[PROXY_METHOD]) ?? proxies[0];
    const method = proxy?.resourceMethods?.[PROXY_METHOD];

    let integration: Integration | undefined = method?.methodIntegration;
    if (proxy?.id && method && !integration) {
      integration = await this.integration(restApiId, proxy.id);
    }

    const stage = await this.stage(restApiId, stageName);
    return {
      restApiId,
      rootResourceId,
      ...(proxy?.id ? { proxyResourceId: proxy.id } : {}),
      methodPresent: method !== undefined,
      ...(method?.authorizationType ? { methodAuthorizationType: method.authorizationType } : {}),
      ...(method
        ? { methodDeclaresPath: method.requestParameters?.[PATH_PARAMETER] !== undefined }
        : {}),
      ...(integration?.type ? { integrationType: integration.type } : {}),
      ...(integration?.httpMethod ? { integrationHttpMethod: integration.httpMethod } : {}),
      ...(integration?.uri ? { integrationUri: integration.uri } : {}),
      ...(integration
        ? {
            requestParameters: Object.fromEntries(
              Object.entries(integration.requestParameters ?? {}).map(([k, v]) => [
                k,
                this.redact(v),
              ]),
            ),
          }
        : {}),
      ...stage,
    };
  }

  private async resources(restApiId: string): Promise<Resource[]> {
    const all: Resource[] = [];
    let position: string | undefined;
    do {
      const from = position;
      const page = await traced(this.logger, 'GetResources', () =>
        this.apiGateway.send(
          new GetResourcesCommand({ restApiId, limit: 500, embed: ['methods'], position: from }),
        ),
      );
      all.push(...(page.items ?? []));
      position = page.position;
    } while (position);
    return all;
  }

  private async integration(restApiId: string, resourceId: string) {
    try {
      return await traced(this.logger, 'GetIntegration', () =>
        this.apiGateway.send(
          new GetIntegrationCommand({ restApiId, resourceId, httpMethod: PROXY_METHOD }),
        ),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async stage(
    restApiId: string,
    stageName: string,
  ): Promise<Pick<ProxyObserved, 'stageName' | 'deploymentId' | 'deployedIntegrationHash'>> {
    let deploymentId: string | undefined;
    try {
      const stage = await traced(this.logger, 'GetStage', () =>
        this.apiGateway.send(new GetStageCommand({ restApiId, stageName })),
      );
      deploymentId = stage.deploymentId;
    } catch (err) {
      if (isNotFound(err)) return {};
      throw err;
    }
    if (!deploymentId) return { stageName };

    const id = deploymentId;
    try {
      const deployment = await traced(this.logger, 'GetDeployment', () =>
        this.apiGateway.send(new GetDeploymentCommand({ restApiId, deploymentId: id })),
      );
      const hash = parseDeploymentDescription(deployment.description);
      return { stageName, deploymentId: id, ...(hash ? { deployedIntegrationHash: hash } : {}) };
    } catch (err) {
      if (isNotFound(err)) return { stageName };
      throw err;
    }
  }

  private async createApi(owner: Owner, desired: ProxyDesired): Promise<ProxyObserved> {
    const api = await traced(this.logger, 'CreateRestApi', () =>
      this.apiGateway.send(
        withoutBlindRetry(
          new CreateRestApiCommand({
            name: desired.name,
            description: desired.share
              ? `downloader-operator proxy shared in ${desired.share.namespace} to ` +
                desired.sourceUrl
              : `downloader-operator proxy for ${owner.namespace}/${owner.name}`,
            endpointConfiguration: { types: ['REGIONAL'] },
            tags: desired.share ? shareTags(desired.share) : ownerTags(owner),
          }),
        ),
      ),
    );
    if (!api.id) throw new Error('API Gateway CreateRestApi returned no id');
    const id = api.id;
    const rootResourceId =
      api.rootResourceId ?? (await this.resources(id)).find((r) => r.path === '/')?.id ?? '';
    return { restApiId: id, rootResourceId, methodPresent: false };
  }

  /** The `{proxy+}` resource's id, created if missing; looked up first (observed may be stale). */
  private async ensureProxyResource(restApiId: string, rootResourceId: string): Promise<string> {
    const existing = (await this.resources(restApiId)).find((r) => r.path === PROXY_PATH)?.id;
    if (existing) return existing;
    try {
      const created = await traced(this.logger, 'CreateResource', () =>
        this.apiGateway.send(
          new CreateResourceCommand({
            restApiId,
            parentId: rootResourceId,
            pathPart: PROXY_PATH_PART,
          }),
        ),
      );
      if (created.id) return created.id;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const found = (await this.resources(restApiId)).find((r) => r.path === PROXY_PATH)?.id;
    if (!found)
      throw new Error(
        `API Gateway has no ${PROXY_PATH} resource in ${restApiId} after creating it`,
      );
    return found;
  }

  /** Puts the ANY method; an existing one is deleted first (API Gateway refuses to put over it). */
  private async putMethod(restApiId: string, resourceId: string, present: boolean): Promise<void> {
    const put = () =>
      traced(this.logger, 'PutMethod', () =>
        this.apiGateway.send(
          new PutMethodCommand({
            restApiId,
            resourceId,
            httpMethod: PROXY_METHOD,
            authorizationType: AUTHORIZATION_TYPE,
            requestParameters: { [PATH_PARAMETER]: true },
          }),
        ),
      );
    if (present) await this.deleteMethod(restApiId, resourceId);
    try {
      await put();
    } catch (err) {
      if (!isConflict(err)) throw err;
      await this.deleteMethod(restApiId, resourceId);
      await put();
    }
  }

  private async deleteMethod(restApiId: string, resourceId: string): Promise<void> {
    try {
      await traced(this.logger, 'DeleteMethod', () =>
        this.apiGateway.send(
          new DeleteMethodCommand({ restApiId, resourceId, httpMethod: PROXY_METHOD }),
        ),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Puts the integration (it replaces the existing one); the secret is scrubbed from errors. */
  private async putIntegration(
    restApiId: string,
    resourceId: string,
    desired: ProxyDesired,
  ): Promise<void> {
    try {
      await traced(this.logger, 'PutIntegration', () =>
        this.apiGateway.send(
          new PutIntegrationCommand({
            restApiId,
            resourceId,
            httpMethod: PROXY_METHOD,
            type: INTEGRATION_TYPE,
            integrationHttpMethod: PROXY_METHOD,
            uri: integrationUri(desired.sourceUrl),
            requestParameters: integrationRequestParameters(desired),
          }),
        ),
      );
    } catch (err) {
      throw scrubSecret(err, desired.auth?.value);
    }
  }
}

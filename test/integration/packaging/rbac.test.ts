import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { kubectl } from '../kubectl.js';
import {
  applyServerSide,
  buildHelm,
  ensureNamespace,
  HELM_BUILD_TIMEOUT_MS,
  objects,
  template,
} from './helm.js';

const RBAC_KINDS = new Set([
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
]);

/** Renders the chart and applies its ServiceAccount and RBAC for real; returns the SA user. */
function installRbac(release: string, namespace: string, values: object): string {
  const rbac = objects(template({ release, namespace, values })).filter((o) =>
    RBAC_KINDS.has(o.kind),
  );
  const result = applyServerSide(rbac.map((o) => `---\n${stringify(o)}`).join(''), false);
  if (result.code !== 0) throw new Error(`could not apply the chart's RBAC: ${result.stderr}`);
  const account = rbac.find((o) => o.kind === 'ServiceAccount');
  return `system:serviceaccount:${namespace}:${account?.metadata.name}`;
}

/** Whether `user` may do `verb` on `resource` in `namespace` (or all namespaces), per RBAC. */
function can(user: string, verb: string, resource: string, namespace: string | 'all'): boolean {
  const [plural = '', subresource] = resource.split('#');
  const where = namespace === 'all' ? ['--all-namespaces'] : ['-n', namespace];
  const sub = subresource ? [`--subresource=${subresource}`] : [];
  const result = kubectl(['auth', 'can-i', verb, plural, ...sub, ...where, `--as=${user}`]);
  if (result.code !== 0 && result.stdout.trim() !== 'no') {
    throw new Error(`kubectl auth can-i failed: ${result.stderr}`);
  }
  return result.stdout.trim() === 'yes';
}

/**
 * Resources -> verbs the user has in `namespace` (`kubectl auth can-i --list`), without what
 * every authenticated user has (self reviews, discovery URLs).
 */
function rulesIn(user: string, namespace: string): Record<string, string> {
  const result = kubectl(['auth', 'can-i', '--list', '-n', namespace, `--as=${user}`]);
  const rules: Record<string, string> = {};
  for (const line of result.stdout.split('\n').slice(1)) {
    const match = /^(\S+)\s+\[\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]$/.exec(line.trim());
    if (!match || /^self\w+reviews\./.test(match[1] ?? '')) continue;
    const names = match[2] ? `/${match[2]}` : '';
    rules[`${match[1]}${names}`] = match[3] ?? '';
  }
  return rules;
}

/** What the operator does in a namespace it watches (src/kube/*.ts), and nothing else. */
const WATCHED_NAMESPACE_RULES = {
  'downloaders.downloader.dev': 'get list watch patch',
  'downloaders.downloader.dev/status': 'patch',
  secrets: 'list watch',
  events: 'create patch',
};

const LEASE_RULES = {
  'leases.coordination.k8s.io': 'create',
  'leases.coordination.k8s.io/downloader-operator': 'get update',
};

/** Everything the operator must not be able to do in a namespace, though it sits close by. */
const FORBIDDEN: Array<[string, string]> = [
  ['get', 'secrets'],
  ['create', 'secrets'],
  ['update', 'secrets'],
  ['patch', 'secrets'],
  ['delete', 'secrets'],
  ['get', 'configmaps'],
  ['list', 'configmaps'],
  ['create', 'configmaps'],
  ['update', 'configmaps'],
  ['delete', 'configmaps'],
  ['create', 'downloaders.downloader.dev'],
  ['update', 'downloaders.downloader.dev'],
  ['delete', 'downloaders.downloader.dev'],
  ['deletecollection', 'downloaders.downloader.dev'],
  ['update', 'downloaders.downloader.dev#status'],
  ['get', 'events'],
  ['delete', 'events'],
  ['list', 'pods'],
  ['create', 'pods'],
  ['create', 'pods#exec'],
  ['create', 'serviceaccounts#token'],
  ['impersonate', 'serviceaccounts'],
  ['create', 'deployments.apps'],
  ['create', 'roles.rbac.authorization.k8s.io'],
  ['create', 'rolebindings.rbac.authorization.k8s.io'],
  ['list', 'leases.coordination.k8s.io'],
  ['delete', 'leases.coordination.k8s.io'],
];

const CLUSTER_FORBIDDEN: Array<[string, string]> = [
  ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
  ['update', 'customresourcedefinitions.apiextensions.k8s.io'],
  ['list', 'namespaces'],
  ['list', 'nodes'],
];

describe('the RBAC of the chart, applied to the API server', () => {
  const id = randomBytes(3).toString('hex');

  beforeAll(() => {
    buildHelm();
  }, HELM_BUILD_TIMEOUT_MS);

  describe('with default values (a ClusterRole)', () => {
    const namespace = `pkg-rbac-${id}`;
    const elsewhere = `pkg-rbac-apps-${id}`;
    let user: string;

    beforeAll(() => {
      ensureNamespace(namespace);
      ensureNamespace(elsewhere);
      user = installRbac(`rbac-${id}`, namespace, {});
    });

    it('lets the operator do exactly what it needs in any namespace, and its Lease in its own', () => {
      expect(rulesIn(user, elsewhere)).toEqual(WATCHED_NAMESPACE_RULES);
      expect(rulesIn(user, namespace)).toEqual({ ...WATCHED_NAMESPACE_RULES, ...LEASE_RULES });
      for (const [verb, resource] of [
        ['list', 'downloaders.downloader.dev'],
        ['watch', 'downloaders.downloader.dev'],
        ['list', 'secrets'],
        ['watch', 'secrets'],
      ] as const) {
        expect({ verb, resource, allowed: can(user, verb, resource, 'all') }).toEqual({
          verb,
          resource,
          allowed: true,
        });
      }
      expect(can(user, 'patch', 'downloaders.downloader.dev#status', elsewhere)).toBe(true);
      expect(can(user, 'get', 'leases.coordination.k8s.io/downloader-operator', namespace)).toBe(
        true,
      );
      expect(can(user, 'update', 'leases.coordination.k8s.io/downloader-operator', namespace)).toBe(
        true,
      );
    });

    it('refuses it secrets reads by name and writes, configmaps, pods, other Leases, RBAC', () => {
      const allowed = [...FORBIDDEN, ...CLUSTER_FORBIDDEN]
        .filter(([verb, resource]) => can(user, verb, resource, elsewhere))
        .map(([verb, resource]) => `${verb} ${resource}`);
      expect(allowed).toEqual([]);
      expect(can(user, 'update', 'leases.coordination.k8s.io/other', namespace)).toBe(false);
      expect(can(user, 'create', 'leases.coordination.k8s.io', elsewhere)).toBe(false);
      expect(can(user, 'get', 'leases.coordination.k8s.io/downloader-operator', elsewhere)).toBe(
        false,
      );
    });
  });

  describe('with watchNamespaces (Roles, no ClusterRole)', () => {
    const namespace = `pkg-rbacns-${id}`;
    const watched = [`pkg-rbacns-a-${id}`, `pkg-rbacns-b-${id}`];
    const unwatched = `pkg-rbacns-c-${id}`;
    let user: string;

    beforeAll(() => {
      for (const name of [namespace, ...watched, unwatched]) ensureNamespace(name);
      user = installRbac(`rbacns-${id}`, namespace, { watchNamespaces: watched });
    });

    it('lets the operator do what it needs in the watched namespaces only', () => {
      for (const name of watched) {
        expect({ name, rules: rulesIn(user, name) }).toEqual({
          name,
          rules: WATCHED_NAMESPACE_RULES,
        });
      }
      expect(rulesIn(user, namespace)).toEqual(LEASE_RULES);
      expect(rulesIn(user, unwatched)).toEqual({});
    });

    it('refuses it everything outside them, even listing across namespaces', () => {
      expect(can(user, 'list', 'secrets', 'all')).toBe(false);
      expect(can(user, 'list', 'downloaders.downloader.dev', 'all')).toBe(false);
      expect(can(user, 'list', 'secrets', unwatched)).toBe(false);
      expect(can(user, 'create', 'events', unwatched)).toBe(false);
      const allowed = FORBIDDEN.filter(([verb, resource]) =>
        can(user, verb, resource, watched[0] ?? ''),
      ).map(([verb, resource]) => `${verb} ${resource}`);
      expect(allowed).toEqual([]);
    });
  });
});

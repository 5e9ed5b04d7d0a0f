import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { createTestNamespace, kubectl, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import { AwsInventory } from '../operator/aws-inventory.js';
import { apply, eveExample, getDownloader, readyDownloader } from '../operator/downloaders.js';
import {
  applyServerSide,
  buildHelm,
  ensureNamespace,
  HELM_BUILD_TIMEOUT_MS,
  literalEnv,
  objects,
  only,
  podSpec,
  template,
} from './helm.js';

/** Where and under which name the chart is installed, as manifests/ installs it. */
const INSTALL_NAMESPACE = 'downloader-operator';
const POD_NAME = 'downloader-operator-7d9f8-test';

/** A line of the operator's log that says the API server refused it. */
const REFUSED = /forbidden|HTTP-Code: 403\b|"(status)?code":\s*403\b/i;

/**
 * A kubeconfig that authenticates with `token` only, to the local cloud's API server (its
 * server and CA taken from the admin kubeconfig the suite runs with).
 */
function tokenKubeconfig(token: string): string {
  const admin = parse(readFileSync(process.env.KUBECONFIG ?? '', 'utf8')) as {
    clusters: Array<{ cluster: { server: string; 'certificate-authority': string } }>;
  };
  const cluster = admin.clusters[0]?.cluster;
  const path = join(mkdtempSync(join(tmpdir(), 'sa-kubeconfig-')), 'kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster }],
    users: [{ name: 'operator', user: { token } }],
    contexts: [{ name: 'operator', context: { cluster: 'local', user: 'operator' } }],
    'current-context': 'operator',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}

function mintToken(serviceAccount: string): string {
  return kubectlOk([
    'create',
    'token',
    serviceAccount,
    '-n',
    INSTALL_NAMESPACE,
    '--duration',
    '1h',
  ]).trim();
}

/**
 * The operator's command line and environment as the chart's Deployment gives them, with the
 * downward API filled in as the kubelet would, and the metrics address left to startOperator
 * (a free port on loopback instead of 0.0.0.0:8080).
 */
function fromDeployment(rendered: string): { args: string[]; env: Record<string, string> } {
  const deployment = only(objects(rendered), 'Deployment');
  const args = (podSpec(deployment).containers[0]?.args ?? []).filter(
    (arg) => !arg.startsWith('--metrics-address'),
  );
  const env = { ...literalEnv(deployment), POD_NAME, POD_NAMESPACE: INSTALL_NAMESPACE };
  return { args, env };
}

describe('the operator with only the permissions of the chart', () => {
  const id = randomBytes(3).toString('hex');
  const name = 'eve';
  const table = `PkgEve-${Date.now()}`;
  const label = `packaging-test-${id}`;
  let namespace: string;
  let rendered: string;
  let operator: OperatorProcess | undefined;

  beforeAll(() => {
    buildHelm();
    ensureNamespace(INSTALL_NAMESPACE);
    namespace = createTestNamespace('pkg-operator');
    // The chart as installed, with what points it at the local cloud; the label selector keeps
    // this cluster-wide operator off Downloaders other test files left behind.
    rendered = template({
      namespace: INSTALL_NAMESPACE,
      values: {
        aws: { region: process.env.AWS_REGION },
        config: {
          apigwInvokeEndpointTemplate: process.env.APIGW_INVOKE_ENDPOINT_TEMPLATE,
          executionPollIntervalS: 2,
          labelSelector: `downloader.dev/test=${label}`,
          logLevel: 'debug',
        },
      },
    });
    const rbac = objects(rendered).filter((o) =>
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(
        o.kind,
      ),
    );
    const result = applyServerSide(rbac.map((o) => `---\n${stringify(o)}`).join(''), false);
    if (result.code !== 0) throw new Error(`could not apply the chart's RBAC: ${result.stderr}`);
  }, HELM_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await operator?.stop();
    kubectl(['delete', '-n', namespace, `downloader/${name}`, '--wait=false']);
  });

  it('is really refused what the token lacks: a ServiceAccount without the chart RBAC gets 403', async () => {
    kubectlOk(['create', 'serviceaccount', `nobody-${id}`, '-n', INSTALL_NAMESPACE]);
    const { args, env } = fromDeployment(rendered);
    const refused = startOperator(args, {
      ...env,
      KUBECONFIG: tokenKubeconfig(mintToken(`nobody-${id}`)),
    });
    try {
      const line = await eventually('a refusal in the log', () =>
        refused.lines().find((l) => REFUSED.test(l)),
      );
      expect(line).toContain(`system:serviceaccount:${INSTALL_NAMESPACE}:nobody-${id}`);
    } finally {
      await refused.stop();
    }
  });

  it('reconciles the EVE Downloader to Ready, with its Events, as the chart ServiceAccount', async () => {
    const deployment = only(objects(rendered), 'Deployment');
    const { args, env } = fromDeployment(rendered);
    expect(args).toEqual(['--leader-elect=true']);
    operator = startOperator([...args, '--lease-namespace', INSTALL_NAMESPACE], {
      ...env,
      KUBECONFIG: tokenKubeconfig(mintToken(podSpec(deployment).serviceAccountName)),
    });

    const downloader = eveExample(name, table);
    downloader.metadata.labels = { 'downloader.dev/test': label };
    apply(namespace, downloader);
    await eventually('the Downloader to be Ready', () => readyDownloader(namespace, name), 120_000);

    const events = kubectlOk([
      'get',
      'events',
      '-n',
      namespace,
      '--field-selector',
      `involvedObject.name=${name}`,
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    expect(events.trim()).not.toBe('');
  });

  it('holds its Lease in the install namespace, as the chart Role allows', async () => {
    const holder = await eventually('the Lease to be held', () => {
      const result = kubectl([
        'get',
        'lease',
        'downloader-operator',
        '-n',
        INSTALL_NAMESPACE,
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]);
      return result.code === 0 && result.stdout ? result.stdout : undefined;
    });
    expect(holder).toBe(POD_NAME);
  });

  it('runs it on run-now to SUCCEEDED', async () => {
    kubectlOk(['annotate', '-n', namespace, `downloader/${name}`, 'downloader.dev/run-now=pkg']);
    const done = await eventually('a finished execution on the status', () => {
      const d = getDownloader(namespace, name);
      const status = d?.status?.lastExecution?.status;
      return status && status !== 'RUNNING' && d?.status?.lastRunNow === 'pkg' ? d : undefined;
    });
    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
  });

  it('deletes it, cleaning up AWS and releasing the finalizer', async () => {
    const last = getDownloader(namespace, name);
    const result = kubectl(['delete', '-n', namespace, `downloader/${name}`, '--timeout=60s']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(getDownloader(namespace, name)).toBeUndefined();
    expect(last?.status?.resources?.restApiId).toBeTruthy();
    expect(await new AwsInventory().restApisIn(namespace)).toHaveLength(0);
  });

  it('was never refused anything by the API server', () => {
    const lines = operator?.lines() ?? [];
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => REFUSED.test(line))).toEqual([]);
  });
});

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { loadConfig, OPTIONS } from '../../../src/config.js';
import {
  CHART_DIR,
  configOptionNames,
  defaultValue,
  expectedFiles,
  staleFiles,
  valueKind,
} from '../../../scripts/gen-manifests.js';
import { IMAGE_ENV } from '../../../scripts/bench/operator.js';
import { kubectl } from '../kubectl.js';
import {
  applyServerSide,
  buildHelm,
  ensureNamespace,
  helm,
  HELM_BUILD_TIMEOUT_MS,
  literalEnv,
  objects,
  only,
  podSpec,
  template,
  valuesFile,
  type KubeObject,
} from './helm.js';

const id = randomBytes(3).toString('hex');
const namespace = `pkg-chart-${id}`;
const watched = [`pkg-watch-a-${id}`, `pkg-watch-b-${id}`];
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

/** Values for the config keys whose form the operator checks. */
const SAMPLE_OVERRIDES: Record<string, unknown> = {
  apigwInvokeEndpointTemplate: 'vpce-0abc.execute-api.{region}.vpce.amazonaws.com/{restApiId}',
  labelSelector: 'team=data,tier!=test',
  stateMachineRoleArn: 'arn:aws:iam::123456789012:role/downloader-sfn',
  schedulerRoleArn: 'arn:aws:iam::123456789012:role/downloader-scheduler',
  permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/boundary',
  leaseNamespace: 'kube-system',
  leaseDurationS: 30,
  renewDeadlineS: 20,
  allowedSourceHosts: ['esi.evetech.net', '*.example.com'],
  awsRateLimits: 'off',
  logLevel: 'debug',
};

/** A value for each config key, none of them the default, each valid for the schema. */
const SAMPLE_CONFIG: Record<string, unknown> = Object.fromEntries(
  configOptionNames().map((name) => {
    if (name in SAMPLE_OVERRIDES) return [name, SAMPLE_OVERRIDES[name]];
    const byDefault = defaultValue(name);
    switch (valueKind(name)) {
      case 'boolean':
        return [name, !byDefault];
      case 'seconds':
      case 'integer':
        return [name, Number(byDefault) * 2 + 1];
      case 'list':
        return [name, ['one', 'two']];
      case 'string':
        return [name, `sample-${name}`];
    }
  }),
);

/** The environment variable form of a config value. */
const envText = (value: unknown) => (Array.isArray(value) ? value.join(',') : String(value));

/** Rendered sets applied with a server-side dry run; each one its own release. */
const SCENARIOS: Array<{ name: string; values: object; kinds: string[] }> = [
  {
    name: 'default values',
    values: {},
    kinds: [
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ],
  },
  {
    name: 'watchNamespaces',
    values: { watchNamespaces: watched },
    // A Role and RoleBinding per watched namespace, plus the leader election pair.
    kinds: [
      'Deployment',
      'PodDisruptionBudget',
      'Role',
      'Role',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ],
  },
  {
    name: 'the ServiceMonitor on',
    values: { metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } } },
    kinds: [
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ],
  },
  {
    name: 'supplied IAM roles, every option set and a prices ConfigMap mounted',
    values: {
      config: { ...SAMPLE_CONFIG, pricesFile: '/etc/downloader/prices/prices.json' },
      aws: { region: 'eu-west-1' },
      extraVolumes: [{ name: 'prices', configMap: { name: 'downloader-prices' } }],
      extraVolumeMounts: [{ name: 'prices', mountPath: '/etc/downloader/prices', readOnly: true }],
    },
    kinds: [
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ],
  },
  {
    name: 'one replica without leader election, with an existing ServiceAccount',
    values: {
      replicaCount: 1,
      leaderElection: { enabled: false },
      serviceAccount: { create: false, name: 'platform-sa' },
    },
    kinds: ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Service'],
  },
];

/**
 * A minimal ServiceMonitor CRD: the local API server has no Prometheus Operator. It accepts any
 * spec, so applying a ServiceMonitor checks its group, version, kind and namespace, not its
 * fields.
 */
const SERVICE_MONITOR_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'servicemonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    names: { kind: 'ServiceMonitor', plural: 'servicemonitors', listKind: 'ServiceMonitorList' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        },
      },
    ],
  },
};

describe('the Helm chart', () => {
  beforeAll(() => {
    buildHelm();
    for (const name of [namespace, ...watched]) ensureNamespace(name);
    const crd = applyServerSide(stringify(SERVICE_MONITOR_CRD), false);
    if (crd.code !== 0) throw new Error(`could not create the ServiceMonitor CRD: ${crd.stderr}`);
    kubectl([
      'wait',
      '--for',
      'condition=Established',
      '--timeout',
      '60s',
      'crd/servicemonitors.monitoring.coreos.com',
    ]);
  }, HELM_BUILD_TIMEOUT_MS);

  it('passes helm lint, also with --strict, with default values and each scenario', () => {
    for (const strict of [[], ['--strict']]) {
      const plain = helm(['lint', ...strict, CHART_DIR]);
      expect({ strict, code: plain.code, out: plain.stdout }).toMatchObject({ code: 0 });
      for (const { values } of SCENARIOS) {
        const lint = helm(['lint', ...strict, CHART_DIR, '-f', valuesFile(values)]);
        expect({ values, code: lint.code, out: lint.stdout }).toMatchObject({ code: 0 });
      }
    }
  });

  it.each(SCENARIOS)(
    'renders, with $name, objects the API server accepts (server-side dry run)',
    ({ values, kinds }) => {
      const release = `r${randomBytes(3).toString('hex')}`;
      const rendered = template({ release, namespace, values });
      expect(
        objects(rendered)
          .map((o) => o.kind)
          .sort(),
      ).toEqual(kinds);

      const result = applyServerSide(rendered, true);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      expect(result.stdout).toContain('(server dry run)');
    },
  );

  it('installs, upgrades to watchNamespaces and uninstalls with helm on the API server', () => {
    const release = `inst-${id}`;
    const fullname = `${release}-downloader-operator`;
    const exists = (...args: string[]) => kubectl(['get', ...args]).code === 0;

    const install = helm(['install', release, CHART_DIR, '--namespace', namespace]);
    expect({ code: install.code, stderr: install.stderr }).toEqual({ code: 0, stderr: '' });
    expect(install.stdout).toContain(`is installed in namespace ${namespace}`);
    expect(exists('clusterrole', fullname)).toBe(true);
    expect(exists('deployment', fullname, '-n', namespace)).toBe(true);

    const upgrade = helm([
      'upgrade',
      release,
      CHART_DIR,
      '--namespace',
      namespace,
      '-f',
      valuesFile({ watchNamespaces: watched }),
    ]);
    expect({ code: upgrade.code, stderr: upgrade.stderr }).toEqual({ code: 0, stderr: '' });
    expect(exists('clusterrole', fullname)).toBe(false);
    expect(watched.map((name) => exists('role', fullname, '-n', name))).toEqual([true, true]);

    const uninstall = helm(['uninstall', release, '--namespace', namespace]);
    expect(uninstall.code).toBe(0);
    expect(exists('role', fullname, '-n', watched[0] ?? '')).toBe(false);
    expect(exists('deployment', fullname, '-n', namespace)).toBe(false);
  });

  it('refuses a value of the wrong type, or an unknown key, naming it', () => {
    const wrongType = helm(['template', 'x', CHART_DIR, '-f', valuesFile({ replicaCount: 'two' })]);
    expect(wrongType.code).not.toBe(0);
    expect(wrongType.stderr).toContain("values don't meet the specifications of the schema");
    expect(wrongType.stderr).toContain("at '/replicaCount': got string, want integer");

    const typo = helm(['template', 'x', CHART_DIR, '--set', 'config.concurency=8']);
    expect(typo.stderr).toContain("at '/config': additional properties 'concurency' not allowed");

    const badLevel = helm(['template', 'x', CHART_DIR, '--set', 'config.logLevel=verbose']);
    expect(badLevel.code).not.toBe(0);
    expect(badLevel.stderr).toContain("at '/config/logLevel'");
  });

  it('runs the pod under the restricted Pod Security Standard, with a writable /tmp only', () => {
    const deployment = only(objects(template({ namespace })), 'Deployment');
    const pod = podSpec(deployment);
    const container = pod.containers[0]!;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);

    // The namespace enforces "restricted": the admission warns about a pod template that would
    // be refused (here, without two of the chart's settings), and says nothing about the chart's.
    const clean = applyServerSide(stringify(deployment), true);
    expect({ code: clean.code, stderr: clean.stderr }).toEqual({ code: 0, stderr: '' });
    const loose = only(
      objects(
        template({
          namespace,
          values: { securityContext: { capabilities: null, allowPrivilegeEscalation: null } },
        }),
      ),
      'Deployment',
    );
    expect(applyServerSide(stringify(loose), true).stderr).toContain(
      'would violate PodSecurity "restricted',
    );
  });

  it('runs two replicas with leader election, probes on the metrics port, image at appVersion', () => {
    const rendered = objects(template({ namespace }));
    const deployment = only(rendered, 'Deployment');
    const container = podSpec(deployment).containers[0]!;
    expect((deployment as unknown as { spec: { replicas: number } }).spec.replicas).toBe(2);
    expect(container).toMatchObject({
      image: `ghcr.io/downloader-dev/downloader-operator:${version}`,
      command: ['node', 'dist/main.js'],
      args: ['--leader-elect=true', '--metrics-address=0.0.0.0:8080'],
      ports: [{ name: 'metrics', containerPort: 8080, protocol: 'TCP' }],
      livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' } },
      readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' } },
    });
    expect(container.env?.slice(0, 2)).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]);
    expect(only(rendered, 'PodDisruptionBudget')).toMatchObject({
      spec: { minAvailable: 1 },
    });
    expect(only(rendered, 'Service')).toMatchObject({
      spec: { ports: [{ name: 'metrics', port: 8080, targetPort: 'metrics' }] },
    });
  });

  it('passes every option as the environment variable the operator reads, and it reads them back', () => {
    for (const name of configOptionNames()) {
      expect({ name, value: SAMPLE_CONFIG[name] }).not.toEqual({
        name,
        value: defaultValue(name),
      });
    }
    const values = {
      config: SAMPLE_CONFIG,
      watchNamespaces: watched,
      aws: { region: 'eu-west-1' },
    };
    const deployment = only(objects(template({ namespace, values })), 'Deployment');
    const env = literalEnv(deployment);
    for (const name of configOptionNames()) {
      const value = envText(SAMPLE_CONFIG[name]);
      expect({ name, value: env[OPTIONS[name].env] }).toEqual({ name, value });
    }
    expect(env).toMatchObject({ AWS_REGION: 'eu-west-1', WATCH_NAMESPACES: watched.join(',') });

    // What the operator makes of the Deployment is what it makes of the same settings given by
    // hand, with leader election on and the probes' address.
    const pod = { POD_NAME: 'operator-abc', POD_NAMESPACE: namespace };
    const args = podSpec(deployment).containers[0]?.args ?? [];
    const config = loadConfig(args, { ...env, ...pod });
    const byHand = Object.fromEntries(
      configOptionNames().map((name) => [OPTIONS[name].env, envText(SAMPLE_CONFIG[name])]),
    );
    expect(config).toEqual(
      loadConfig(['--leader-elect=true', '--metrics-address=0.0.0.0:8080'], {
        ...byHand,
        ...pod,
        WATCH_NAMESPACES: watched.join(','),
      }),
    );
    expect(config).toMatchObject({
      namespaces: watched,
      stateMachineRoleArn: SAMPLE_OVERRIDES.stateMachineRoleArn,
      leaderElect: true,
      metricsAddress: '0.0.0.0:8080',
      leaseNamespace: 'kube-system',
      identity: 'operator-abc',
      allowedSourceHosts: ['esi.evetech.net', '*.example.com'],
    });
  });

  it("keeps the operator's defaults with default values, apart from what a cluster needs", () => {
    const deployment = only(objects(template({ namespace })), 'Deployment');
    const args = podSpec(deployment).containers[0]?.args ?? [];
    const podEnv = { POD_NAME: 'operator-abc', POD_NAMESPACE: namespace };
    const rendered = loadConfig(args, { ...literalEnv(deployment), ...podEnv });
    expect(rendered).toEqual({
      ...loadConfig([], podEnv),
      leaderElect: true,
      metricsAddress: '0.0.0.0:8080',
    });
  });

  it("caps V8's old generation at three quarters of the memory limit, as the image does", () => {
    const nodeOptions = (values?: Record<string, unknown>) =>
      literalEnv(only(objects(template({ namespace, values })), 'Deployment')).NODE_OPTIONS;
    const capped = (mib: number) => `--max-semi-space-size=2 --max-old-space-size=${mib}`;
    // The default limit (256Mi) gives the image's own setting.
    expect(nodeOptions()).toBe(IMAGE_ENV.NODE_OPTIONS);
    expect(nodeOptions({ resources: { limits: { memory: '512Mi' } } })).toBe(capped(384));
    expect(nodeOptions({ resources: { limits: { memory: '2Gi' } } })).toBe(capped(1536));
    // A limit in other units, or none: no NODE_OPTIONS, so the image's applies.
    expect(nodeOptions({ resources: { limits: { memory: '500M' } } })).toBeUndefined();
    expect(nodeOptions({ resources: { limits: null } })).toBeUndefined();
  });

  it('puts the Lease Role where the Lease is, and no PodDisruptionBudget with one replica', () => {
    const values = { replicaCount: 1, config: { leaseNamespace: 'kube-system' } };
    const rendered = objects(template({ namespace, values }));
    expect(rendered.map((o) => o.kind)).not.toContain('PodDisruptionBudget');
    const leaseRole = rendered.find(
      (o: KubeObject) => o.kind === 'Role' && o.metadata.name.endsWith('-leader-election'),
    );
    expect(leaseRole?.metadata.namespace).toBe('kube-system');
  });
});

describe('manifests/', () => {
  let helmBin: string;

  beforeAll(() => {
    helmBin = buildHelm();
  }, HELM_BUILD_TIMEOUT_MS);

  it('is what `npm run gen:manifests` makes from the chart now', () => {
    expect(staleFiles(expectedFiles(helmBin))).toEqual([]);
  });

  it('installs with kubectl apply -f manifests/', () => {
    const result = kubectl(['apply', '-f', 'manifests/']);
    expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
    expect(result.stderr).not.toContain('PodSecurity');
    expect(result.stdout).toMatch(/namespace\/downloader-operator (created|configured|unchanged)/);
    expect(result.stdout).toMatch(
      /deployment.apps\/downloader-operator (created|configured|unchanged)/,
    );
  });
});

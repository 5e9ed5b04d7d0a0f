import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { OPTIONS } from '../../../src/config.js';
import {
  CHART_DIR,
  CHART_OWNED_OPTIONS,
  chartSources,
  configOptionNames,
  splitManifests,
} from '../../../scripts/gen-manifests.js';

const read = (path: string) => readFileSync(path, 'utf8');

interface Schema {
  additionalProperties?: boolean;
  properties?: Record<string, Schema>;
}

describe('the Helm chart', () => {
  const values = parse(read(join(CHART_DIR, 'values.yaml'))) as {
    config: Record<string, unknown>;
  };
  const schema = JSON.parse(read(join(CHART_DIR, 'values.schema.json'))) as Schema;

  it('carries the CRD of crds/, byte for byte', () => {
    const names = readdirSync('crds');
    expect(readdirSync(join(CHART_DIR, 'crds'))).toEqual(names);
    for (const name of names) {
      expect(read(join(CHART_DIR, 'crds', name))).toBe(read(join('crds', name)));
    }
  });

  it("has package.json's version as its version and appVersion", () => {
    const { version } = JSON.parse(read('package.json')) as { version: string };
    const chart = parse(read(join(CHART_DIR, 'Chart.yaml'))) as Record<string, string>;
    expect(chart).toMatchObject({ version, appVersion: version });
  });

  it('is current with crds/, package.json and OPTIONS (else run `npm run gen:manifests`)', () => {
    for (const [path, content] of chartSources()) {
      expect({ path, content: read(path) }).toEqual({ path, content });
    }
  });

  it('makes every operator option a value: a config key, or one of the few the chart owns', () => {
    for (const name of Object.keys(OPTIONS)) {
      const home =
        name in CHART_OWNED_OPTIONS ? 'chart' : name in values.config ? 'config' : 'missing';
      expect({ name, home }).not.toEqual({ name, home: 'missing' });
    }
    expect(Object.keys(values.config).sort()).toEqual([...configOptionNames()].sort());
  });

  it("defaults each config value to the operator's own default", () => {
    for (const name of configOptionNames()) {
      const option: { env: string; default?: string } = OPTIONS[name];
      const value = values.config[name];
      const text = Array.isArray(value) ? value.join(',') : String(value);
      expect({ name, value: text }).toEqual({ name, value: option.default ?? '' });
    }
  });

  it('documents each config value in values.yaml, naming its environment variable', () => {
    // The comment lines right above each key of config, as a reader sees them.
    const lines = read(join(CHART_DIR, 'values.yaml')).split('\n');
    const start = lines.indexOf('config:');
    const comments = new Map<string, string>();
    let comment = '';
    for (const line of lines.slice(start + 1)) {
      if (!line.startsWith('  ')) break;
      const key = /^ {2}([A-Za-z]+):/.exec(line)?.[1];
      if (key) {
        comments.set(key, comment);
        comment = '';
      } else {
        comment += line;
      }
    }
    for (const name of configOptionNames()) {
      const documented = (comments.get(name) ?? '').includes(`(${OPTIONS[name].env})`);
      expect({ name, documented }).toEqual({ name, documented: true });
    }
  });

  it('checks values strictly: unknown keys are refused at the top and in each group', () => {
    expect(schema.additionalProperties).toBe(false);
    const groups = ['image', 'serviceAccount', 'rbac', 'leaderElection', 'aws', 'config'];
    for (const group of [...groups, 'metrics', 'podDisruptionBudget']) {
      expect({ group, strict: schema.properties?.[group]?.additionalProperties }).toEqual({
        group,
        strict: false,
      });
    }
    const topLevel = Object.keys(parse(read(join(CHART_DIR, 'values.yaml'))) as object);
    expect(Object.keys(schema.properties ?? {})).toEqual(expect.arrayContaining(topLevel));
    expect(Object.keys(schema.properties?.config?.properties ?? {}).sort()).toEqual(
      [...configOptionNames()].sort(),
    );
  });
});

describe('splitManifests', () => {
  it('files each object by kind after the Namespace, without the labels claiming Helm manages it', () => {
    const rendered = [
      '---',
      '# Source: x/templates/sa.yaml',
      'apiVersion: v1',
      'kind: ServiceAccount',
      'metadata:',
      '  name: a',
      '  labels:',
      '    helm.sh/chart: x-0.1.0',
      '    app.kubernetes.io/name: x',
      '    app.kubernetes.io/managed-by: Helm',
      '---',
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: a',
    ].join('\n');
    const files = splitManifests(rendered);
    expect([...files.keys()]).toEqual(['00-namespace.yaml', '02-rbac.yaml', '03-deployment.yaml']);
    expect(files.get('02-rbac.yaml')).toContain('app.kubernetes.io/name: x');
    expect(files.get('02-rbac.yaml')).not.toMatch(/helm\.sh\/chart|managed-by/);
  });

  it('refuses a kind it has no file for, rather than leaving it out of the install', () => {
    expect(() => splitManifests('kind: ConfigMap\nmetadata:\n  name: a\n')).toThrow(/ConfigMap/);
  });
});

import { buildDefinition, renderDefinition } from '../../../src/workflow/definition.js';
import {
  ROLE_POLICY_MAX_CHARS,
  invokedPaths,
  policyJson,
  stateMachinePolicy,
} from '../../../src/workflow/policies.js';
import { generateSpec, schemaErrors } from '../../faults/downloader-generator.js';
import { recordFigures } from '../../faults/figures.js';
import { Prng, seedFrom } from '../../faults/prng.js';
import { aslErrors } from './asl-check.js';

/**
 * Random, schema-valid Downloaders through the definition generator: every one must give valid
 * ASL (asl-validator, paths and ARNs checked), within Step Functions' definition size limit, and
 * a role policy within IAM's inline policy limit. Seeded: RELIABILITY_SEED repeats a run,
 * FUZZ_CASES sets how many.
 */

const SEED = seedFrom('RELIABILITY_SEED', 20_261_205);
const CASES = Number(process.env.FUZZ_CASES ?? 500);
/** Step Functions: a definition is at most 1 MiB. */
const DEFINITION_MAX_BYTES = 1024 * 1024;

const location = { partition: 'aws', region: 'us-east-1', accountId: '123456789012' };

function inputOf(spec: ReturnType<typeof generateSpec>, i: number) {
  return {
    namespace: 'fuzz',
    name: `d-${i}`,
    spec,
    apiEndpoint: 'abc123defg.execute-api.us-east-1.amazonaws.com',
    stage: 'downloader',
    tableName: spec.table.name,
    authType: 'IAM_ROLE' as const,
  };
}

describe(`${CASES} random Downloaders through the definition generator (seed ${SEED})`, () => {
  const prng = new Prng(SEED);
  const specs = Array.from({ length: CASES }, () => generateSpec(prng));

  it('are all valid for the CRD schema (the generator stays in bounds)', () => {
    const invalid = specs
      .map((spec, i) => ({ i, errors: schemaErrors(spec) }))
      .filter((r) => r.errors.length > 0)
      .slice(0, 3);
    expect(invalid).toEqual([]);
  });

  it('cover the schema: pagination, fan-out, itemsPath, select, auth, every item type', () => {
    const share = (test: (s: (typeof specs)[number]) => boolean) =>
      specs.filter(test).length / specs.length;
    const text = (s: unknown) => JSON.stringify(s);
    expect(share((s) => s.source.pagination?.type === 'PageNumber')).toBeGreaterThan(0.05);
    expect(share((s) => s.source.pagination?.type === 'NextLink')).toBeGreaterThan(0.05);
    expect(share((s) => s.fanOut?.paths !== undefined)).toBeGreaterThan(0.05);
    expect(share((s) => s.fanOut?.query !== undefined)).toBeGreaterThan(0.05);
    expect(share((s) => s.itemsPath !== undefined)).toBeGreaterThan(0.1);
    expect(share((s) => s.select !== undefined)).toBeGreaterThan(0.1);
    expect(share((s) => s.source.auth !== undefined)).toBeGreaterThan(0.1);
    for (const type of ['"S"', '"N"', '"false"', '"B"', '"BOOL"', '"NULL"', '$.request.']) {
      expect(share((s) => text(s.item).includes(type))).toBeGreaterThan(0.05);
    }
  });

  it('all give valid ASL within the size limit', () => {
    const failures: Array<{ i: number; problem: string }> = [];
    specs.forEach((spec, i) => {
      try {
        const definition = buildDefinition(inputOf(spec, i));
        const errors = aslErrors(definition);
        if (errors) failures.push({ i, problem: errors.slice(0, 300) });
        const bytes = Buffer.byteLength(renderDefinition(definition));
        if (bytes > DEFINITION_MAX_BYTES) failures.push({ i, problem: `${bytes} bytes` });
      } catch (err) {
        failures.push({ i, problem: String(err) });
      }
    });
    recordFigures('fuzz-definition', {
      seed: SEED,
      cases: CASES,
      invalidAsl: failures.length,
      largestDefinitionBytes: Math.max(
        ...specs.map((spec, i) => {
          try {
            return Buffer.byteLength(renderDefinition(buildDefinition(inputOf(spec, i))));
          } catch {
            return 0;
          }
        }),
      ),
    });
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it('all give a state machine role policy IAM accepts in size', () => {
    const tooLarge = specs
      .map((spec, i) => {
        const policy = policyJson(
          stateMachinePolicy({
            ...location,
            restApiId: 'abc123defg',
            stage: 'downloader',
            method: spec.source.method,
            path: spec.source.path,
            paths: invokedPaths(spec),
            tableArn: `arn:aws:dynamodb:us-east-1:123456789012:table/${spec.table.name}`,
          }),
        );
        return { i, chars: policy.replace(/\s/g, '').length, fanOut: spec.fanOut?.paths?.length };
      })
      .filter((p) => p.chars > ROLE_POLICY_MAX_CHARS);
    expect(tooLarge.slice(0, 5)).toEqual([]);
  });

  it('gives a role policy IAM accepts for the largest fan-out admission allows', () => {
    const spec = generateSpec(new Prng(1));
    spec.fanOut = {
      paths: Array.from(
        { length: 100 },
        (_, i) => `/v2/${String(i).padStart(3, '0')}/${'p'.repeat(200)}`,
      ),
      concurrency: 5,
    };
    delete spec.source.pagination;
    expect(schemaErrors(spec)).toEqual([]);
    const policy = stateMachinePolicy({
      ...location,
      restApiId: 'abc123defg',
      stage: 'downloader',
      method: 'GET',
      path: spec.source.path,
      paths: invokedPaths(spec),
      tableArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/T',
    });
    expect(policyJson(policy).replace(/\s/g, '').length).toBeLessThanOrEqual(ROLE_POLICY_MAX_CHARS);
    // Still this proxy, stage and method only, and still only PutItem on the one table.
    expect(JSON.stringify(policy)).toContain(':abc123defg/downloader/GET/');
    expect(policy.Statement.map((s) => s.Action)).toEqual([
      'execute-api:Invoke',
      'dynamodb:PutItem',
    ]);
  });

  it('validates for real: a broken definition is refused by the shared validator', () => {
    expect(aslErrors({ StartAt: 'A', States: { A: { Type: 'Task', End: true } } })).not.toBe('');
    expect(
      aslErrors({
        StartAt: 'A',
        States: { A: { Type: 'Pass', Parameters: { 'x.$': '$..[?(' }, End: true } },
      }),
    ).not.toBe('');
  });
});

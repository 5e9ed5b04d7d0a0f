import { jest } from '@jest/globals';
import { CreateStateMachineCommand, DeleteStateMachineCommand } from '@aws-sdk/client-sfn';
import { buildDefinition, renderDefinition } from '../../../src/workflow/definition.js';
import { downloaderManifest, generateSpec } from '../../faults/downloader-generator.js';
import { Prng, seedFrom } from '../../faults/prng.js';
import { createTestNamespace } from '../kubectl.js';
import type { OperatorProcess } from '../operator-process.js';
import { AwsCensus } from './census.js';
import {
  allGone,
  allReady,
  applyAll,
  kubectlAsync,
  kubectlOkAsync,
  recordFigures,
  scale,
  secondsSince,
  startOperatorFor,
  summarizeLog,
} from './harness.js';

// Heavy runs wait far longer than the suite's 180 s per test.
jest.setTimeout(scale(180_000, 1_800_000));

/**
 * Random, schema-valid Downloaders (test/faults/downloader-generator.ts) against the real
 * servers: the API server accepts every one (`kubectl apply --dry-run=server` runs the CEL
 * rules the generator must stay within), Step Functions (moto) accepts every generated
 * definition, and the operator turns a few of them into Ready pipelines.
 */

const SEED = seedFrom('RELIABILITY_SEED', 20_261_206);
const CASES = scale(50, 300);
const RECONCILED = scale(6, 30);

describe(`${CASES} random Downloaders against the API server and Step Functions`, () => {
  const census = new AwsCensus();
  const prng = new Prng(SEED);
  const specs = Array.from({ length: CASES }, () => generateSpec(prng));
  const figures: Record<string, unknown> = { seed: SEED, cases: CASES, reconciled: RECONCILED };
  let namespace: string;
  let operator: OperatorProcess | undefined;

  beforeAll(() => {
    namespace = createTestNamespace('relfuzz');
  });

  afterAll(async () => {
    await operator?.stop();
    census.destroy();
    recordFigures('fuzz', figures);
  });

  it('are all accepted by the API server, CEL rules included', async () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: specs.map((spec, i) => downloaderManifest(`fuzz-${i}`, spec)),
    };
    const result = await kubectlAsync(['apply', '--dry-run=server', '-n', namespace, '-f', '-'], {
      input: JSON.stringify(list),
    });
    const accepted = result.stdout.split('\n').filter((l) => l.includes('(server dry run)'));
    figures.acceptedByApiServer = accepted.length;
    expect(result.stderr.slice(0, 2000)).toBe('');
    expect(accepted).toHaveLength(CASES);
  });

  it('all give definitions Step Functions accepts', async () => {
    const refused: Array<{ i: number; error: string }> = [];
    for (const [i, spec] of specs.entries()) {
      const name = `fuzz-${SEED}-${i}-${Date.now().toString(36)}`;
      const definition = renderDefinition(
        buildDefinition({
          namespace,
          name: `fuzz-${i}`,
          spec,
          apiEndpoint: `abc${i}.execute-api.us-east-1.amazonaws.com`,
          stage: 'downloader',
          tableName: spec.table.name,
          authType: 'IAM_ROLE',
        }),
      );
      try {
        const created = await census.sfn.send(
          new CreateStateMachineCommand({
            name,
            definition,
            roleArn: 'arn:aws:iam::123456789012:role/fuzz',
            type: spec.workflow.type,
          }),
        );
        await census.sfn.send(
          new DeleteStateMachineCommand({ stateMachineArn: created.stateMachineArn }),
        );
      } catch (err) {
        refused.push({ i, error: `${(err as Error).name}: ${(err as Error).message}` });
      }
    }
    figures.refusedByStepFunctions = refused.length;
    expect(refused.slice(0, 5)).toEqual([]);
  });

  it('become Ready pipelines when the operator reconciles them', async () => {
    const chosen = specs.slice(0, RECONCILED).map((spec, i) => {
      const copy = structuredClone(spec);
      copy.source.url = process.env.UPSTREAM_URL ?? '';
      copy.table.name = `Fuzz-${SEED}-${i}-${Date.now().toString(36)}`;
      return downloaderManifest(`fuzz-${i}`, copy);
    });
    const secrets = chosen
      .map((d) => d.spec.source.auth?.secretRef)
      .filter((ref) => ref !== undefined)
      .map((ref) => ({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: ref.name },
        stringData: { [ref.key]: 'fuzz-token' },
      }));
    operator = startOperatorFor(namespace);
    const start = Date.now();
    await applyAll(namespace, [...secrets, ...chosen]);
    await allReady(
      namespace,
      chosen.map((d) => d.metadata.name),
      scale(120_000, 600_000),
    );
    figures.secondsToReady = secondsSince(start);
    await kubectlOkAsync(['delete', 'downloaders', '--all', '-n', namespace, '--wait=false']);
    await allGone(namespace, scale(120_000, 600_000));
    const log = summarizeLog(operator.lines());
    figures.reconcileFailures = log.failuresByReason;
    expect(log.errors).toEqual([]);
  });
});

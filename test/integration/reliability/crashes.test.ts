import { jest } from '@jest/globals';
import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import type { Downloader } from '../../../src/api/downloader.js';
import { Prng, seedFrom } from '../../faults/prng.js';
import { createTestNamespace } from '../kubectl.js';
import type { OperatorProcess } from '../operator-process.js';
import { eveExample } from '../operator/downloaders.js';
import { AwsCensus, ONE_EACH, censusSize, countFor, expectedRestApis } from './census.js';
import {
  allGone,
  allReady,
  applyAll,
  kubectlOkAsync,
  listDownloaders,
  logged,
  recordFigures,
  scale,
  secondsSince,
  startOperatorFor,
  summarizeLog,
  tableName,
} from './harness.js';

// Heavy runs wait far longer than the suite's 180 s per test.
jest.setTimeout(scale(180_000, 1_800_000));

/**
 * kill -9 of the operator at seeded random moments while it creates, updates and deletes
 * Downloaders. After each restart it must converge with exactly one of each AWS resource per
 * Downloader and the spec's latest values in AWS; after everything is deleted, nothing the
 * operator made may remain (retained tables aside; tables with deletionPolicy Delete must go).
 */

const KILLS = scale(5, 30);
const MAX_ALIVE = scale(4, 10);
const SEED = seedFrom('RELIABILITY_SEED', 20_261_204);
/** Longest wait after the first AWS change of a round before the kill. */
const MAX_KILL_DELAY_MS = 2_500;

interface Spec {
  revision: number;
  minutes: number;
  suspend: boolean;
  deletionPolicy: 'Retain' | 'Delete';
  table: string;
}

function manifest(name: string, spec: Spec): Downloader {
  const d = eveExample(name, spec.table);
  d.spec.source.path = `/v2/status?rev=${spec.revision}`;
  d.spec.schedule = {
    expression: spec.minutes === 1 ? 'rate(1 minute)' : `rate(${spec.minutes} minutes)`,
    timezone: 'UTC',
    suspend: spec.suspend,
  };
  d.spec.table.deletionPolicy = spec.deletionPolicy;
  return d;
}

describe(`the operator killed ${KILLS} times while it creates, updates and deletes`, () => {
  const census = new AwsCensus();
  const prng = new Prng(SEED);
  const alive = new Map<string, Spec>();
  /** Tables of deleted Downloaders, and whether the table existed when the delete was asked. */
  const deletedTables: Array<{ table: string; policy: string; existed: boolean }> = [];
  const killDelays: number[] = [];
  const actions = { create: 0, update: 0, delete: 0 };
  let namespace: string;
  let operator: OperatorProcess | undefined;
  let next = 0;
  const figures: Record<string, unknown> = { kills: KILLS, seed: SEED };

  beforeAll(() => {
    namespace = createTestNamespace('relcrash');
  });

  afterAll(async () => {
    await operator?.stop();
    census.destroy();
    recordFigures('crashes', figures);
  });

  /** One round of seeded changes: some creates, updates and deletes. */
  async function changeSomething(): Promise<void> {
    const toApply: Downloader[] = [];
    const creates = alive.size < MAX_ALIVE ? prng.int(1, 2) : 0;
    for (let i = 0; i < creates; i++) {
      const name = `c-${next++}`;
      const spec: Spec = {
        revision: 1,
        minutes: prng.int(1, 9),
        suspend: prng.chance(0.3),
        deletionPolicy: prng.chance(0.5) ? 'Delete' : 'Retain',
        table: tableName('Crash'),
      };
      alive.set(name, spec);
      toApply.push(manifest(name, spec));
      actions.create += 1;
    }
    const existing = [...alive.keys()].filter((n) => !toApply.some((d) => d.metadata.name === n));
    for (const name of existing) {
      if (!prng.chance(0.5)) continue;
      const spec = alive.get(name)!;
      spec.revision += 1;
      spec.minutes = prng.int(1, 9);
      spec.suspend = !spec.suspend;
      toApply.push(manifest(name, spec));
      actions.update += 1;
    }
    if (toApply.length > 0) await applyAll(namespace, toApply);
    const deletable = existing.filter((n) => !toApply.some((d) => d.metadata.name === n));
    if (deletable.length > 0 && prng.chance(0.6)) {
      const name = prng.pick(deletable);
      const { table, deletionPolicy } = alive.get(name)!;
      const existed = (await census.tableNames()).includes(table);
      deletedTables.push({ table, policy: deletionPolicy, existed });
      alive.delete(name);
      await kubectlOkAsync(['delete', 'downloader', name, '-n', namespace, '--wait=false']);
      actions.delete += 1;
    }
  }

  it(
    'converges after every restart to one of each resource with the latest spec',
    async () => {
      operator = startOperatorFor(namespace);
      await logged(operator, /"msg":"caches synced"/);
      for (let kill = 0; kill < KILLS; kill++) {
        const from = operator.lines().length;
        await changeSomething();
        await logged(
          operator,
          /"msg":"(created|updated|deleted) AWS resource"/,
          60_000,
          from,
        ).catch(() => undefined);
        const delayMs = prng.int(0, MAX_KILL_DELAY_MS);
        killDelays.push(delayMs);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        const summary = summarizeLog(operator.lines());
        expect(summary.errors).toEqual([]);
        await operator.kill();
        operator = startOperatorFor(namespace);
      }

      const start = Date.now();
      const names = [...alive.keys()];
      const ready = await allReady(namespace, names, scale(150_000, 600_000));
      await allGone(namespace, 60_000).catch(() => undefined);
      figures.secondsToConvergeAfterLastRestart = secondsSince(start);
      Object.assign(figures, { actions, killDelaysMs: killDelays });

      const remaining = await listDownloaders(namespace);
      expect([...remaining.keys()].sort()).toEqual(names.sort());
      const now = await census.ofNamespace(namespace);
      for (const name of names) {
        const d = ready.get(name)!;
        expect({ name, ...countFor(now, d) }).toEqual({ name, ...ONE_EACH });
        const spec = alive.get(name)!;
        const schedule = await census.scheduler.send(
          new GetScheduleCommand({ Name: d.status?.resources?.scheduleArn?.split('/').pop() }),
        );
        expect({ name, expression: schedule.ScheduleExpression, state: schedule.State }).toEqual({
          name,
          expression: manifest(name, spec).spec.schedule.expression,
          state: spec.suspend ? 'DISABLED' : 'ENABLED',
        });
        const machine = await census.sfn.send(
          new DescribeStateMachineCommand({
            stateMachineArn: d.status?.resources?.stateMachineArn,
          }),
        );
        expect(
          JSON.parse(machine.definition ?? '{}').States.Download.Parameters.QueryParameters,
        ).toEqual({ rev: [String(spec.revision)] });
      }
      // Only the Downloaders alive own anything; the deleted ones left nothing.
      const size = censusSize(now);
      expect(size).toEqual({
        restApis: expectedRestApis(names.flatMap((n) => ready.get(n) ?? [])),
        stateMachines: names.length,
        schedules: names.length,
        roles: 2 * names.length,
      });
    },
    scale(400_000, 2_400_000),
  );

  it(
    'leaves nothing it created once every Downloader is deleted, retained tables aside',
    async () => {
      const existing = new Set(await census.tableNames());
      for (const [, spec] of alive) {
        deletedTables.push({
          table: spec.table,
          policy: spec.deletionPolicy,
          existed: existing.has(spec.table),
        });
      }
      await kubectlOkAsync(['delete', 'downloaders', '--all', '-n', namespace, '--wait=false']);
      // One more crash in the middle of the deletions.
      await logged(operator!, /"msg":"deleted AWS resource"/, 60_000).catch(() => undefined);
      await operator!.kill();
      operator = startOperatorFor(namespace);
      await allGone(namespace, scale(120_000, 600_000));

      const left = censusSize(await census.ofNamespace(namespace));
      const tables = new Set(await census.tableNames());
      // Delete: gone. Retain: kept, if it was there when the delete was asked (a Downloader
      // deleted before the operator got to its table may never have had one).
      const tablesWrong = deletedTables.filter(({ table, policy, existed }) =>
        policy === 'Delete' ? tables.has(table) : existed && !tables.has(table),
      );
      figures.leftAfterDeletingAll = left;
      figures.tablesChecked = deletedTables.length;
      figures.tablesWrong = tablesWrong.length;
      expect(left).toEqual({ restApis: 0, stateMachines: 0, schedules: 0, roles: 0 });
      expect(tablesWrong).toEqual([]);
    },
    scale(200_000, 900_000),
  );
});

import { createTestNamespace } from '../kubectl.js';
import { eventually, startOperator } from '../operator-process.js';
import { AwsInventory } from './aws-inventory.js';
import { apply, eveExample, readyDownloader } from './downloaders.js';

const aws = new AwsInventory();

describe('the operator killed in the middle of creating a pipeline', () => {
  it.each([300, 900, 1800])(
    'converges after a restart to exactly one of each resource (killed %i ms after the first AWS change)',
    async (delayMs) => {
      const namespace = createTestNamespace('crash');
      const name = 'eve';
      const first = startOperator(['--namespaces', namespace]);
      apply(namespace, eveExample(name, `Crash-${delayMs}-${Date.now()}`));
      await eventually('the first AWS change', () =>
        first.lines().some((line) => line.includes('created AWS resource')) ? true : undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await first.kill();

      const second = startOperator(['--namespaces', namespace]);
      try {
        const ready = await eventually(
          'Ready after restart',
          () => readyDownloader(namespace, name),
          90_000,
        );
        const resources = ready.status?.resources ?? {};
        const apis = await aws.restApisIn(namespace);
        expect(apis.map((api) => api.id)).toEqual([resources.restApiId]);
        expect(
          await aws.stateMachines(resources.stateMachineArn?.split(':').pop() ?? '-'),
        ).toHaveLength(1);
        expect(await aws.schedules(resources.scheduleArn?.split('/').pop() ?? '-')).toHaveLength(1);
        expect(
          await aws.roles(resources.stateMachineRoleArn?.split('/').pop() ?? '-'),
        ).toHaveLength(1);
        expect(await aws.roles(resources.schedulerRoleArn?.split('/').pop() ?? '-')).toHaveLength(
          1,
        );
      } finally {
        await second.stop();
      }
    },
  );
});

// The launcher's EventBridge Scheduler, which makes moto's stored schedules fire into Step
// Functions: rate() from creation or StartDate, cron() in its time zone (next-fire-time
// computation checked against the calendar, DST included), at() once, DISABLED never, updates
// and deletes respected, and the expression validation of CreateSchedule.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  GetScheduleCommand,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';

import {
  type Clients,
  clientsFor,
  createStateMachine,
  destroyClients,
  launcherDebug,
  TEST_ROLE_ARN,
  uniqueName,
  waitFor,
} from './fixtures.js';
import { type LocalAws, useLocalAws } from './local-aws.js';

/** Longer than a few scheduler ticks (1 s each): long enough for a wrong fire to show. */
const QUIET_PERIOD_MS = 3_000;

interface TrackedSchedule {
  arn: string;
  nextFireAt: string | null;
  lastFiredAt: string | null;
  fireCount: number;
}

// Set here rather than in the jest config, so the file runs the same under any config.
jest.setTimeout(60_000);

let aws: LocalAws;
let clients: Clients;
let stateMachineArn: string;

beforeAll(async () => {
  aws = await useLocalAws();
  clients = clientsFor(aws);
  stateMachineArn = await createStateMachine(clients.sfn, {
    StartAt: 'Done',
    States: { Done: { Type: 'Pass', End: true } },
  });
}, 600_000);

afterAll(async () => {
  if (clients) destroyClients(clients);
  await aws?.stop();
});

/** A schedule on the shared Pass machine, each with its own input to tell executions apart. */
async function createSchedule(overrides: Partial<CreateScheduleCommandInput>) {
  const name = uniqueName('sched');
  const input: CreateScheduleCommandInput = {
    Name: name,
    ScheduleExpression: 'rate(1 minute)',
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: stateMachineArn, RoleArn: TEST_ROLE_ARN, Input: JSON.stringify({ name }) },
    ...overrides,
  };
  const created = await clients.scheduler.send(new CreateScheduleCommand(input));
  return { name, arn: created.ScheduleArn!, input };
}

/** The executions a schedule started (recognised by the input it passes). */
async function executionsOf(name: string) {
  const listed = await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn }));
  const mine = [];
  for (const execution of listed.executions ?? []) {
    const described = await clients.sfn.send(
      new DescribeExecutionCommand({ executionArn: execution.executionArn }),
    );
    if (described.input && JSON.parse(described.input).name === name) mine.push(described);
  }
  return mine;
}

async function tracked(arn: string): Promise<TrackedSchedule | undefined> {
  const state = await launcherDebug<{ schedules: TrackedSchedule[] }>(aws, 'scheduler/schedules');
  return state.schedules.find((s) => s.arn === arn);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `yyyy-mm-ddThh:mm:ss` of an instant as wall-clock time in a time zone (for at()). */
function wallClock(instant: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

describe('next fire times', () => {
  // Expectations read off the calendar: 2024-03-10 and 2024-11-03 are the US DST switches,
  // 2024-03-31 the EU one; Asia/Kolkata is UTC+05:30 all year.
  it.each([
    {
      situation: 'skips a local time that spring-forward removes',
      expression: 'cron(30 2 * * ? *)',
      timezone: 'America/New_York',
      after: '2024-03-08T00:00:00Z',
      times: ['2024-03-08T07:30:00Z', '2024-03-09T07:30:00Z', '2024-03-11T06:30:00Z'],
    },
    {
      situation: 'fires once in the hour that fall-back repeats',
      expression: 'cron(30 1 * * ? *)',
      timezone: 'America/New_York',
      after: '2024-11-02T00:00:00Z',
      times: ['2024-11-02T05:30:00Z', '2024-11-03T05:30:00Z', '2024-11-04T06:30:00Z'],
    },
    {
      situation: 'honours weekday ranges by name across the EU switch',
      expression: 'cron(0 9 ? * MON-FRI *)',
      timezone: 'Europe/Berlin',
      after: '2024-03-29T12:00:00Z',
      times: ['2024-04-01T07:00:00Z', '2024-04-02T07:00:00Z', '2024-04-03T07:00:00Z'],
    },
    {
      situation: 'steps minutes in a half-hour offset zone',
      expression: 'cron(0/20 * * * ? *)',
      timezone: 'Asia/Kolkata',
      after: '2024-01-01T00:05:00Z',
      times: ['2024-01-01T00:10:00Z', '2024-01-01T00:30:00Z', '2024-01-01T00:50:00Z'],
    },
    {
      situation: 'finds the last Friday of the month with 6L',
      expression: 'cron(0 10 ? * 6L *)',
      timezone: 'UTC',
      after: '2024-03-09T12:00:00Z',
      times: ['2024-03-29T10:00:00Z', '2024-04-26T10:00:00Z', '2024-05-31T10:00:00Z'],
    },
    {
      situation: 'finds the first Monday with 2#1',
      expression: 'cron(0 10 ? * 2#1 *)',
      timezone: 'UTC',
      after: '2024-03-09T12:00:00Z',
      times: ['2024-04-01T10:00:00Z', '2024-05-06T10:00:00Z', '2024-06-03T10:00:00Z'],
    },
    {
      situation: 'finds the last weekday of the month with LW',
      expression: 'cron(15 10 LW * ? *)',
      timezone: 'UTC',
      after: '2024-03-09T12:00:00Z',
      times: ['2024-03-29T10:15:00Z', '2024-04-30T10:15:00Z', '2024-05-31T10:15:00Z'],
    },
    {
      situation: 'stops after the last year of the year field',
      expression: 'cron(0 12 1 1 ? 2025-2026)',
      timezone: 'UTC',
      after: '2024-06-01T00:00:00Z',
      times: ['2025-01-01T12:00:00Z', '2026-01-01T12:00:00Z'],
    },
    {
      situation: 'starts a rate at its StartDate',
      expression: 'rate(5 minutes)',
      timezone: 'UTC',
      after: '2024-03-09T00:00:00Z',
      startDate: '2024-03-10T00:00:00Z',
      times: ['2024-03-10T00:00:00Z', '2024-03-10T00:05:00Z', '2024-03-10T00:10:00Z'],
    },
    {
      situation: 'reads at() as wall-clock time of its time zone',
      expression: 'at(2024-03-09T14:00:00)',
      timezone: 'Europe/Berlin',
      after: '2024-03-09T00:00:00Z',
      times: ['2024-03-09T13:00:00Z'],
    },
  ])('$situation: $expression in $timezone', async ({ expression, timezone, after, ...rest }) => {
    const query = new URLSearchParams({ expression, timezone, after, count: '3' });
    if ('startDate' in rest && rest.startDate) query.set('startDate', rest.startDate);

    const result = await launcherDebug<{ times: string[] }>(aws, `scheduler/next-fires?${query}`);

    expect(result.times).toEqual(rest.times);
  });
});

describe('CreateSchedule', () => {
  it.each([
    ['a cron with neither field "?"', 'cron(0 0 * * * *)', 'UTC'],
    ['a cron with both day fields "?"', 'cron(0 0 ? * ? *)', 'UTC'],
    ['a five-field cron', 'cron(0 0 * * ?)', 'UTC'],
    ['a zero rate', 'rate(0 minutes)', 'UTC'],
    ['a rate in weeks', 'rate(1 week)', 'UTC'],
    ['an unknown time zone', 'rate(1 minute)', 'Mars/Olympus_Mons'],
  ])('rejects %s with ValidationException', async (_situation, expression, timezone) => {
    await expect(
      createSchedule({ ScheduleExpression: expression, ScheduleExpressionTimezone: timezone }),
    ).rejects.toMatchObject({ name: 'ValidationException' });
  });
});

describe('firing schedules', () => {
  it('fires a rate schedule at once, with the target input, and plans the next a rate later', async () => {
    const schedule = await createSchedule({ ScheduleExpression: 'rate(5 minutes)' });

    const [execution] = await waitFor('the first run', async () => {
      const found = await executionsOf(schedule.name);
      return found.length > 0 ? found : undefined;
    });

    expect(JSON.parse(execution!.input!)).toEqual({ name: schedule.name });
    const state = await tracked(schedule.arn);
    expect(Date.parse(state!.nextFireAt!) - Date.parse(state!.lastFiredAt!)).toBe(300_000);
    await clients.scheduler.send(new DeleteScheduleCommand({ Name: schedule.name }));
  });

  it('waits for the StartDate of a rate schedule', async () => {
    const startDate = new Date(Date.now() + 4_000);
    const schedule = await createSchedule({ StartDate: startDate });

    await sleep(2_000);
    const beforeStart = await executionsOf(schedule.name);
    const [execution] = await waitFor('the run at StartDate', async () => {
      const found = await executionsOf(schedule.name);
      return found.length > 0 ? found : undefined;
    });

    expect(beforeStart).toHaveLength(0);
    expect(execution!.startDate!.getTime()).toBeGreaterThanOrEqual(startDate.getTime() - 1_000);
    await clients.scheduler.send(new DeleteScheduleCommand({ Name: schedule.name }));
  });

  it('plans a cron schedule in its time zone', async () => {
    // Two minutes ahead, at a whole minute, written as Asia/Kolkata (UTC+05:30) wall time.
    const fireAt = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 120_000);
    const local = new Date(fireAt.getTime() + 5.5 * 3_600_000);
    const expression = `cron(${local.getUTCMinutes()} ${local.getUTCHours()} * * ? *)`;

    const schedule = await createSchedule({
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: 'Asia/Kolkata',
    });
    const state = await waitFor('the scheduler to plan the schedule', () => tracked(schedule.arn));

    expect(state.nextFireAt).toBe(fireAt.toISOString().replace('.000Z', 'Z'));
    expect(state.fireCount).toBe(0);
    await clients.scheduler.send(new DeleteScheduleCommand({ Name: schedule.name }));
  });

  it('fires an at() schedule once, and deletes it afterwards when asked to', async () => {
    const at = new Date(Date.now() + 5_000);
    const expression = `at(${wallClock(at, 'Europe/Berlin')})`;
    const kept = await createSchedule({
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: 'Europe/Berlin',
    });
    const deleted = await createSchedule({
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: 'Europe/Berlin',
      ActionAfterCompletion: 'DELETE',
    });

    await waitFor('both one-time runs', async () => {
      const runs = [...(await executionsOf(kept.name)), ...(await executionsOf(deleted.name))];
      return runs.length >= 2 ? runs : undefined;
    });
    await sleep(QUIET_PERIOD_MS);

    expect(await executionsOf(kept.name)).toHaveLength(1);
    expect(await executionsOf(deleted.name)).toHaveLength(1);
    expect((await tracked(kept.arn))?.nextFireAt).toBeNull();
    await expect(
      clients.scheduler.send(new GetScheduleCommand({ Name: deleted.name })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await clients.scheduler.send(new DeleteScheduleCommand({ Name: kept.name }));
  });

  it('never fires a DISABLED schedule, fires once it is enabled, and stops when disabled or deleted', async () => {
    const schedule = await createSchedule({ State: 'DISABLED' });
    const update = (state: 'ENABLED' | 'DISABLED') =>
      clients.scheduler.send(
        new UpdateScheduleCommand({
          Name: schedule.name,
          ScheduleExpression: schedule.input.ScheduleExpression,
          FlexibleTimeWindow: schedule.input.FlexibleTimeWindow,
          Target: schedule.input.Target,
          State: state,
        }),
      );

    await sleep(QUIET_PERIOD_MS);
    const whileDisabled = await executionsOf(schedule.name);
    const plannedWhileDisabled = await tracked(schedule.arn);

    await update('ENABLED');
    await waitFor('the run after enabling', async () => {
      const found = await executionsOf(schedule.name);
      return found.length > 0 ? found : undefined;
    });
    await update('DISABLED');
    await sleep(QUIET_PERIOD_MS);
    const afterDisabling = await executionsOf(schedule.name);
    const plannedAfterDisabling = await tracked(schedule.arn);
    await clients.scheduler.send(new DeleteScheduleCommand({ Name: schedule.name }));
    await sleep(QUIET_PERIOD_MS / 2);

    expect(whileDisabled).toHaveLength(0);
    expect(plannedWhileDisabled?.nextFireAt).toBeNull();
    expect(afterDisabling).toHaveLength(1);
    expect(plannedAfterDisabling?.nextFireAt).toBeNull();
    expect(await tracked(schedule.arn)).toBeUndefined();
  });
});

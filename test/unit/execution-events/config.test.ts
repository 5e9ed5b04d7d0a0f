import { ConfigError, loadConfig } from '../../../src/config.js';

describe('execution events options', () => {
  it('take status from events through downloader-operator-executions by default', () => {
    const config = loadConfig([], {});
    expect(config.executionEvents).toBe(true);
    expect(config.executionEventsQueue).toBe('downloader-operator-executions');
  });

  it('read the flag before the environment', () => {
    const config = loadConfig(
      ['--execution-events', 'false', '--execution-events-queue', 'a_b-1'],
      {
        EXECUTION_EVENTS: 'true',
        EXECUTION_EVENTS_QUEUE: 'other',
      },
    );
    expect(config).toMatchObject({ executionEvents: false, executionEventsQueue: 'a_b-1' });
    expect(loadConfig([], { EXECUTION_EVENTS: 'false' }).executionEvents).toBe(false);
  });

  it.each([
    ['a name with a dot', 'events.fifo'],
    ['a name longer than a rule name may be', 'q'.repeat(65)],
  ])('refuse %s, naming the flag', (_what, name) => {
    expect(() => loadConfig(['--execution-events-queue', name], {})).toThrow(
      /--execution-events-queue \(EXECUTION_EVENTS_QUEUE\)/,
    );
  });

  it('refuse a switch that is not true or false', () => {
    expect(() => loadConfig([], { EXECUTION_EVENTS: 'yes' })).toThrow(ConfigError);
  });
});

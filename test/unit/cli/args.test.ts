import { parseCommand, parseTimeout, UsageError } from '../../../src/cli/args.js';

describe('parseCommand', () => {
  it('reads status with -n, -A and --limit', () => {
    expect(parseCommand(['status', '-n', 'eve'])).toEqual({
      command: 'status',
      allNamespaces: false,
      limit: 20,
      namespace: 'eve',
    });
    expect(parseCommand(['status', '-A', '--limit=5'])).toEqual({
      command: 'status',
      allNamespaces: true,
      limit: 5,
    });
  });

  it('reads runs and run with their flags, flags before or after NAME', () => {
    expect(parseCommand(['runs', '--namespace', 'eve', 'player-count', '--limit', '3'])).toEqual({
      command: 'runs',
      name: 'player-count',
      limit: 3,
      namespace: 'eve',
    });
    expect(
      parseCommand(['run', 'player-count', '--timeout', '2m', '--kubeconfig', '/k', '--no-wait']),
    ).toEqual({
      command: 'run',
      name: 'player-count',
      timeoutMs: 120_000,
      wait: false,
      kubeconfig: '/k',
    });
    expect(parseCommand(['run', 'x', '--context', 'prod'])).toMatchObject({
      timeoutMs: 120_000,
      wait: true,
      context: 'prod',
    });
  });

  it('answers help to nothing, help, -h and --help', () => {
    for (const argv of [[], ['help'], ['-h'], ['status', '--help']]) {
      expect(parseCommand(argv)).toEqual({ command: 'help' });
    }
  });

  it.each([
    [['launch'], 'unknown command "launch"'],
    [['status', '--bogus'], "Unknown option '--bogus'"],
    [['status', 'eve'], 'status takes no NAME'],
    [['run'], 'run takes one NAME'],
    [['runs', 'a', 'b'], 'runs takes one NAME'],
    [['runs', 'a', '-A'], 'runs does not take --all-namespaces'],
    [['run', 'a', '--limit', '3'], 'run does not take --limit'],
    [['status', '--timeout', '3'], 'status does not take --timeout'],
    [['status', '-A', '-n', 'x'], '-A and -n exclude each other'],
    [['runs', 'a', '--limit', '0'], '--limit must be a whole number from 1 to 1000'],
    [['run', 'a', '--timeout', 'soon'], '--timeout must be a duration'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});

describe('parseTimeout', () => {
  it('takes plain seconds and kubectl durations', () => {
    expect(parseTimeout('90')).toBe(90_000);
    expect(parseTimeout('90s')).toBe(90_000);
    expect(parseTimeout('1.5m')).toBe(90_000);
    expect(parseTimeout('1h')).toBe(3_600_000);
  });
});

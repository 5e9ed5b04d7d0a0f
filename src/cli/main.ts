import { parseCommand, USAGE, UsageError, type Command, type CommonOptions } from './args.js';
import type { CliDeps } from './deps.js';
import { awsExecutions } from './executions.js';
import { connectKube } from './kube.js';
import { runCommand } from './run.js';
import { runsCommand } from './runs.js';
import { statusCommand } from './status.js';

/**
 * The kubectl plugin `kubectl downloader`: kubectl runs the `kubectl-downloader` executable
 * (bin/) with the arguments after `downloader`. This module parses them, connects to the cluster
 * and Step Functions, and runs one command. Exit status: 0 done, 1 failed (including a run that
 * did not succeed), 2 a command line it cannot act on.
 */

/** Makes the real dependencies for the cluster and kubeconfig options given. */
export function realDeps(options: CommonOptions): CliDeps {
  const kube = connectKube(options);
  return {
    downloaders: kube.downloaders,
    executions: awsExecutions(),
    defaultNamespace: kube.defaultNamespace,
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

/** Runs the command line `argv` (without the program name); resolves to the exit status. */
export async function main(
  argv: readonly string[],
  makeDeps: (options: CommonOptions) => CliDeps = realDeps,
): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`Error: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (command.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }

  let deps: CliDeps | undefined;
  try {
    deps = makeDeps(command);
    switch (command.command) {
      case 'status':
        return await statusCommand(deps, command);
      case 'runs':
        return await runsCommand(deps, command);
      case 'run':
        return await runCommand(deps, command);
      default:
        return command satisfies never;
    }
  } catch (err) {
    const line = `Error: ${describeError(err)}`;
    if (deps) deps.err(line);
    else process.stderr.write(`${line}\n`);
    return 1;
  } finally {
    deps?.executions.close();
  }
}

/**
 * One line for an error: the API server's own message for a Kubernetes API error (as kubectl
 * prints it), else the error's name and message.
 */
export function describeError(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && 'body' in err) {
    const { code, body } = err as { code: unknown; body: unknown };
    let message: unknown;
    try {
      message = (typeof body === 'string' ? JSON.parse(body) : body)?.message;
    } catch {
      message = body;
    }
    if (typeof message === 'string' && message) return `from server (${code}): ${message}`;
  }
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}${cause}`;
  }
  return String(err);
}

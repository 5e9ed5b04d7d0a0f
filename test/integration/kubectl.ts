import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** What one kubectl run printed and how it ended. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real kubectl of the local cloud (first on PATH after the suite's setup) against
 * KUBECONFIG, as a user would, optionally feeding a manifest on stdin.
 */
export function kubectl(args: string[], input?: string): KubectlResult {
  const run = spawnSync('kubectl', args, { input, encoding: 'utf8', timeout: 60_000 });
  return { code: run.status ?? -1, stdout: run.stdout ?? '', stderr: run.stderr ?? '' };
}

/** Like kubectl(), but throws with kubectl's own words when it fails. */
export function kubectlOk(args: string[], input?: string): string {
  const result = kubectl(args, input);
  if (result.code !== 0) {
    throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  }
  return result.stdout;
}

/** Creates a namespace with a unique name for one test file and returns its name. */
export function createTestNamespace(prefix: string): string {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  kubectlOk(['create', 'namespace', name]);
  return name;
}

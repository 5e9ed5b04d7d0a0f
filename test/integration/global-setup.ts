import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Jest loads this file outside its module mapping, so it imports nothing relative.

/**
 * Reads the `export NAME="value"` lines of a cloud.env file into a map, expanding `$PATH`-style
 * references to variables already known, as a shell sourcing it would.
 */
function parseCloudEnv(path: string, base: NodeJS.ProcessEnv = process.env) {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(?:"(.*)"|'(.*)'|(\S*))$/.exec(line.trim());
    if (!match?.[1]) continue;
    const raw = match[2] ?? match[3] ?? match[4] ?? '';
    env[match[1]] = raw.replace(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g, (_, name: string) => {
      return env[name] ?? base[name] ?? '';
    });
  }
  return env;
}

/**
 * Starts one local cloud for the whole integration suite (or uses the one named by
 * TEST_CLOUD_ENV, a cloud.env path) and exports its environment to the tests.
 */
export default function globalSetup(): void {
  let envFile = process.env.TEST_CLOUD_ENV;
  if (!envFile) {
    const cloudDir = join(process.cwd(), '.local', `test-${process.pid}`);
    mkdirSync(cloudDir, { recursive: true });
    process.env.TEST_CLOUD_DIR = cloudDir;
    execFileSync('bash', ['test/env/cloud-up.sh'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, CLOUD_DIR: cloudDir },
    });
    envFile = join(cloudDir, 'cloud.env');
  }
  if (!existsSync(envFile)) throw new Error(`the local cloud wrote no environment at ${envFile}`);
  Object.assign(process.env, parseCloudEnv(envFile));
}

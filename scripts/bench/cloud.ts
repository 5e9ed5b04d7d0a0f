import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A local cloud (or a local AWS alone) the benchmark started, with its environment. */
export interface Cloud {
  dir: string;
  /** The variables of its env file: KUBECONFIG, PATH, AWS_ENDPOINT_URL, UPSTREAM_URL... */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Reads the `export NAME="value"` lines of a cloud.env or aws.env file, expanding references to
 * variables already known, as a shell sourcing it would.
 */
export function parseEnvFile(path: string, base: NodeJS.ProcessEnv = process.env) {
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

async function script(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await run('bash', [join('test/env', name), ...args], { env, maxBuffer: 16 << 20 });
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    throw new Error(`test/env/${name} failed: ${stderr?.slice(-2000) ?? ''}`, { cause: err });
  }
}

/** Starts a whole local cloud (Kubernetes and AWS) in `dir` with test/env/cloud-up.sh. */
export async function startCloud(dir: string): Promise<Cloud> {
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, CLOUD_DIR: dir };
  await script('cloud-up.sh', [], env);
  return {
    dir,
    env: parseEnvFile(join(dir, 'cloud.env')),
    stop: () => script('cloud-down.sh', [], env),
  };
}

/** Starts a local AWS alone (moto and the stand-in API) in `dir` with test/env/start-aws.sh. */
export async function startLocalAws(dir: string): Promise<Cloud> {
  mkdirSync(dir, { recursive: true });
  await script('start-aws.sh', [dir], process.env);
  return {
    dir,
    env: parseEnvFile(join(dir, 'aws.env')),
    stop: () => script('stop-aws.sh', [dir], process.env),
  };
}

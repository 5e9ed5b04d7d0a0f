import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** First start builds the Python venv (about a minute, longer on a busy machine). */
const START_TIMEOUT_MS = 10 * 60_000;

/** Where the local AWS and the stand-in third-party API answer, and how to call them. */
export interface LocalAws {
  /** AWS_ENDPOINT_URL: moto behind the launcher. */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The `ApiEndpoint` of apigateway:invoke tasks, with `{restApiId}` to fill in. */
  invokeEndpointTemplate: string;
  /** The base URL of a deployed stage, with `{restApiId}` and `{stage}` to fill in. */
  stageUrlTemplate: string;
  /** The stand-in third-party API (test/env/aws/upstream.mjs). */
  upstreamUrl: string;
  upstreamToken: string;
  /** Stops the local AWS if this process started it; a no-op when it was given. */
  stop(): Promise<void>;
}

/**
 * The local AWS for a test file: the one named by the environment (AWS_ENDPOINT_URL and
 * UPSTREAM_URL, set by the suite's global setup) or, when those are absent, a private one
 * started with test/env/start-aws.sh in a temporary directory. Call `stop()` in `afterAll`.
 */
export async function useLocalAws(env: NodeJS.ProcessEnv = process.env): Promise<LocalAws> {
  if (env.AWS_ENDPOINT_URL && env.UPSTREAM_URL) {
    return fromEnv(env, async () => {});
  }

  const stateDir = await mkdtemp(join(tmpdir(), 'local-aws-'));
  const stop = async () => {
    await run('bash', ['test/env/stop-aws.sh', stateDir]);
    await rm(stateDir, { recursive: true, force: true });
  };
  try {
    await run('bash', ['test/env/start-aws.sh', stateDir], { timeout: START_TIMEOUT_MS });
    const started = parseEnvFile(await readFile(join(stateDir, 'aws.env'), 'utf8'));
    return fromEnv(started, stop);
  } catch (err) {
    await stop().catch(() => {});
    throw new Error(`could not start the local AWS (state in ${stateDir})`, { cause: err });
  }
}

/** Reads `export NAME=value` lines, as start-aws.sh writes them. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) {
      env[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2');
    }
  }
  return env;
}

function fromEnv(env: Record<string, string | undefined>, stop: () => Promise<void>): LocalAws {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set in the local AWS environment`);
    return value;
  };
  const endpoint = required('AWS_ENDPOINT_URL');
  const endpointHost = new URL(endpoint).host;
  return {
    endpoint,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'testing',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'testing',
    },
    invokeEndpointTemplate:
      env.APIGW_INVOKE_ENDPOINT_TEMPLATE ?? `${endpointHost}/restapis/{restApiId}`,
    stageUrlTemplate:
      env.APIGW_STAGE_URL_TEMPLATE ?? `${endpoint}/restapis/{restApiId}/{stage}/_user_request_`,
    upstreamUrl: required('UPSTREAM_URL'),
    upstreamToken: env.UPSTREAM_TOKEN ?? 'local-test-token',
    stop,
  };
}

import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

/** Stops the cloud the global setup started; a cloud given by TEST_CLOUD_ENV is left running. */
export default function globalTeardown(): void {
  const cloudDir = process.env.TEST_CLOUD_DIR;
  if (!cloudDir) return;
  execFileSync('bash', ['test/env/cloud-down.sh'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CLOUD_DIR: cloudDir },
  });
  if (!process.env.KEEP_TEST_CLOUD_LOGS) rmSync(cloudDir, { recursive: true, force: true });
}

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDist } from '../../../scripts/build.js';

/** Runs node with `args` in `cwd`; its exit code and output. */
function node(cwd: string, args: string[]) {
  const run = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('npm run build', () => {
  // Away from the repository, so no node_modules can be found from there: as in the image.
  const dir = mkdtempSync(join(tmpdir(), 'build-test-'));
  let files: string[];

  beforeAll(async () => {
    files = await buildDist(join(dir, 'dist'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one file for the operator and one for the kubectl plugin', () => {
    expect(files.map((f) => f.slice(f.indexOf('dist/'))).sort()).toEqual([
      'dist/cli/main.js',
      'dist/main.js',
    ]);
  });

  it('gives an operator that loads every module it needs without node_modules', () => {
    // Every static import is loaded before the options are read.
    const run = node(dir, ['dist/main.js', '--no-such-option']);
    expect(run).toMatchObject({ code: 2, stderr: expect.stringContaining("'--no-such-option'") });
    expect(run.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
  });

  it('gives a kubectl plugin that keeps its main export and runs without node_modules', () => {
    const script =
      "const { main } = await import('./dist/cli/main.js'); process.exitCode = await main(['--help']);";
    const run = node(dir, ['--input-type=module', '-e', script]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('kubectl downloader status');
  });
});

/**
 * Builds what ships: the operator (dist/main.js) and the kubectl plugin (dist/cli/main.js), each
 * one ES module file with its dependencies bundled in by esbuild.
 *
 * Why a bundle and not tsc's one file per module: Node.js keeps every module it loads, and
 * `@kubernetes/client-node` alone loads the generated client for every API group (about 70 MiB
 * resident) where the operator uses four APIs. esbuild keeps only the code that is reachable, in
 * one file. The operator started with 22 MiB less resident memory so (docs/benchmarks.md,
 * "Memory"), and the image needs no node_modules at run time.
 *
 *   npm run build                       # into dist/
 *   tsx scripts/build.ts --outdir dir   # elsewhere (the benchmark builds its own copy)
 *
 * Type errors are for `npm run typecheck`; esbuild only strips the types.
 */
import { build } from 'esbuild';
import { parseArgs } from 'node:util';

/**
 * Bundled CommonJS dependencies call `require` for Node.js's own modules, which an ES module
 * does not have: give them one.
 */
const REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module';\n" +
  'const require = __createRequire(import.meta.url);';

/** Bundles the entry points into `outdir`; resolves to the files written. */
export async function buildDist(outdir: string): Promise<string[]> {
  const result = await build({
    entryPoints: { main: 'src/main.ts', 'cli/main': 'src/cli/main.ts' },
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    banner: { js: REQUIRE_SHIM },
    // Third-party licence comments stay, gathered at the end of each file.
    legalComments: 'eof',
    logLevel: 'warning',
    metafile: true,
  });
  return Object.keys(result.metafile.outputs);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist' } } });
  const files = await buildDist(values.outdir);
  console.log(`wrote ${files.join(', ')}`);
}

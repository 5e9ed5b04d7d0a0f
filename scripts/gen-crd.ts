/**
 * Writes crds/ from the Downloader schema in src/api, the one source of the CRD. A unit test
 * fails when the checked-in file differs from what this script would write.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CRD_PATH, renderCrdYaml } from '../src/api/crd-yaml.js';

mkdirSync(dirname(CRD_PATH), { recursive: true });
writeFileSync(CRD_PATH, renderCrdYaml());
console.log(`wrote ${CRD_PATH}`);

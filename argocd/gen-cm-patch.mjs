// Writes argocd-cm-patch.yaml from health-downloader.lua, the one source of the health check:
// `node argocd/gen-cm-patch.mjs`. A unit test fails when the patch does not hold exactly the Lua.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The argocd-cm key Argo CD reads the health check of group downloader.dev, kind Downloader. */
export const HEALTH_KEY = 'resource.customizations.health.downloader.dev_Downloader';

const HEADER = `# Argo CD health check for Downloaders: a patch of the argocd-cm ConfigMap. Generated from
# health-downloader.lua by gen-cm-patch.mjs; edit the .lua file, not this one. Apply with
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file argocd-cm-patch.yaml
# or list it under \`patches:\` in the kustomization that installs Argo CD.
`;

/** The patch, with the Lua as a literal block scalar (kept byte for byte, one final newline). */
export function renderPatch(lua) {
  const body = lua
    .replace(/\n+$/, '')
    .split('\n')
    .map((line) => (line === '' ? '' : `    ${line}`))
    .join('\n');
  return `${HEADER}apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
  ${HEALTH_KEY}: |
${body}
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const here = dirname(fileURLToPath(import.meta.url));
  const lua = readFileSync(join(here, 'health-downloader.lua'), 'utf8');
  writeFileSync(join(here, 'argocd-cm-patch.yaml'), renderPatch(lua));
}

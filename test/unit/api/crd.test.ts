import { readFileSync } from 'node:fs';
import { CRD_PATH, renderCrdYaml } from '../../../src/api/crd-yaml.js';
import { downloaderOpenApiSchema } from '../../../src/api/crd.js';

describe('the Downloader CRD', () => {
  it('is up to date in crds/ with the schema in src/api (run npm run gen:crd if not)', () => {
    expect(readFileSync(CRD_PATH, 'utf8')).toBe(renderCrdYaml());
  });

  it('documents every field so kubectl explain reads well', () => {
    const undocumented: string[] = [];
    const visit = (node: Record<string, unknown>, path: string): void => {
      const properties = node.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [name, child] of Object.entries(properties ?? {})) {
        const childPath = `${path}.${name}`;
        if (!['apiVersion', 'kind', 'metadata'].includes(name) && !child.description) {
          undocumented.push(childPath);
        }
        visit(child, childPath);
      }
      const items = node.items as Record<string, unknown> | undefined;
      if (items) visit(items, `${path}[]`);
    };
    visit(downloaderOpenApiSchema(), '');
    expect(undocumented).toEqual([]);
  });

  it('leaves fields with a default out of required', () => {
    const spec = (downloaderOpenApiSchema().properties as Record<string, Record<string, unknown>>)
      .spec;
    expect(spec?.required).toEqual(['source', 'table', 'item', 'schedule']);
  });
});

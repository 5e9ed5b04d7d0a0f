import { readFileSync } from 'node:fs';
import { IMAGE_NODE_OPTIONS } from '../../../scripts/bench/operator.js';

describe('the Node.js options of the image', () => {
  it('are the ones the benchmark runs the operator with', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const set = /^ENV NODE_OPTIONS="(.+)"$/m.exec(dockerfile)?.[1];
    expect(set).toBe(IMAGE_NODE_OPTIONS);
  });
});

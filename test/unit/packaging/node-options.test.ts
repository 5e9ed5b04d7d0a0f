import { readFileSync } from 'node:fs';
import { IMAGE_ENV } from '../../../scripts/bench/operator.js';

describe('the environment of the image', () => {
  it.each(Object.entries(IMAGE_ENV))(
    'sets %s as the benchmark runs the operator',
    (name, value) => {
      const dockerfile = readFileSync('Dockerfile', 'utf8');
      const set = new RegExp(`^ENV ${name}="(.+)"$`, 'm').exec(dockerfile)?.[1];
      expect(set).toBe(value);
    },
  );
});

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `fast` in `npm test`; `heavy` under `npm run reliability`. */
export const PROFILE = process.env.RELIABILITY_PROFILE === 'heavy' ? 'heavy' : 'fast';

/** `fast` or `heavy` depending on the profile. */
export function scale<T>(fast: T, heavy: T): T {
  return PROFILE === 'heavy' ? heavy : fast;
}

/**
 * Writes the figures of one part to RELIABILITY_FIGURES_DIR/<part>.json, for
 * scripts/reliability.ts to put into docs/reliability.md. Nothing is written when unset.
 */
export function recordFigures(part: string, figures: Record<string, unknown>): void {
  const dir = process.env.RELIABILITY_FIGURES_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${part}.json`),
    `${JSON.stringify({ part, profile: PROFILE, ...figures }, null, 2)}\n`,
  );
}

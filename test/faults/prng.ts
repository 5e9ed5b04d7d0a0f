/**
 * A small seeded pseudo-random generator (mulberry32) for the reliability tests: the same seed
 * gives the same sequence of decisions, so a failing run can be repeated with its seed. It is
 * not cryptographic and does not need to be.
 */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A key of `weights`, chosen with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Partial<Record<K, number>>>): K {
    const entries = Object.entries(weights).filter(([, w]) => (w as number) > 0) as Array<
      [K, number]
    >;
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let point = this.next() * total;
    for (const [key, weight] of entries) {
      point -= weight;
      if (point < 0) return key;
    }
    const last = entries[entries.length - 1];
    if (!last) throw new Error('no positive weight');
    return last[0];
  }

  /** A new generator seeded from this one, for an independent stream of decisions. */
  fork(): Prng {
    return new Prng(Math.floor(this.next() * 2 ** 32));
  }
}

/** The seed from the environment variable `name`, or `fallback`; logged by callers. */
export function seedFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(value) ? value : fallback;
}

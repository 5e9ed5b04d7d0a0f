/**
 * Just enough of the Prometheus text exposition format to read counters and histograms from the
 * operator's /metrics and the kube-apiserver's.
 */

/** One sample: metric name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses an exposition; comments and malformed lines are skipped. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line.trim());
    if (!match?.[1] || match[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) {
      if (key !== undefined && value !== undefined) labels[key] = value.replace(/\\(.)/g, '$1');
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels match `filter` (every key equal). */
export function sum(samples: Sample[], name: string, filter: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name)
    .filter((s) => Object.entries(filter).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

/** Sums of `name` grouped by the values of `keys`, joined with ':'. */
export function sumBy(
  samples: Sample[],
  name: string,
  keys: string[],
  filter: Record<string, string> = {},
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    if (!Object.entries(filter).every(([k, v]) => s.labels[k] === v)) continue;
    const key = keys.map((k) => s.labels[k] ?? '').join(':');
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** `after - before`, per key; keys missing before count from 0; zero differences are dropped. */
export function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of after) {
    const change = value - (before.get(key) ?? 0);
    if (change !== 0) out.set(key, change);
  }
  return out;
}

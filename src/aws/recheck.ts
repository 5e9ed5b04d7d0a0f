/**
 * What a resource rarely changes (its owner tags, the inline policies beside a role's own) need
 * not be read on every resync. A Recheck remembers such a fact per key, and gives it back until
 * it is `intervalMs` old; the key names the resource's identity (its ARN and creation time), so
 * a resource deleted and made again is read afresh. The operator forgets the fact itself when it
 * changes it. Facts live only in this process: a restarted operator reads everything once.
 */
export class Recheck<T> {
  private readonly facts = new Map<string, { value: T; at: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The fact, if read less than the interval ago. */
  get(key: string): T | undefined {
    const fact = this.facts.get(key);
    if (!fact) return undefined;
    if (this.now() - fact.at >= this.intervalMs) {
      this.facts.delete(key);
      return undefined;
    }
    return fact.value;
  }

  set(key: string, value: T): void {
    this.facts.set(key, { value, at: this.now() });
  }

  /** Forgets every fact whose key starts with `prefix` (a resource the operator just changed). */
  forget(prefix: string): void {
    for (const key of this.facts.keys()) if (key.startsWith(prefix)) this.facts.delete(key);
  }

  /** Reads the fact through `read` unless a fresh one is remembered. */
  async through(key: string, read: () => Promise<T>): Promise<T> {
    const known = this.get(key);
    if (known !== undefined) return known;
    const value = await read();
    this.set(key, value);
    return value;
  }
}

/** One hour: how long what rarely changes is trusted without reading it again, by default. */
export const DEFAULT_RECHECK_INTERVAL_MS = 3_600_000;

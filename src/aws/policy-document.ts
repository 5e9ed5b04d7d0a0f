import { isDeepStrictEqual } from 'node:util';

/**
 * Semantic comparison of JSON documents that AWS hands back reformatted: IAM policies (which IAM
 * returns URL-encoded), state machine definitions, schedule inputs. Two documents are equal when
 * they parse to the same value, whatever the whitespace and the order of object keys.
 */

/**
 * Decodes a policy document as IAM returns it: URL-encoded (RFC 3986) JSON. A document that is
 * already plain JSON is returned as it is, so a service or emulator that decodes for us is fine.
 */
export function decodePolicyDocument(document: string): string {
  const trimmed = document.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return document;
  try {
    return decodeURIComponent(document);
  } catch {
    return document;
  }
}

function parse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** True when two JSON texts parse to deep-equal values; texts that do not parse must be equal. */
export function jsonEqual(a: string, b: string): boolean {
  const left = parse(a);
  const right = parse(b);
  if (!left.ok || !right.ok) return a === b;
  return isDeepStrictEqual(left.value, right.value);
}

/**
 * IAM's own equivalences: a one-element list means its element (`"Action": "s3:GetObject"` and
 * `"Action": ["s3:GetObject"]` grant the same), wherever it appears.
 */
function normalizePolicy(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(normalizePolicy);
    return items.length === 1 ? items[0] : items;
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, normalizePolicy(inner)]),
    );
  }
  return value;
}

/**
 * True when two IAM policy documents (plain or URL-encoded JSON) say the same: equal after
 * parsing, with one-element lists taken as their element.
 */
export function policiesEqual(a: string, b: string): boolean {
  const left = parse(decodePolicyDocument(a));
  const right = parse(decodePolicyDocument(b));
  if (!left.ok || !right.ok) return decodePolicyDocument(a) === decodePolicyDocument(b);
  return isDeepStrictEqual(normalizePolicy(left.value), normalizePolicy(right.value));
}

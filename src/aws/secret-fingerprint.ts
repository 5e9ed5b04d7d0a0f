import { createHmac, randomBytes } from 'node:crypto';

/**
 * Keyed fingerprints of secret values, for managers that must tell whether a secret changed
 * without keeping or returning it. The fingerprint is an HMAC, so without the key it says nothing
 * about the value, not even for a short or guessable one. The key is made at random per manager
 * and never kept: fingerprints are comparable only within one process.
 */

/** Bytes in a fingerprint key: as long as a SHA-256 digest, the least RFC 2104 advises. */
const FINGERPRINT_KEY_BYTES = 32;
/** Hex characters kept of the HMAC: 64 bits, plenty to tell two values apart. */
const FINGERPRINT_HEX_CHARS = 16;

/** newFingerprintKey makes a random key for secretFingerprint, to be held in memory only. */
export function newFingerprintKey(): Buffer {
  return randomBytes(FINGERPRINT_KEY_BYTES);
}

/**
 * secretFingerprint is the keyed fingerprint of a value (16 hex characters of its HMAC-SHA256):
 * equal values give equal fingerprints under one key, and the value cannot be read back from it.
 */
export function secretFingerprint(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex').slice(0, FINGERPRINT_HEX_CHARS);
}

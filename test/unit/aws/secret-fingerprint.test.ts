import { newFingerprintKey, secretFingerprint } from '../../../src/aws/secret-fingerprint.js';

const KEY = Buffer.alloc(32, 7);
const SECRET = 'Bearer s3cr3t-token';

describe('secretFingerprint', () => {
  it('gives the same fingerprint for the same key and value', () => {
    expect(secretFingerprint(KEY, SECRET)).toBe(secretFingerprint(Buffer.alloc(32, 7), SECRET));
  });

  it('gives another fingerprint for another value or another key', () => {
    const print = secretFingerprint(KEY, SECRET);
    expect(secretFingerprint(KEY, `${SECRET}x`)).not.toBe(print);
    expect(secretFingerprint(Buffer.alloc(32, 8), SECRET)).not.toBe(print);
  });

  it('is 16 hex characters of HMAC-SHA256 and does not contain the value', () => {
    // RFC 4231 test case 2: HMAC-SHA256 of this text under the key "Jefe".
    const text = 'what do ya want for nothing?';
    expect(secretFingerprint(Buffer.from('Jefe'), text)).toBe('5bdcc146bf60754e');

    const print = secretFingerprint(KEY, SECRET);
    expect(print).toMatch(/^[0-9a-f]{16}$/);
    expect(print).not.toContain(SECRET);
    expect(print).not.toContain('s3cr3t');
  });
});

describe('newFingerprintKey', () => {
  it('makes a new 32-byte key each time, so two managers fingerprint alike values apart', () => {
    const a = newFingerprintKey();
    const b = newFingerprintKey();
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(false);
    expect(secretFingerprint(a, SECRET)).not.toBe(secretFingerprint(b, SECRET));
  });
});

import { checkSourceHost, isHostAllowed } from '../../../src/controller/source-hosts.js';
import { TerminalError } from '../../../src/errors.js';

describe('the source host allow-list', () => {
  it.each([
    ['esi.evetech.net', ['esi.evetech.net'], true],
    ['ESI.evetech.net', ['esi.evetech.net'], true],
    ['api.example.com', ['*.example.com'], true],
    ['example.com', ['*.example.com'], false],
    ['evil-example.com', ['*.example.com'], false],
    ['other.net', ['esi.evetech.net', '*.example.com'], false],
    ['anything.io', [], true],
  ])('judges %s against %j as %s', (host, allowed, expected) => {
    expect(isHostAllowed(host, allowed)).toBe(expected);
  });

  it('refuses a host off the list with a terminal SourceHostNotAllowed naming the host', () => {
    let caught: unknown;
    try {
      checkSourceHost('https://other.net/v2', ['esi.evetech.net']);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TerminalError);
    expect(caught).toMatchObject({ reason: 'SourceHostNotAllowed' });
    expect((caught as Error).message).toContain('other.net');
  });
});

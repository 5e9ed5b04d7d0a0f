import { jest } from '@jest/globals';

// Some unit tests talk to servers of their own on loopback; on a loaded shared machine they can
// take longer than Jest's 5 s default without being wrong.
jest.setTimeout(60_000);

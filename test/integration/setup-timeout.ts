import { jest } from '@jest/globals';

// testTimeout is a global Jest option that a project entry ignores; integration tests wait on
// real servers and schedules, so they get their timeout here.
jest.setTimeout(180_000);

import { pino, type Logger } from 'pino';

/**
 * The root logger: JSON lines on stdout. Paths that could hold a secret are redacted as a second
 * line of defence; the first is that no code logs a Secret's value or an integration's request
 * parameters at all.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { component: 'downloader-operator' },
    redact: {
      paths: [
        'secret',
        '*.secret',
        'authValue',
        '*.authValue',
        'requestParameters',
        '*.requestParameters',
      ],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export type { Logger };

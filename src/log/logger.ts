/**
 * Structured logs: one JSON object per line on stdout (pino), with the
 * request id, job id and task of the code that logs (src/log/scope.ts) added
 * to every line. LOG_LEVEL sets the level (default info; warn under
 * NODE_ENV=test so test output stays readable).
 *
 * Secrets never reach a line: fields whose names say they are secret
 * (password, token, secret, authorization, cookie, key material) are
 * replaced by "[redacted]" at any depth pino's redaction reaches, and the
 * code logs ids and outcomes, never payloads, bodies or headers.
 */
import pino, { type Logger } from 'pino';
import { currentScope } from './scope.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const SECRET_KEYS = [
  'password', 'newPassword', 'new_password', 'currentPassword', 'token', 'jwtToken', 'jwt', 'secret', 'authorization',
  'cookie', 'privateKey', 'private_key', 'smtpPassword', 'imapPassword', 'apiKey',
];
const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
];

/** Where lines go: stdout, or a test's capture. */
let write: (line: string) => void = (line) => process.stdout.write(line);

const defaultLevel = (): LogLevel =>
  (process.env.LOG_LEVEL as LogLevel | undefined) ?? (process.env.NODE_ENV === 'test' ? 'warn' : 'info');

export const logger: Logger = pino(
  {
    level: defaultLevel(),
    base: { service: 'penguinmails' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    mixin() {
      const scope = currentScope();
      if (!scope) return {};
      const fields: Record<string, string> = {};
      if (scope.requestId) fields.requestId = scope.requestId;
      if (scope.jobId) fields.jobId = scope.jobId;
      if (scope.task) fields.task = scope.task;
      return fields;
    },
  },
  { write: (line: string) => write(line) },
);

// A pino child keeps the level it was created with: levels are set on all of them.
const children = new Set<Logger>();

/** The logger of one part of the system ("api", "worker", "platform", …). */
export function loggerFor(component: string): Logger {
  const child = logger.child({ component });
  children.add(child);
  return child;
}

export function setLogLevel(level: LogLevel | string): void {
  logger.level = level;
  for (const child of children) child.level = level;
}

/** An Error as log fields: its name, message and (at debug level, or for unexpected errors) its stack. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { err: { message: String(error) } };
  return { err: { name: error.name, message: error.message, code: (error as { code?: unknown }).code, stack: error.stack } };
}

/**
 * For tests: every line logged until stop(), at the given level (all of
 * them by default), instead of stdout.
 */
export function captureLogs(level: LogLevel = 'debug'): { lines(): string[]; stop(): void } {
  const lines: string[] = [];
  const previous = { write, level: logger.level };
  write = (line) => void lines.push(line);
  setLogLevel(level);
  return {
    lines: () => lines,
    stop() {
      write = previous.write;
      setLogLevel(previous.level);
    },
  };
}

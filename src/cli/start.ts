/**
 * `npm start`: the embedded PostgreSQL (or DATABASE_URL), migrated, and the
 * platform on top of it. Stops cleanly on SIGINT/SIGTERM, at any moment:
 * the handlers are installed before start-up begins, a signal during
 * start-up lets the current step finish and then undoes what was started,
 * and the API and the worker stop (in-flight requests and jobs finish) before
 * the database. The embedded server runs in its own process group
 * (src/db/embedded.ts), so a terminal's Ctrl-C reaches this process only.
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

const { readEnv } = await import('../config.ts');
const env = readEnv();
// Grafast reads this when it is first loaded.
process.env.GRAPHILE_ENV ??= env.NODE_ENV === 'production' ? 'production' : 'development';
const { startPlatform, StartAborted } = await import('../platform.ts');
try {
  platform = await startPlatform(env, { signal: stop.signal });
} catch (error) {
  if (error instanceof StartAborted) {
    console.log('Stopped during start-up; everything that had started is stopped.');
    process.exit(0);
  }
  console.error('Start-up failed:', error);
  process.exit(1);
}

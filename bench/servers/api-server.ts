/**
 * Child process: the product's API server, started by the platform itself
 * (src/platform.ts startPlatform with WORKER=false: the same routes —
 * GraphQL, tracking, lead imports, webhooks — and settings as `npm start`),
 * on a free port. Besides serving HTTP it can record
 * the SQL statements PostGraphile sends (text, parameters, prepared
 * statement name) while asked to, so the benchmark can replay the very same
 * statements straight through `pg` as the anchor of the API figures.
 *
 * Configuration: the usual environment (DATABASE_URL, JWT_SECRET, PORT=0 for
 * a free port, …), set by the benchmark.
 */
import pg from 'pg';
import { readEnv } from '../../src/config.ts';
import { startPlatform } from '../../src/platform.ts';
import { failStart, serveParent } from '../lib/child.ts';

export interface CapturedStatement {
  text: string;
  values?: unknown[];
  name?: string;
}

const captured: CapturedStatement[] = [];
let capturing = false;

// Observe (not alter) every query the API's pg clients send.
const originalQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0] as { text?: string; values?: unknown[]; name?: string } | string;
  if (capturing) {
    captured.push(typeof first === 'string'
      ? { text: first, values: Array.isArray(args[1]) ? (args[1] as unknown[]) : undefined }
      : { text: first.text ?? '', values: first.values, name: first.name });
  }
  return originalQuery.apply(this, args);
} as typeof pg.Client.prototype.query;

try {
  const platform = await startPlatform(readEnv({ ...process.env, WORKER: 'false' }));
  serveParent(
    {
      'capture-start': () => {
        captured.length = 0;
        capturing = true;
      },
      'capture-stop': () => {
        capturing = false;
        return captured.splice(0);
      },
      stop: async () => {
        await platform.stop();
        setImmediate(() => process.exit(0));
      },
    },
    { url: platform.api.url },
  );
} catch (error) {
  failStart(error);
}

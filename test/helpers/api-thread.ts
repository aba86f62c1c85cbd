/**
 * The API servers of test files, in one worker thread per jest worker process
 * (started and warmed by test/setup/environment.js; used by startTestApi). The thread loads the server's modules once, with Node's own
 * loader, not through jest's per-file module sandbox, where loading
 * PostGraphile costs about 1.8 s of CPU in every file and building the schema
 * more than it does here: a file's set-up then needs a fraction of the time
 * on a loaded machine. Each file still gets its own server over its own
 * database (the schema is built for it), and talks to it over HTTP, as a
 * client does.
 *
 * Requests (each with an id the answer repeats; unique in the process, since
 * a file that timed out may still be waiting for an answer when the next one
 * asks):
 *   { type: 'start', id, overrides, urls, platformRoutes } → { type: 'ready', id, url, port } or { type: 'error', id, message, stack }
 *   { type: 'close', id }                  → { type: 'closed', id } once the server has finished its requests
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DatabaseUrls } from '../../src/db/database.ts';
import { startApiServer, type ApiServer } from '../../src/server/http.ts';
import { platformRoutes } from '../../src/server/platform-routes.ts';
import { TEST_JWT_SECRET, testEnv } from './test-env.ts';

export type ApiThreadRequest =
  | { type: 'start'; id: string; overrides: Record<string, string>; urls: DatabaseUrls; platformRoutes: boolean }
  | { type: 'close'; id: string };

export type ApiThreadAnswer =
  | { type: 'ready'; id: string; url: string; port: number }
  | { type: 'error'; id: string; message: string; stack?: string }
  | { type: 'closed'; id: string }
  | { type: 'loaded'; id?: undefined };

const port = parentPort!;
const servers = new Map<string, ApiServer>();

async function answer(request: ApiThreadRequest): Promise<ApiThreadAnswer> {
  try {
    if (request.type === 'start') {
      const env = testEnv(request.overrides);
      const api = await startApiServer({
        env,
        urls: request.urls,
        jwtSecret: TEST_JWT_SECRET,
        routes: request.platformRoutes ? (server) => platformRoutes(env, server) : undefined,
      });
      servers.set(request.id, api);
      return { type: 'ready', id: request.id, url: api.url, port: api.port };
    }
    const api = servers.get(request.id);
    servers.delete(request.id);
    await api?.close();
    return { type: 'closed', id: request.id };
  } catch (error) {
    return { type: 'error', id: request.id, message: (error as Error).message, stack: (error as Error).stack };
  }
}

// Warm-up (test/setup/environment.js): one schema built on the test database
// and the server closed, before the first file runs. A failure here is left
// for that file's own start to report.
const warmUp = (workerData as { warmUp?: DatabaseUrls } | null)?.warmUp;
if (warmUp) {
  try {
    await (await startApiServer({ env: testEnv({ LOG_LEVEL: 'error' }), urls: warmUp, jwtSecret: TEST_JWT_SECRET })).close();
  } catch {
    // reported by the first start
  }
}
port.postMessage({ type: 'loaded' } satisfies ApiThreadAnswer);

port.on('message', (request: ApiThreadRequest) => {
  void answer(request).then((message) => port.postMessage(message));
});

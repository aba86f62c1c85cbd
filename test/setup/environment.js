/**
 * The test environment: jest's Node environment, plus the API thread
 * (test/helpers/api-thread.ts) that runs the API servers of every file this
 * jest worker process runs. The thread starts with the process's first file,
 * here, outside the file's hooks and their timeouts: it loads PostGraphile and
 * builds one schema on the test database (warming its code) before the file
 * runs. Files reach it as `globalThis.penguinmailsApiThread`.
 *
 * Plain JavaScript: jest loads the environment itself, untransformed.
 */
import { TestEnvironment } from 'jest-environment-node';
import { Worker } from 'node:worker_threads';

/** @type {Promise<Worker> | undefined} */
let warming;

function apiThread() {
  warming ??= new Promise((resolve, reject) => {
    const urls = process.env.PM_TEST_URLS ? JSON.parse(process.env.PM_TEST_URLS) : undefined;
    const thread = new Worker(new URL('../helpers/api-thread.ts', import.meta.url), { env: { ...process.env }, workerData: { warmUp: urls } });
    // Idle between files, it must not keep jest's worker process alive.
    thread.unref();
    const onError = (error) => reject(error);
    thread.once('error', onError);
    thread.once('message', (message) => {
      thread.off('error', onError);
      if (message.type === 'loaded') resolve(thread);
      else reject(new Error(`The API thread did not start: ${message.message ?? message.type}`));
    });
    thread.once('exit', () => {
      warming = undefined;
    });
  });
  return warming;
}

export default class PenguinMailsEnvironment extends TestEnvironment {
  async setup() {
    await super.setup();
    this.global.penguinmailsApiThread = await apiThread();
  }
}

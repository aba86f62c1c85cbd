/**
 * Once per test run: a throw-away embedded cluster (or TEST_DATABASE_URL's
 * server) with the template database built from every migration. See
 * test/helpers/test-database.ts.
 */
import { prepareTestDatabases } from '../helpers/test-database.ts';

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const db = await prepareTestDatabases();
  (globalThis as { __PM_TEST_DB__?: unknown }).__PM_TEST_DB__ = db;
  process.env.PM_TEST_URLS = JSON.stringify(db.urls);
  // Major version of the server under test ("PostgreSQL 15.20" → 15), for checks only one version can make.
  process.env.PM_TEST_SERVER_MAJOR = /PostgreSQL (\d+)/.exec(db.serverVersion)?.[1] ?? '';
  process.stderr.write(`\n[test db] ${db.serverVersion} ready in ${Date.now() - started} ms\n`);
}

/**
 * Once per test run: a fresh database with every migration (committed and
 * current), functions/, policies/ and the worker schema. By default a
 * throw-away embedded cluster; set TEST_DATABASE_URL (owner) and
 * TEST_ROOT_DATABASE_URL (superuser) to run against another server, e.g.
 * Debian's PostgreSQL 15.
 */
import { prepareTestDatabase } from '../helpers/test-database.ts';

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const db = await prepareTestDatabase();
  (globalThis as { __PM_TEST_DB__?: unknown }).__PM_TEST_DB__ = db;
  process.env.PM_TEST_OWNER_URL = db.urls.owner;
  process.env.PM_TEST_ROOT_URL = db.urls.root;
  process.env.PM_TEST_AUTH_URL = db.urls.authenticator;
  process.stderr.write(`\n[test db] ${db.serverVersion} ready in ${Date.now() - started} ms\n`);
}

/**
 * Builds the test database: drop, recreate, migrate (committed + current),
 * declarative folders, worker schema.
 */
import { createPool, sql } from '../../src/db/pg.ts';
import { reset, watch } from 'graphile-migrate';
import { runMigrations as runWorkerMigrations } from 'graphile-worker';
import path from 'node:path';
import { readEnv } from '../../src/config.ts';
import { openDatabase, runRolesScript, type Database } from '../../src/db/database.ts';
import { applyDeclarative } from '../../src/db/declarative.ts';
import { migrateSettings, releaseMigratePools } from '../../src/db/migrate.ts';

export const TEST_DATABASE_SETTINGS = { 'app.password_hash_cost': '4' };

export async function prepareTestDatabase(): Promise<Database & { serverVersion: string }> {
  const external = process.env.TEST_DATABASE_URL;
  if (external && !process.env.TEST_ROOT_DATABASE_URL) {
    throw new Error('TEST_DATABASE_URL needs TEST_ROOT_DATABASE_URL (a superuser) to rebuild the test database.');
  }
  const env = readEnv({
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: external,
    ROOT_DATABASE_URL: process.env.TEST_ROOT_DATABASE_URL,
    SHADOW_DATABASE_URL: undefined,
  });
  const db = await openDatabase(env, {
    databaseName: 'penguinmails_test',
    ephemeral: external ? undefined : { dataDir: path.join(env.PM_DATA_DIR, 'test-postgres'), port: 54339 },
  });
  try {
    const settings = migrateSettings(db.urls, true);
    // reset drops and recreates the database, runs afterReset (roles) and
    // the committed migrations; watch --once adds migrations/current.
    await reset({ ...settings, afterAllMigrations: [] }, false);
    await runRolesScript(db.urls, [db.urls.databaseName], TEST_DATABASE_SETTINGS);
    await watch({ ...settings, afterCurrent: [] }, true, false);
    releaseMigratePools();
    await applyDeclarative(db.urls.owner, { force: true });
    await runWorkerMigrations({ connectionString: db.urls.owner });
    const pool = createPool({ connectionString: db.urls.owner, bigIntMode: 'string', poolSize: 1 });
    const [{ server_version }] = await pool.query(sql`show server_version`);
    await pool.dispose();
    return { ...db, serverVersion: `PostgreSQL ${server_version}` };
  } catch (error) {
    await db.close();
    throw error;
  }
}

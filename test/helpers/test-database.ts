/**
 * Builds the test template database once per run (drop, recreate, migrate
 * committed + current, declarative folders, worker schema). Nothing connects
 * to the template; tests use clones of it, which are cheap (a file copy):
 * `penguinmails_test` for the rolled-back-transaction tests, and a private
 * clone per test file for anything that commits data or runs a worker.
 */
import os from 'node:os';
import path from 'node:path';
import { readEnv } from '../../src/config.ts';
import { openDatabase, runRolesScript, type Database, type DatabaseUrls } from '../../src/db/database.ts';
import { freePort } from '../../src/db/embedded.ts';
import { rebuildDatabase } from '../../src/db/migrate.ts';
import { createPool, sql } from '../../src/db/pg.ts';

/** Test peers (dovecot, the PostgreSQL 15 cluster) take their ports from here too. */
export { freePort };

export const TEMPLATE_DATABASE = 'penguinmails_template';
export const TEST_DATABASE_SETTINGS = { 'app.password_hash_cost': '4' };

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function prepareTestDatabases(): Promise<Database & { serverVersion: string }> {
  const external = process.env.TEST_DATABASE_URL;
  if (external && !process.env.TEST_ROOT_DATABASE_URL) {
    throw new Error('TEST_DATABASE_URL needs TEST_ROOT_DATABASE_URL (a superuser) to rebuild the test databases.');
  }
  const env = readEnv({
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: external ? withDatabase(external, TEMPLATE_DATABASE) : undefined,
    ROOT_DATABASE_URL: process.env.TEST_ROOT_DATABASE_URL,
    SHADOW_DATABASE_URL: undefined,
  });
  const db = await openDatabase(env, {
    databaseName: TEMPLATE_DATABASE,
    ephemeral: external
      ? undefined
      : { dataDir: path.join(os.tmpdir(), `penguinmails-test-pg-${process.pid}`), port: await freePort() },
  });
  try {
    await rebuildDatabase(db.urls);
    const root = createPool({ connectionString: db.urls.root!, bigIntMode: 'string', poolSize: 1 });
    try {
      // Nobody may stay connected to a template.
      await root.query(sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${TEMPLATE_DATABASE} and pid <> pg_backend_pid()`);
      const [{ server_version }] = await root.query(sql`show server_version`);
      await cloneTemplate(db.urls, 'penguinmails_test');
      return { ...db, serverVersion: `PostgreSQL ${server_version}` };
    } finally {
      await root.dispose();
    }
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** A fresh database cloned from the template, with the test settings; returns its URLs. */
export async function cloneTemplate(base: DatabaseUrls, name: string): Promise<DatabaseUrls> {
  const root = createPool({ connectionString: base.root!, bigIntMode: 'string', poolSize: 1 });
  try {
    await root.query(sql`drop database if exists ${sql.ident(name)} with (force)`);
    await root.query(sql`create database ${sql.ident(name)} template ${sql.ident(TEMPLATE_DATABASE)} owner ${sql.ident(base.ownerRole)}`);
  } finally {
    await root.dispose();
  }
  const urls: DatabaseUrls = {
    ...base,
    databaseName: name,
    owner: withDatabase(base.owner, name),
    authenticator: withDatabase(base.authenticator, name),
  };
  await runRolesScript(urls, [name], TEST_DATABASE_SETTINGS);
  return urls;
}

export async function dropDatabase(base: DatabaseUrls, name: string): Promise<void> {
  const root = createPool({ connectionString: base.root!, bigIntMode: 'string', poolSize: 1 });
  try {
    await root.query(sql`drop database if exists ${sql.ident(name)} with (force)`);
  } finally {
    await root.dispose();
  }
}

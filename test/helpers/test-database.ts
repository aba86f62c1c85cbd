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
import { openDatabase, runRolesScript, withDatabase, type Database, type DatabaseUrls } from '../../src/db/database.ts';
import { freePort } from '../../src/db/embedded.ts';
import { rebuildDatabase } from '../../src/db/migrate.ts';
import { createPool, sql } from '../../src/db/pg.ts';
import {
  citusRolePasswords,
  cloneCitusDatabase,
  closeCitusTemplate,
  dropCitusDatabase,
  enableApiRoleLogins,
  ensureOwnerOnNodes,
  prepareCitusDatabase,
  recordRolesAsDistributed,
  registerCitusRolePasswords,
} from '../../src/db/citus-cluster.ts';

/** Test peers (dovecot, the PostgreSQL 15 cluster) take their ports from here too. */
export { freePort };

export const TEMPLATE_DATABASE = 'penguinmails_template';
export const TEST_DATABASE_SETTINGS = { 'app.password_hash_cost': '4' };

/**
 * Superuser URLs of the Citus worker nodes when the suite runs on a cluster
 * (`npm run test:citus` sets them; TEST_DATABASE_URL is then the coordinator).
 * Every test database is then a copy on each node.
 */
export function citusWorkerRootUrls(): string[] {
  return (process.env.TEST_CITUS_WORKER_ROOT_URLS ?? '').split(',').filter(Boolean);
}

export { withDatabase };

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
  const workers = citusWorkerRootUrls();
  // On Citus the database and its extension exist on every node before the
  // roles script runs in it (bootstrap, in openDatabase), so that Citus
  // creates the roles on the workers too.
  if (workers.length) await createCitusTemplate(env.DATABASE_URL!, env.ROOT_DATABASE_URL!, workers);
  const db = await openDatabase(env, {
    databaseName: TEMPLATE_DATABASE,
    ephemeral: external
      ? undefined
      : { dataDir: path.join(os.tmpdir(), `penguinmails-test-pg-${process.pid}`), port: await freePort() },
  });
  try {
    if (workers.length) await enableCitusRoles(db.urls, workers);
    await rebuildDatabase(db.urls, { fresh: workers.length > 0 });
    const root = createPool({ connectionString: db.urls.root!, bigIntMode: 'string', poolSize: 1 });
    try {
      // Nobody may stay connected to a template.
      if (workers.length) await closeCitusTemplate([db.urls.root!, ...workers], TEMPLATE_DATABASE);
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

/**
 * The template on a Citus cluster, before the roles script: the owner on
 * every node, the (empty) database on every node with the extension, the
 * workers registered with the coordinator.
 */
async function createCitusTemplate(ownerUrl: string, rootUrl: string, workers: string[]): Promise<void> {
  const owner = new URL(ownerUrl);
  const ownerRole = decodeURIComponent(owner.username);
  await ensureOwnerOnNodes([rootUrl, ...workers], ownerRole, decodeURIComponent(owner.password));
  await dropCitusDatabase([rootUrl, ...workers], TEMPLATE_DATABASE);
  await prepareCitusDatabase([rootUrl, ...workers], TEMPLATE_DATABASE, ownerRole);
}

/** After the roles script: the API roles may log in (to the workers), and every password is in pg_dist_authinfo. */
async function enableCitusRoles(urls: DatabaseUrls, workers: string[]): Promise<void> {
  const coordinatorDb = withDatabase(urls.root!, TEMPLATE_DATABASE);
  const ownerPassword = decodeURIComponent(new URL(urls.owner).password);
  await enableApiRoleLogins(coordinatorDb, urls.authenticatorPassword);
  const nodeDbs = [urls.root!, ...workers].map((url) => withDatabase(url, TEMPLATE_DATABASE));
  const passwords = citusRolePasswords(urls.ownerRole, ownerPassword, urls.authenticatorPassword);
  await registerCitusRolePasswords(nodeDbs, passwords);
  await recordRolesAsDistributed(nodeDbs, Object.keys(passwords));
}

/** A fresh database cloned from the template, with the test settings; returns its URLs. */
export async function cloneTemplate(base: DatabaseUrls, name: string): Promise<DatabaseUrls> {
  const workers = citusWorkerRootUrls();
  if (workers.length) {
    await cloneCitusDatabase([base.root!, ...workers], TEMPLATE_DATABASE, name, base.ownerRole);
    return withTestRoles(base, name);
  }
  return createDatabaseFrom(base, name, TEMPLATE_DATABASE);
}

/**
 * A database with no schema at all (one PostgreSQL only), with the roles and
 * the test settings: for building a schema step by step (test/db/upgrade.test.ts).
 */
export function createEmptyDatabase(base: DatabaseUrls, name: string): Promise<DatabaseUrls> {
  return createDatabaseFrom(base, name, 'template0');
}

/**
 * A copy of database `source` (one PostgreSQL only), with the roles and the
 * test settings. PostgreSQL copies only a database nobody is connected to:
 * the source's idle sessions (pools closed without waiting) are ended first.
 */
export async function copyDatabase(base: DatabaseUrls, name: string, source: string): Promise<DatabaseUrls> {
  const root = createPool({ connectionString: base.root!, bigIntMode: 'string', poolSize: 1 });
  try {
    await root.query(sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${source} and pid <> pg_backend_pid()`);
  } finally {
    await root.dispose();
  }
  return createDatabaseFrom(base, name, source);
}

async function createDatabaseFrom(base: DatabaseUrls, name: string, template: string): Promise<DatabaseUrls> {
  const root = createPool({ connectionString: base.root!, bigIntMode: 'string', poolSize: 1 });
  try {
    await root.query(sql`drop database if exists ${sql.ident(name)} with (force)`);
    await root.query(sql`create database ${sql.ident(name)} template ${sql.ident(template)} owner ${sql.ident(base.ownerRole)}`);
  } finally {
    await root.dispose();
  }
  return withTestRoles(base, name);
}

/** The database's URLs, after the roles script (CONNECT, the API roles) and the test settings. */
async function withTestRoles(base: DatabaseUrls, name: string): Promise<DatabaseUrls> {
  const urls: DatabaseUrls = {
    ...base,
    databaseName: name,
    owner: withDatabase(base.owner, name),
    authenticator: withDatabase(base.authenticator, name),
  };
  // Suites clone at the same time and the roles script alters cluster-wide
  // roles: two of them at once can collide ("tuple concurrently updated").
  for (let attempt = 1; ; attempt++) {
    try {
      await runRolesScript(urls, [name], TEST_DATABASE_SETTINGS);
      break;
    } catch (error) {
      if (!/tuple concurrently updated/.test((error as Error).message) || attempt === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
  return urls;
}

export async function dropDatabase(base: DatabaseUrls, name: string): Promise<void> {
  const workers = citusWorkerRootUrls();
  if (workers.length) return dropCitusDatabase([base.root!, ...workers], name);
  const root = createPool({ connectionString: base.root!, bigIntMode: 'string', poolSize: 1 });
  try {
    await root.query(sql`drop database if exists ${sql.ident(name)} with (force)`);
  } finally {
    await root.dispose();
  }
}

/**
 * `npm run schema:export`: writes schema.graphql, the API's schema as the
 * code in this checkout builds it, and schema.sql, the database schema as
 * pg_dump prints it (src/db/schema-dump.ts; built on a throw-away
 * PostgreSQL 15 cluster, skipped with a message when Debian's
 * postgresql-15 is not installed). By default it builds a throw-away
 * embedded database from every migration (committed and current), the
 * declarative folders and the worker schema, exactly as the test set-up does,
 * so the file matches what the tests see. With DATABASE_URL it reads that
 * (already migrated) database instead.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readEnv } from '../config.ts';
import { openDatabase, type Database } from '../db/database.ts';
import { freePort } from '../db/embedded.ts';
import { rebuildDatabase } from '../db/migrate.ts';
import { dumpSchema, pgDumpPath, SCHEMA_DUMP_FILE } from '../db/schema-dump.ts';
import { startSystemNode } from '../db/system-postgres.ts';
import { exportSchemaSDL } from '../server/schema-export.ts';
import { helpOnRequest } from './usage.ts';

helpOnRequest(`
Usage: npm run schema:export

Writes schema.graphql, the GraphQL schema this checkout builds. Without
DATABASE_URL it builds a throw-away embedded database from every migration
(committed and current), functions/, policies/ and the worker schema; with
DATABASE_URL it reads that (already migrated) database.

Also writes schema.sql (pg_dump --schema-only, filtered) from a throw-away
PostgreSQL 15 cluster built the same way, when Debian's postgresql-15 is
installed.
`);

/** A new database with committed + current migrations, functions/, policies/ and the worker schema. */
async function buildThrowAwayDatabase(): Promise<Database> {
  const env = readEnv({ ...process.env, DATABASE_URL: undefined, NODE_ENV: 'development' });
  const db = await openDatabase(env, {
    databaseName: 'penguinmails_schema_export',
    ephemeral: { dataDir: path.join(os.tmpdir(), `penguinmails-schema-export-${process.pid}`), port: await freePort() },
  });
  try {
    await rebuildDatabase(db.urls);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** schema.sql from a throw-away PostgreSQL 15 cluster built from this checkout. */
async function writeSchemaDump(): Promise<void> {
  if (!existsSync(pgDumpPath())) {
    console.log(`${SCHEMA_DUMP_FILE} not written: ${pgDumpPath()} is missing (install Debian's postgresql-15).`);
    return;
  }
  const node = startSystemNode({
    dir: path.join(os.tmpdir(), `penguinmails-schema-dump-${process.pid}`),
    port: await freePort(),
    superuserPassword: randomBytes(12).toString('hex'),
  });
  try {
    const owner = new URL(node.superuserUrl('penguinmails_schema_dump'));
    owner.username = 'penguinmails_owner';
    owner.password = randomBytes(12).toString('hex');
    const pg15 = readEnv({ ...process.env, NODE_ENV: 'development', DATABASE_URL: owner.toString(), ROOT_DATABASE_URL: node.superuserUrl() });
    const db = await openDatabase(pg15);
    await rebuildDatabase(db.urls);
    const dump = dumpSchema(node.superuserUrl('penguinmails_schema_dump'));
    writeFileSync(SCHEMA_DUMP_FILE, dump);
    console.log(`${SCHEMA_DUMP_FILE} written (${dump.split('\n').length} lines).`);
  } finally {
    node.stop();
  }
}

const env = readEnv();
const db = env.DATABASE_URL ? await openDatabase(env) : await buildThrowAwayDatabase();
let code = 0;
try {
  const sdl = await exportSchemaSDL(db.urls);
  writeFileSync('schema.graphql', sdl);
  console.log(`schema.graphql written (${sdl.split('\n').length} lines).`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  code = 1;
} finally {
  await db.close();
}
if (code === 0 && !env.DATABASE_URL) {
  try {
    await writeSchemaDump();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    code = 1;
  }
}
process.exit(code);

/**
 * `npm run schema:export`: writes schema.graphql, the API's schema as the
 * code in this checkout builds it. By default it builds a throw-away
 * embedded database from every migration (committed and current), the
 * declarative folders and the worker schema, exactly as the test set-up does,
 * so the file matches what the tests see. With DATABASE_URL it reads that
 * (already migrated) database instead.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readEnv } from '../config.ts';
import { openDatabase, type Database } from '../db/database.ts';
import { freePort } from '../db/embedded.ts';
import { rebuildDatabase } from '../db/migrate.ts';
import { exportSchemaSDL } from '../server/schema-export.ts';
import { helpOnRequest } from './usage.ts';

helpOnRequest(`
Usage: npm run schema:export

Writes schema.graphql, the GraphQL schema this checkout builds. Without
DATABASE_URL it builds a throw-away embedded database from every migration
(committed and current), functions/, policies/ and the worker schema; with
DATABASE_URL it reads that (already migrated) database.
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
process.exit(code);

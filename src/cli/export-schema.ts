/** `npm run schema:export`: writes schema.graphql from the migrated database. */
import { writeFileSync } from 'node:fs';
import { readEnv } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { exportSchemaSDL } from '../server/schema-export.ts';

const env = readEnv();
const db = await openDatabase(env);
let code = 0;
try {
  await migrateDatabase(db.urls, { quiet: true });
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

/**
 * The whole platform in one process: database (embedded by default),
 * migrations, and the services on top. Used by `npm start` and by tests.
 */
import type { Env } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { migrateDatabase } from './db/migrate.ts';

export interface Platform {
  db: Database;
  stop(): Promise<void>;
}

export async function startPlatform(env: Env): Promise<Platform> {
  const db = await openDatabase(env);
  try {
    await migrateDatabase(db.urls, { quiet: true });
  } catch (error) {
    await db.close();
    throw error;
  }
  console.log(`PenguinMails database ready: ${db.embedded ? 'embedded' : 'external'} PostgreSQL, database ${db.urls.databaseName}`);
  return {
    db,
    async stop() {
      await db.close();
    },
  };
}

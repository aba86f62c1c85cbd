/**
 * The whole platform in one process: database (embedded by default),
 * migrations, the GraphQL API and the worker. Used by `npm start`.
 */
import type { Env } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { migrateDatabase } from './db/migrate.ts';
import { loadDevSecrets } from './dev-secrets.ts';
import { startApiServer, type ApiServer } from './server/http.ts';

export interface Platform {
  db: Database;
  api: ApiServer;
  stop(): Promise<void>;
}

export async function startPlatform(env: Env): Promise<Platform> {
  const db = await openDatabase(env);
  let api: ApiServer | undefined;
  try {
    await migrateDatabase(db.urls, { quiet: true });
    api = await startApiServer({
      env,
      urls: db.urls,
      jwtSecret: env.JWT_SECRET ?? loadDevSecrets(env.PM_DATA_DIR).jwtSecret,
    });
  } catch (error) {
    await api?.close();
    await db.close();
    throw error;
  }
  console.log(`PenguinMails API on ${api.url}/graphql (${db.embedded ? 'embedded' : 'external'} PostgreSQL, database ${db.urls.databaseName})`);
  return {
    db,
    api,
    async stop() {
      await api.close();
      await db.close();
    },
  };
}

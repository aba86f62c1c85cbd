/**
 * Brings a database to the current schema: committed migrations through
 * graphile-migrate, then graphile-worker's own schema, then the declarative
 * folders (functions/260 puts a trigger on the worker's jobs table). `npm
 * start`, the test set-up and the db:* scripts all go through here (the CLI
 * path runs the same declarative step as .gmrc's afterAllMigrations).
 */
import { Logger, migrate, reset, watch, type Settings } from 'graphile-migrate';
import { runMigrations as runWorkerMigrations } from 'graphile-worker';
import JSON5 from 'json5';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { DatabaseUrls } from './database.ts';
import { allowNestedTenantReads, distributeForCitus, grantShardsColumnPrivileges } from './citus-distribution.ts';
import { applyDeclarative } from './declarative.ts';

export function loadGmrc(root = process.cwd()): Settings {
  return JSON5.parse(readFileSync(path.join(root, '.gmrc'), 'utf8')) as Settings;
}

/** Another database on the same server (graphile-migrate refuses a root URL equal to the one it migrates). */
function maintenanceUrl(url: string): string {
  const u = new URL(url);
  u.pathname = u.pathname === '/postgres' ? '/template1' : '/postgres';
  return u.toString();
}

/** graphile-migrate settings for these URLs, with the .gmrc as the base. */
export function migrateSettings(urls: DatabaseUrls, quiet = false): Settings {
  const gmrc = loadGmrc();
  return {
    ...gmrc,
    connectionString: urls.owner,
    shadowConnectionString: urls.shadow,
    // Without a superuser URL, graphile-migrate still wants a root URL distinct
    // from the database it migrates; only `reset` would use it.
    rootConnectionString: urls.root ?? maintenanceUrl(urls.owner),
    placeholders: {
      ...gmrc.placeholders,
      ':DATABASE_AUTHENTICATOR_PASSWORD': urls.authenticatorPassword,
    },
    ...(quiet ? { logger: silentLogger } : {}),
  };
}

/** Only warnings and errors: for tests and start-up. */
const silentLogger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(message);
});

/**
 * graphile-migrate keeps its pools open briefly after use and exits the
 * process if one of their idle connections dies, e.g. when the embedded
 * server stops right after migrating. Close them as soon as we are done.
 */
export function releaseMigratePools(): void {
  const pgReal = createRequire(import.meta.url)('graphile-migrate/dist/pgReal.js') as { clearAllPools(): void };
  pgReal.clearAllPools();
}

export async function migrateDatabase(urls: DatabaseUrls, { quiet = false } = {}): Promise<void> {
  try {
    // The declarative step is run directly below rather than as the .gmrc
    // afterAllMigrations command, so it also runs when no migration was pending.
    await migrate({ ...migrateSettings(urls, quiet), afterAllMigrations: [] }, false, false);
  } finally {
    releaseMigratePools();
  }
  await distributeForCitus(urls.owner, quiet ? undefined : (line) => console.log(line));
  // graphile-worker's schema first: functions/260 puts a trigger on its jobs table.
  await runWorkerMigrations({ connectionString: urls.owner });
  await applyDeclarative(urls.owner);
  await grantShardsColumnPrivileges(urls.owner);
  await allowNestedTenantReads(urls.owner);
}

/**
 * Drops and rebuilds a database the way the working tree describes it: the
 * committed migrations (reset also runs afterReset, the roles), then
 * migrations/current, then the Citus layout (when the database has the
 * extension), the declarative folders and graphile-worker's schema. The test
 * template, `npm run schema:export` and the benchmark build their databases
 * with it; it needs a root URL (reset recreates the database).
 *
 * `fresh: true` migrates a database that exists and is empty instead of
 * resetting it: on Citus the database and its extension exist on every node
 * before the schema goes in (src/db/citus-cluster.ts).
 */
export async function rebuildDatabase(urls: DatabaseUrls, { fresh = false } = {}): Promise<void> {
  const settings = migrateSettings(urls, true);
  try {
    if (fresh) await migrate({ ...settings, afterAllMigrations: [] }, false, false);
    else await reset({ ...settings, afterAllMigrations: [] }, false);
    await watch({ ...settings, afterCurrent: [] }, true, false);
  } finally {
    releaseMigratePools();
  }
  await distributeForCitus(urls.owner);
  await runWorkerMigrations({ connectionString: urls.owner });
  await applyDeclarative(urls.owner, { force: true });
  await grantShardsColumnPrivileges(urls.owner);
  await allowNestedTenantReads(urls.owner);
}

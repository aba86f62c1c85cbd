/**
 * `npm run db:<command>`: graphile-migrate against the embedded database (or
 * DATABASE_URL), with roles and databases bootstrapped first.
 *
 *   migrate   committed migrations + functions/ + policies/ + worker schema
 *   watch     re-run migrations/current on change; also re-applies functions/
 *             and policies/ whenever a file in them changes
 *   commit    commit migrations/current as the next migration
 *   uncommit  move the latest committed migration back to current
 *   reset     drop and rebuild the database from the committed migrations
 *   status    show pending migrations
 */
import { spawn } from 'node:child_process';
import { watch as watchFiles } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { runMigrations as runWorkerMigrations } from 'graphile-worker';
import { readEnv } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { applyDeclarative, DECLARATIVE_FOLDERS } from '../db/declarative.ts';
import { commit } from 'graphile-migrate';
import { migrateDatabase, migrateSettings, releaseMigratePools } from '../db/migrate.ts';
import { helpOnRequest } from './usage.ts';

helpOnRequest(`
Usage: npm run db:<command> [-- graphile-migrate options]

Against the embedded database (or DATABASE_URL), with roles and databases
bootstrapped first:
  db:migrate    committed migrations + functions/ + policies/ + worker schema
  db:watch      re-run migrations/current on change; re-apply functions/ and
                policies/ whenever a file in them changes
  db:commit     commit migrations/current as the next migration (--message)
  db:uncommit   move the latest committed migration back to current
  db:reset      drop and rebuild the database from the committed migrations
  db:status     show pending migrations
`);

const [command, ...args] = process.argv.slice(2);
const known = ['migrate', 'watch', 'commit', 'uncommit', 'reset', 'status'];
if (!command || !known.includes(command)) {
  console.error(`usage: node src/cli/db.ts <${known.join('|')}> [graphile-migrate options]`);
  process.exit(2);
}

const env = readEnv();
const db = await openDatabase(env, { withShadow: true });
const { urls } = db;

function runGraphileMigrate(gmArgs: string[]): Promise<number> {
  const cli = createRequire(import.meta.url).resolve('graphile-migrate/dist/cli.js');
  const child = spawn(process.execPath, [cli, ...gmArgs], {
    stdio: 'inherit',
    env: {
      ...process.env,
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
      DATABASE_URL: urls.owner,
      SHADOW_DATABASE_URL: urls.shadow,
      ROOT_DATABASE_URL: urls.root,
      DATABASE_AUTHENTICATOR_PASSWORD: urls.authenticatorPassword,
    },
  });
  const stop = () => child.kill('SIGINT');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

let exitCode = 0;
try {
  if (command === 'migrate') {
    await migrateDatabase(urls);
    console.log(`${urls.databaseName}: migrated, functions/ and policies/ applied, worker schema ready.`);
  } else if (command === 'commit') {
    // graphile-migrate rebuilds the shadow database from the committed
    // migrations alone, where functions/ and policies/ may use what only the
    // migration being committed adds: its hooks are skipped there, and the
    // declarative folders are applied to the main database afterwards.
    const flag = args.findIndex((a) => a === '--message' || a === '-m');
    try {
      await commit({ ...migrateSettings(urls), afterAllMigrations: [], afterCurrent: [] }, flag >= 0 ? args[flag + 1] : undefined);
    } finally {
      releaseMigratePools();
    }
    await migrateDatabase(urls);
  } else {
    if (command === 'watch') {
      for (const folder of DECLARATIVE_FOLDERS) {
        watchFiles(folder, () => {
          applyDeclarative(urls.owner, { force: true }).then(
            () => console.log(`[declarative] ${folder}/ changed: functions/ and policies/ re-applied`),
            (e: Error) => console.error(`[declarative] ${e.message}`),
          );
        });
      }
    }
    exitCode = await runGraphileMigrate([command, ...args]);
    if (exitCode === 0 && command === 'reset') {
      await runWorkerMigrations({ connectionString: urls.owner });
      // Again, now that the worker's jobs table exists (functions/260 adds a trigger to it).
      await applyDeclarative(urls.owner, { force: true });
    }
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  exitCode = 1;
} finally {
  await db.close();
}
process.exit(exitCode);

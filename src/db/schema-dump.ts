/**
 * schema.sql: the whole current schema in one file, as `pg_dump --schema-only`
 * prints it, for a reviewer to read (and diff) instead of following a table
 * through migrations/, functions/ and policies/. Written by `npm run
 * schema:export`; `test/db/schema-dump.test.ts` fails when the built schema
 * drifts from it.
 *
 * It is dumped from a PostgreSQL 15 server with Debian's pg_dump 15 (the
 * embedded server ships no pg_dump, and pg_dump refuses a newer server).
 * Filtered like graphile-worker's scripts/dump_db: no session SETs, no
 * per-run `\restrict` keys, no object headers, no owners; graphile-worker's
 * and graphile-migrate's own schemas are left out (they belong to those
 * tools), and so are the monthly partitions of messages and email_events,
 * which depend on the day the database was built (the parents and
 * app_private.ensure_monthly_partitions are in).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PG15_BIN } from './system-postgres.ts';

export const SCHEMA_DUMP_FILE = 'schema.sql';

const HEADER = `-- The current schema, dumped by \`npm run schema:export\` (src/db/schema-dump.ts)
-- from a PostgreSQL 15 database built from migrations/, functions/ and policies/.
-- Generated: edit those folders, never this file; test/db/schema-dump.test.ts
-- fails when it is out of date.
`;

/** A monthly partition's name (messages_y2026m03, its indexes and keys). */
const MONTHLY_PARTITION = /_y\d{4}m\d{2}/;

export function pgDumpPath(): string {
  return path.join(PG15_BIN, 'pg_dump');
}

/** pg_dump's output, filtered to what describes the schema. */
export function filterDump(raw: string): string {
  // pg_dump introduces every object with a header comment ("-- Name: x; Type: TABLE; …").
  const blocks = raw.split(/\n(?=--\n-- (?:Name|Data for Name): )/);
  const kept: string[] = [];
  for (const block of blocks) {
    const header = /^--\n-- Name: ([^;]*); Type: [^;]*; Schema: ([^;]*);/.exec(block);
    if (header && MONTHLY_PARTITION.test(header[1]!)) continue;
    const body = block
      .split('\n')
      .filter((line) => !line.startsWith('--') && !/^SET /.test(line) && !/^SELECT pg_catalog\.set_config/.test(line) && !/^\\(un)?restrict /.test(line))
      .join('\n')
      .trim();
    if (body) kept.push(body);
  }
  return `${HEADER}\n${kept.join('\n\n')}\n`;
}

/** Dumps the schema of the database at `url` (a superuser or owner URL) with pg_dump 15. */
export function dumpSchema(url: string): string {
  const result = spawnSync(
    pgDumpPath(),
    ['--schema-only', '--no-owner', '--exclude-schema=graphile_worker', '--exclude-schema=graphile_migrate', '--dbname', url],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`pg_dump failed (${result.status}): ${result.stderr}`);
  return filterDump(result.stdout);
}

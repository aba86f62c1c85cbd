/**
 * Is the database the one this code expects? The latest committed migration
 * must be applied, and functions/ and policies/ must match the files on disk.
 * Used by /readyz.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { declarativeHash, readDeclarativeFiles } from './declarative.ts';

export interface MigrationStatus {
  ready: boolean;
  reason?: string;
  migration?: string;
}

let expected: { migration: string | undefined; declarative: string } | undefined;

function expectedState() {
  expected ??= {
    migration: readdirSync(path.join(process.cwd(), 'migrations', 'committed'))
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .at(-1),
    declarative: declarativeHash(readDeclarativeFiles()),
  };
  return expected;
}

export async function migrationStatus(ownerPool: pg.Pool): Promise<MigrationStatus> {
  const want = expectedState();
  const { rows } = await ownerPool.query<{ filename: string | null; hash: string | null }>(`
    select (select filename from graphile_migrate.migrations order by filename desc limit 1) as filename,
           (select hash from app_private.declarative_state where id = 1) as hash
  `);
  const row = rows[0]!;
  if (row.filename !== want.migration) {
    return { ready: false, reason: `database is at migration ${row.filename ?? 'none'}, code expects ${want.migration}`, migration: row.filename ?? undefined };
  }
  if (row.hash !== want.declarative) {
    return { ready: false, reason: 'functions/ and policies/ differ from what is applied', migration: row.filename ?? undefined };
  }
  return { ready: true, migration: row.filename ?? undefined };
}

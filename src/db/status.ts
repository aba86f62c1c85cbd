/**
 * Is the database the one this code expects? The latest committed migration
 * must be applied, and functions/ and policies/ must match the files on disk.
 * Used by /readyz.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { declarativeHash, readDeclarativeFiles } from './declarative.ts';

export interface MigrationStatus {
  ready: boolean;
  reason?: string;
  migration?: string;
}

let expected: { migration: string | undefined; hash: string | undefined; declarative: string } | undefined;

function expectedState() {
  if (!expected) {
    const dir = path.join(process.cwd(), 'migrations', 'committed');
    const migration = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .at(-1);
    // graphile-migrate records "000001.sql" for "000001-some-message.sql"; the hash header identifies it exactly.
    const hash = migration ? /^--! Hash: (\S+)$/m.exec(readFileSync(path.join(dir, migration), 'utf8'))?.[1] : undefined;
    expected = { migration, hash, declarative: declarativeHash(readDeclarativeFiles()) };
  }
  return expected;
}

export async function migrationStatus(ownerPool: pg.Pool): Promise<MigrationStatus> {
  const want = expectedState();
  const { rows } = await ownerPool.query<{ filename: string | null; migration_hash: string | null; hash: string | null }>(`
    select m.filename, m.hash as migration_hash,
           (select hash from app_private.declarative_state where id = 1) as hash
    from (select 1) one
    left join lateral (select filename, hash from graphile_migrate.migrations order by filename desc limit 1) m on true
  `);
  const row = rows[0]!;
  if (row.migration_hash !== want.hash) {
    return { ready: false, reason: `database is at migration ${row.filename ?? 'none'}, code expects ${want.migration}`, migration: row.filename ?? undefined };
  }
  if (row.hash !== want.declarative) {
    return { ready: false, reason: 'functions/ and policies/ differ from what is applied', migration: row.filename ?? undefined };
  }
  return { ready: true, migration: row.filename ?? undefined };
}

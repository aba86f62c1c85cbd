/**
 * Applies the declarative SQL folders after every migration: functions/ first
 * (CREATE OR REPLACE), then policies/ (which starts by dropping every policy
 * and API grant, so the folder is the whole truth). Everything runs in one
 * transaction: either the new definitions are all in place or none are.
 * A hash of the files is stored so an unchanged folder is not re-applied.
 */
import { createPool, sql } from './pg.ts';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const DECLARATIVE_FOLDERS = ['functions', 'policies'] as const;

export interface DeclarativeFile {
  folder: string;
  name: string;
  text: string;
}

export function readDeclarativeFiles(root = process.cwd()): DeclarativeFile[] {
  return DECLARATIVE_FOLDERS.flatMap((folder) =>
    readdirSync(path.join(root, folder))
      .filter((name) => name.endsWith('.sql'))
      .sort()
      .map((name) => ({ folder, name, text: readFileSync(path.join(root, folder, name), 'utf8') })),
  );
}

export function declarativeHash(files: DeclarativeFile[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.folder}/${f.name}\n${f.text}\n`);
  return hash.digest('hex');
}

export interface ApplyResult {
  applied: boolean;
  hash: string;
}

export async function applyDeclarative(
  connectionString: string,
  { force = false, root = process.cwd() }: { force?: boolean; root?: string } = {},
): Promise<ApplyResult> {
  const files = readDeclarativeFiles(root);
  const hash = declarativeHash(files);
  const db = createPool({ connectionString, bigIntMode: 'string', poolSize: 1 });
  try {
    return await db.tx(async (tx) => {
      // One applier at a time (several servers may start together).
      await tx.query(sql`select pg_advisory_xact_lock(hashtext('penguinmails.declarative'))`);
      const [state] = await tx.query(sql`select hash from app_private.declarative_state where id = 1`);
      if (!force && state?.hash === hash) return { applied: false, hash };
      // On Citus, DDL that touches distributed tables runs over one
      // connection per node, so one transaction may change many of them.
      const [citus] = await tx.query(sql`select 1 as yes from pg_extension where extname = 'citus'`);
      if (citus) await tx.query(sql`set local citus.multi_shard_modify_mode = 'sequential'`);
      for (const file of files) {
        try {
          await tx.query(sql.__dangerous__rawValue(file.text));
        } catch (error) {
          const e = error as Error & { position?: string };
          const line = e.position ? file.text.slice(0, Number(e.position)).split('\n').length : undefined;
          throw new Error(`${file.folder}/${file.name}${line ? `:${line}` : ''}: ${e.message}`, { cause: error });
        }
      }
      await tx.query(sql`
        insert into app_private.declarative_state (id, hash, applied_at) values (1, ${hash}, now())
        on conflict (id) do update set hash = excluded.hash, applied_at = excluded.applied_at
      `);
      return { applied: true, hash };
    });
  } finally {
    await db.dispose();
  }
}

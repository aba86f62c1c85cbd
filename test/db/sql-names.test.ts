/**
 * Every SQL function TypeScript calls by name (`app_private.begin_campaign(`,
 * `app_public.current_user_id(` …) exists in the built schema: a function
 * renamed or dropped in functions/ fails here, not in production when that
 * code path first runs. Scans the code that talks to the database (src/,
 * workers/, plugins/, bench/, scripts/, test/).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { closeDb, rootDb } from '../helpers/db.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

const ROOTS = ['src', 'workers', 'plugins', 'bench', 'scripts', 'test'];
const CALL = /\b(app_public|app_private|app_hidden)\.([a-z_][a-z0-9_]*)\(/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'node_modules' ? [] : tsFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

test('every schema-qualified function named in TypeScript exists', async () => {
  const named = new Map<string, string>();
  for (const file of ROOTS.flatMap(tsFiles)) {
    for (const m of readFileSync(file, 'utf8').matchAll(CALL)) {
      const name = `${m[1]}.${m[2]}`;
      if (!named.has(name)) named.set(name, file);
    }
  }
  expect(named.size).toBeGreaterThan(50);
  const rows = await rootDb().query(sql`
    select n.nspname || '.' || p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname in ('app_public', 'app_private', 'app_hidden')
    union
    select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('app_public', 'app_private', 'app_hidden') and c.relkind in ('r', 'p', 'v')`);
  const existing = new Set(rows.map((r) => r.name as string));
  const missing = [...named].filter(([name]) => !existing.has(name)).map(([name, file]) => `${name} (first named in ${file})`);
  expect(missing).toEqual([]);
});

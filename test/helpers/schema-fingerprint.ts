/**
 * The application's schema as a sorted list of lines, one per object and
 * property, read from pg_catalog: schemas, tables and views (row security,
 * grants, comments), columns (type, nullability, default, generation,
 * comment), constraints (definition and whether validated), indexes,
 * policies, triggers, functions (signature, body digest, settings, security,
 * grants) and domains. Two databases with the same lines have the same
 * schema, whatever path built them (test/db/upgrade.test.ts compares an
 * upgraded database with a fresh build). Monthly partitions are left out:
 * which months exist depends on the day a database was built.
 */
import type { ConnectionPool } from '../../src/db/pg.ts';
import { sql } from '../../src/db/pg.ts';

const SCHEMAS = ['app_public', 'app_hidden', 'app_private', 'graphile_worker'];

export async function schemaFingerprint(db: ConnectionPool): Promise<string[]> {
  const rows = await db.query(sql`
    with rel as (
      select c.oid, c.relname, c.relkind, n.nspname, c.relrowsecurity, c.relforcerowsecurity, c.relacl
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any (${SCHEMAS}) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') and not c.relispartition
    )
    select format('schema %s acl=%s comment=%s', n.nspname, n.nspacl::text, obj_description(n.oid, 'pg_namespace')) as line
      from pg_namespace n where n.nspname = any (${SCHEMAS})
    union all
    select format('relation %s.%s kind=%s rls=%s force=%s acl=%s comment=%s',
                  r.nspname, r.relname, r.relkind, r.relrowsecurity, r.relforcerowsecurity,
                  (select array_agg(a::text order by a::text) from unnest(r.relacl) a), obj_description(r.oid, 'pg_class'))
      from rel r
    union all
    select format('column %s.%s.%s %s notnull=%s default=%s generated=%s identity=%s acl=%s comment=%s',
                  r.nspname, r.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid), a.attgenerated, a.attidentity,
                  (select array_agg(x::text order by x::text) from unnest(a.attacl) x), col_description(r.oid, a.attnum))
      from rel r join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
      left join pg_attrdef d on d.adrelid = r.oid and d.adnum = a.attnum
    union all
    select format('constraint %s.%s %s %s validated=%s deferrable=%s comment=%s',
                  r.nspname, r.relname, co.conname, pg_get_constraintdef(co.oid), co.convalidated, co.condeferrable,
                  obj_description(co.oid, 'pg_constraint'))
      from rel r join pg_constraint co on co.conrelid = r.oid
    union all
    select format('index %s', pg_get_indexdef(i.indexrelid))
      from rel r join pg_index i on i.indrelid = r.oid
    union all
    select format('policy %s.%s %s cmd=%s permissive=%s roles=%s using=%s check=%s',
                  r.nspname, r.relname, p.polname, p.polcmd, p.polpermissive,
                  (select array_agg(coalesce(ro.rolname, 'public') order by ro.rolname) from unnest(p.polroles) pr left join pg_roles ro on ro.oid = pr),
                  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
      from rel r join pg_policy p on p.polrelid = r.oid
    union all
    select format('trigger %s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
      from rel r join pg_trigger t on t.tgrelid = r.oid and not t.tgisinternal
    union all
    select format('function %s.%s(%s) returns %s kind=%s volatility=%s secdef=%s strict=%s config=%s body=%s acl=%s comment=%s',
                  n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid),
                  p.prokind, p.provolatile, p.prosecdef, p.proisstrict, p.proconfig, md5(p.prosrc),
                  (select array_agg(x::text order by x::text) from unnest(p.proacl) x), obj_description(p.oid, 'pg_proc'))
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any (${SCHEMAS})
    union all
    select format('type %s.%s kind=%s base=%s notnull=%s checks=%s',
                  n.nspname, t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod), t.typnotnull,
                  (select array_agg(pg_get_constraintdef(c.oid) order by c.conname) from pg_constraint c where c.contypid = t.oid))
      from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where n.nspname = any (${SCHEMAS}) and t.typtype in ('d', 'e')
  `);
  return rows.map((r) => r.line as string).sort();
}

/** Lines only one side has, each prefixed with - (only in `a`) or + (only in `b`). */
export function fingerprintDiff(a: string[], b: string[]): string[] {
  const inA = new Set(a);
  const inB = new Set(b);
  return [...a.filter((l) => !inB.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !inA.has(l)).map((l) => `+ ${l}`)];
}

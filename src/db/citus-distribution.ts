/**
 * How the schema is laid out on a Citus cluster, declared once and applied by
 * `distributeForCitus` after the migrations whenever the database has the
 * citus extension (src/db/migrate.ts); on plain PostgreSQL nothing here runs.
 *
 * - `app_public.tenants` is distributed by its id, and every table with a
 *   `tenant_id` in its primary key is distributed by `tenant_id` and
 *   co-located with it: one tenant's rows of every table live in one shard
 *   group, so tenant queries and their joins and foreign keys stay on one node.
 * - Tables without `tenant_id` (users, plans, staff, infrastructure) are
 *   reference tables: a copy on every node, joinable from any shard.
 * - LOCAL_TABLES stay on the coordinator only.
 *
 * The rule is applied to whatever tables exist, so a new table needs no entry
 * here unless it is an exception; `citusLayout` says where each table went.
 */
import pg from 'pg';
import { quoteIdent } from './database.ts';

/** Coordinator-only bookkeeping. */
export const LOCAL_TABLES = new Set(['app_private.declarative_state']);

/** The table every tenant table is co-located with, distributed by its own id. */
export const TENANTS_TABLE = 'app_public.tenants';

export const SCHEMAS = ['app_public', 'app_hidden', 'app_private'];

export type Placement = 'distributed' | 'reference' | 'local';

export interface TableInfo {
  name: string;
  placement: Placement;
  /** Tables it references with foreign keys (other than itself). */
  references: string[];
}

export async function hasCitus(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query(`select 1 from pg_extension where extname = 'citus'`);
  return rows.length > 0;
}

/** Every table of our schemas with the placement the rules above give it. */
export async function plannedLayout(client: pg.ClientBase): Promise<TableInfo[]> {
  const { rows } = await client.query<{ name: string; tenant_key: boolean; references: string[] }>(
    `
    select c.oid::regclass::text as name,
      exists (
        select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey)
        where i.indrelid = c.oid and i.indisprimary and a.attname = 'tenant_id'
      ) as tenant_key,
      coalesce((
        select array_agg(distinct f.confrelid::regclass::text)
        from pg_constraint f where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid
      ), '{}') as references
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any ($1) and c.relkind in ('r', 'p') and not c.relispartition
    order by 1
    `,
    [SCHEMAS],
  );
  return rows.map((r) => ({
    name: r.name,
    references: r.references,
    placement: LOCAL_TABLES.has(r.name) ? 'local' : r.name === TENANTS_TABLE || r.tenant_key ? 'distributed' : 'reference',
  }));
}

/** Where each table is now, from Citus' metadata. */
export async function citusLayout(client: pg.ClientBase): Promise<Map<string, Placement>> {
  const { rows } = await client.query<{ name: string; kind: string | null }>(
    `
    select c.oid::regclass::text as name, p.partmethod::text as kind
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    left join pg_dist_partition p on p.logicalrelid = c.oid
    where n.nspname = any ($1) and c.relkind in ('r', 'p') and not c.relispartition
    `,
    [SCHEMAS],
  );
  return new Map(rows.map((r) => [r.name, r.kind === 'h' ? 'distributed' : r.kind === 'n' ? 'reference' : 'local']));
}

/**
 * Citus refuses `ON DELETE SET NULL (column)` (PostgreSQL 15's form that
 * leaves tenant_id alone) on distributed tables: there the foreign key keeps
 * no action, so deleting a row that others still reference fails with a
 * foreign-key error instead of clearing the references. README's Scale-out
 * section lists the affected deletes.
 */
export function citusForeignKey(def: string): string {
  return def.replace(/ ON DELETE SET NULL \([^)]*\)/, '');
}

/** Tables in an order where everything a table references comes before it. */
function dependencyOrder(tables: TableInfo[]): TableInfo[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const ordered: TableInfo[] = [];
  const visit = (t: TableInfo, path: Set<string>) => {
    if (done.has(t.name) || path.has(t.name)) return;
    path.add(t.name);
    for (const ref of t.references) {
      const target = byName.get(ref);
      if (target) visit(target, path);
    }
    done.add(t.name);
    ordered.push(t);
  };
  for (const t of tables) visit(t, new Set());
  return ordered;
}

/**
 * Distributes every table that is not yet where the rules put it: reference
 * tables first, then tenants, then the tenant tables, each after the tables it
 * references. Idempotent: tables already placed are skipped. Runs as the
 * owner of the tables.
 */
export async function distributeForCitus(connectionString: string, log: (line: string) => void = () => undefined): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    if (!(await hasCitus(client))) return;
    // Our own settings reach the workers (SET LOCAL, see functions/001), and
    // triggers may run on the shards of distributed tables.
    const { rows: [{ db }] } = await client.query<{ db: string }>('select current_database() as db');
    const quoted = `"${db.replaceAll('"', '""')}"`;
    await client.query(`alter database ${quoted} set citus.propagate_set_commands = 'local'`);
    await client.query(`alter database ${quoted} set citus.enable_unsafe_triggers = on`);
    await client.query(`set citus.enable_unsafe_triggers = on`);
    await client.query(`set citus.multi_shard_modify_mode = 'sequential'`);

    const current = await citusLayout(client);
    const planned = dependencyOrder(await plannedLayout(client));
    const pending = planned.filter((t) => t.placement !== 'local' && current.get(t.name) !== t.placement);
    if (pending.length === 0) return;

    // Citus converts every table connected by foreign keys when it
    // distributes one, so the foreign keys touching the tables to distribute
    // come off first and go back on once every table is placed (Citus then
    // enforces them on the shards).
    const { rows: foreignKeys } = await client.query<{ tbl: string; target: string; name: string; def: string }>(
      `
      select f.conrelid::regclass::text as tbl, f.confrelid::regclass::text as target, f.conname as name,
        pg_get_constraintdef(f.oid) as def
      from pg_constraint f
      where f.contype = 'f' and f.conparentid = 0
        and (f.conrelid::regclass::text = any ($1) or f.confrelid::regclass::text = any ($1))
      order by 1, 2
      `,
      [pending.map((t) => t.name)],
    );
    for (const fk of foreignKeys) await client.query(`alter table ${fk.tbl} drop constraint ${quoteIdent(fk.name)}`);

    const phases: TableInfo[][] = [
      pending.filter((t) => t.placement === 'reference'),
      pending.filter((t) => t.name === TENANTS_TABLE),
      pending.filter((t) => t.placement === 'distributed' && t.name !== TENANTS_TABLE),
    ];
    for (const table of phases.flat()) {
      const started = Date.now();
      try {
        if (table.placement === 'reference') {
          await client.query('select create_reference_table($1)', [table.name]);
        } else if (table.name === TENANTS_TABLE) {
          await client.query(`select create_distributed_table($1, 'id')`, [table.name]);
        } else {
          await client.query(`select create_distributed_table($1, 'tenant_id', colocate_with => $2)`, [table.name, TENANTS_TABLE]);
        }
      } catch (error) {
        throw new Error(`citus: cannot make ${table.name} a ${table.placement} table: ${(error as Error).message}`, { cause: error });
      }
      log(`citus: ${table.name} is a ${table.placement} table (${Date.now() - started} ms)`);
    }
    const placement = new Map(planned.map((t) => [t.name, t.placement]));
    for (const fk of foreignKeys) {
      // A reference table is on every node, a tenant's rows on one: Citus
      // cannot check a reference from the former to the latter.
      if (placement.get(fk.tbl) !== 'distributed' && placement.get(fk.target) === 'distributed') {
        log(`citus: ${fk.tbl}.${fk.name} dropped: a ${placement.get(fk.tbl)} table cannot reference the distributed ${fk.target}`);
        continue;
      }
      const def = citusForeignKey(fk.def);
      if (def !== fk.def) log(`citus: ${fk.tbl}.${fk.name} restored without its ON DELETE SET NULL (column) action`);
      try {
        await client.query(`alter table ${fk.tbl} add constraint ${quoteIdent(fk.name)} ${def}`);
      } catch (error) {
        throw new Error(`citus: cannot restore ${fk.tbl}.${fk.name} (${fk.def}): ${(error as Error).message}`, { cause: error });
      }
    }
  } finally {
    await client.end();
  }
}

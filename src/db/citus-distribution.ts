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
import { quoteIdent, quoteLiteral } from './database.ts';

/**
 * Coordinator-only bookkeeping: the declarative files applied, and the
 * graphile-worker pools (the job queue itself lives on the coordinator).
 */
export const LOCAL_TABLES = new Set(['app_private.declarative_state', 'app_private.worker_pools']);

/**
 * Settings every database on the cluster needs (set on the database by
 * `distributeForCitus`, and on every node of the clusters we start, whose
 * test databases are copies that do not inherit database settings):
 * - our SET LOCAL settings (the request context, functions/001) reach the workers;
 * - tables may have triggers (they run on the shards, see docs/CONVENTIONS.md);
 * - a transaction that reads several tenants' shards (a user's memberships,
 *   a password policy across their organisations) and then writes a
 *   reference table (users, user_secrets) does both over one connection per
 *   node, which Citus requires when distributed tables reference that table.
 *   Tenant requests touch one shard and are not affected.
 */
export const CITUS_DATABASE_SETTINGS: Record<string, string> = {
  'citus.propagate_set_commands': 'local',
  'citus.enable_unsafe_triggers': 'on',
  'citus.multi_shard_modify_mode': 'sequential',
};

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
    const { rows: [{ db }] } = await client.query<{ db: string }>('select current_database() as db');
    for (const [name, value] of Object.entries(CITUS_DATABASE_SETTINGS)) {
      await client.query(`alter database ${quoteIdent(db)} set ${name} = ${quoteLiteral(value)}`);
      await client.query(`set ${name} = ${quoteLiteral(value)}`);
    }

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
        // The API keeps the relation it gave (PostGraphile's @foreignKey smart tag), so its schema is the same on both engines.
        const [, columns, targetColumns] = fk.def.match(/^FOREIGN KEY \(([^)]+)\) REFERENCES [^(]+\(([^)]+)\)/) ?? [];
        if (columns && targetColumns) {
          const { rows: [{ comment }] } = await client.query<{ comment: string | null }>(`select obj_description($1::regclass, 'pg_class') as comment`, [fk.tbl]);
          const tag = `@foreignKey (${columns}) references ${fk.target} (${targetColumns})`;
          if (!comment?.includes(tag)) await client.query(`comment on table ${fk.tbl} is ${quoteLiteral(`${tag}\n${comment ?? ''}`)}`);
        }
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

/**
 * Column-level INSERT and UPDATE grants (the API roles may write some columns
 * of a table, not all) do not reach the shards, and Citus sends the shards
 * every column of an insert, defaults filled in. The coordinator checks those
 * column privileges on the distributed table before a statement is routed, so
 * the shards get the table-level privilege for each role holding a
 * column-level one. Runs after every apply of policies/ (whose grants Citus
 * propagates, revokes included); a shard created later (a rebalance or a
 * split) gets it from the next `npm run db:migrate`.
 */
export async function grantShardsColumnPrivileges(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    if (!(await hasCitus(client))) return;
    const { rows } = await client.query<{ tbl: string; grantee: string; privilege: string }>(`
      select distinct c.oid::regclass::text as tbl, r.rolname as grantee, x.privilege_type as privilege
      from pg_dist_partition d
      join pg_class c on c.oid = d.logicalrelid
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attacl is not null
      cross join lateral aclexplode(a.attacl) x
      join pg_roles r on r.oid = x.grantee
      where d.partmethod in ('h', 'n') and x.privilege_type in ('INSERT', 'UPDATE')
      order by 1, 2, 3
    `);
    for (const { tbl, grantee, privilege } of rows) {
      const { rows: failed } = await client.query<{ result: string }>(
        'select result from run_command_on_placements($1, $2) where not success limit 1',
        [tbl, `grant ${privilege} on %s to ${quoteIdent(grantee)}`],
      );
      if (failed.length) throw new Error(`citus: cannot grant ${privilege} on the shards of ${tbl} to ${grantee}: ${failed[0]!.result}`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Functions that run inside the query Citus sends to a shard: computed
 * columns (app_public functions taking a row of a distributed table,
 * `campaigns_stats(campaigns)`) and the read-only helpers taking a tenant id
 * first (`inbox_unusable_reason(tenant_id, …)`) that the engine calls per row
 * of a tenant query, and the named ones below. Most read other tenant tables, and Citus refuses a
 * distributed query from inside a shard query unless
 * `citus.allow_nested_distributed_execution` is on. Each of them reads only
 * the tenant it is given (its row's `tenant_id`, or its `tenant_id`
 * argument), whose co-located shards are on the same node: Citus runs those
 * queries locally in the same transaction (they see its writes), so the
 * "possible incorrectness" it warns of, a nested query sent to another node
 * outside the transaction, does not arise. The setting is given to those
 * functions only (a function SET clause), after every apply of functions/,
 * which recreates them; `test/citus/cluster.test.ts` checks that they have
 * it, that each computed column that queries a table names its row's tenant,
 * and that a computed column sees its transaction's writes.
 */
export async function allowNestedTenantReads(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    if (!(await hasCitus(client))) return;
    for (const fn of await functionsInShardQueries(client)) {
      await client.query(`alter function ${fn} set citus.allow_nested_distributed_execution = on`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Named functions that also run inside a shard query: the engine's clock
 * readers (a reference table, local on every node), read inside tenant
 * queries; the status triggers of two reference tables, which fire on
 * every node's copy and count live domain assignments (a tenant table) on
 * the coordinator's copy only; and the root set-returning functions of the
 * API that read the request's tenant only: with relations selected on their
 * rows, Citus sends the whole query, function call included, to the tenant's
 * shard.
 */
const NAMED_SHARD_QUERY_FUNCTIONS = [
  'app_private.engine_now()',
  'app_private.engine_run_at(timestamp with time zone)',
  'app_private.tg__smtp_ip_lifecycle()',
  'app_private.tg__vps_instance_lifecycle()',
  'app_public.inbox_conversations(uuid,uuid,boolean,text,text)',
  'app_public.search_leads(text)',
];

/**
 * Computed columns of distributed tables, read-only functions taking a tenant
 * id first, and the named functions (regprocedure text).
 */
export async function functionsInShardQueries(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ fn: string }>(
    `
    select p.oid::regprocedure::text as fn
    from pg_proc p
    where p.prokind = 'f' and (
      (p.pronamespace = 'app_public'::regnamespace and exists (
        select from pg_type t join pg_dist_partition d on d.logicalrelid = t.typrelid and d.partmethod = 'h'
        where t.oid = p.proargtypes[0]))
      or (p.pronamespace in ('app_private'::regnamespace, 'app_hidden'::regnamespace) and p.provolatile <> 'v'
        and p.proargnames[1] = 'tenant_id' and p.proargtypes[0] = 'uuid'::regtype)
      or p.oid::regprocedure::text = any ($1))
    order by 1
    `,
    [NAMED_SHARD_QUERY_FUNCTIONS],
  );
  return rows.map((r) => r.fn);
}

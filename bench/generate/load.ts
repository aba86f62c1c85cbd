/**
 * Loads a planned data set into a migrated database, as the owner role:
 * users and tenants through the product's own functions (create_user,
 * create_tenant: they set up memberships, settings, subscriptions and usage
 * periods the way sign-up does), everything else through chunked COPY, table
 * by table in foreign-key order, with the tenants split over a few
 * connections that load in parallel.
 *
 * The large tables are loaded the way pg_restore loads a dump: their
 * secondary (non-unique) indexes and their foreign keys are dropped first
 * and re-created afterwards, which builds each index in one sorted pass and
 * checks each foreign key with one join instead of one lookup per row.
 * Primary and unique keys, CHECK constraints and the triggers (the
 * statement-level analytics rollups, the plan-limit gauges) stay in place
 * and run for every COPY, but for the row triggers in DEFERRED_TRIGGERS,
 * whose work is done once the indexes are back. The definitions come from the catalogue and are
 * put back verbatim, and the load is only recorded as complete once they are.
 */
import pg from 'pg';
import type { DatasetPlan, TenantPlan } from './plan.ts';
import { copyRows } from './copy.ts';
import { TABLES, userEmail, type TableSpec, type TenantRefs } from './rows.ts';

export interface LoadOptions {
  /** Rows per COPY statement (and transaction). */
  chunkRows?: number;
  /** Connections loading at once. */
  parallel?: number;
  log?: (line: string) => void;
}

export interface TableLoad {
  table: string;
  rows: number;
  seconds: number;
}

export interface LoadResult {
  refs: TenantRefs[];
  tables: TableLoad[];
  seconds: number;
}

const DAY = 86_400_000;

/** The months the data set covers must have partitions (they exist 12 months back from the migration only). */
async function ensurePartitions(client: pg.ClientBase, ds: DatasetPlan): Promise<void> {
  const from = new Date(ds.anchorMs - (ds.options.historyDays + 45) * DAY).toISOString().slice(0, 10);
  const to = new Date(ds.anchorMs + 62 * DAY).toISOString().slice(0, 10);
  await client.query(
    `select app_private.ensure_monthly_partitions(t, $1::date, $2::date)
     from unnest(array['app_public.messages', 'app_public.email_events']::regclass[]) t`,
    [from, to],
  );
}

/** Users, then tenants (each with its owner), through the product's functions; returns each tenant's ids. */
async function createTenants(client: pg.ClientBase, ds: DatasetPlan): Promise<TenantRefs[]> {
  const emails: string[] = [];
  const names: string[] = [];
  for (const t of ds.tenants) {
    for (let u = 0; u < t.users; u++) {
      emails.push(userEmail(t, u));
      names.push(`${u === 0 ? 'Owner' : `Member ${u}`} of ${t.name}`);
    }
  }
  const { rows: users } = await client.query<{ email: string; id: string }>(
    `select u.email, (app_private.create_user(u.email, null, u.name, true)).id
     from unnest($1::text[], $2::text[]) as u (email, name)`,
    [emails, names],
  );
  const userId = new Map(users.map((u) => [u.email, u.id]));
  const { rows: tenants } = await client.query<{ ord: string; id: string }>(
    `select t.ord, (app_private.create_tenant(t.name, t.owner, t.plan)).id
     from unnest($1::text[], $2::uuid[], $3::text[]) with ordinality as t (name, owner, plan, ord)
     order by t.ord`,
    [ds.tenants.map((t) => t.name), ds.tenants.map((t) => userId.get(userEmail(t, 0))), ds.tenants.map((t) => t.plan)],
  );
  const { rows: companies } = await client.query<{ tenant_id: string; id: string }>(
    `select tenant_id, id from app_public.companies where tenant_id = any($1::uuid[]) and workspace_name = 'default'`,
    [tenants.map((t) => t.id)],
  );
  const companyOf = new Map(companies.map((c) => [c.tenant_id, c.id]));
  return ds.tenants.map((t, i) => {
    const tenantId = tenants[i]!.id;
    return {
      tenantId,
      companyId: companyOf.get(tenantId)!,
      userIds: Array.from({ length: t.users }, (_, u) => userId.get(userEmail(t, u))!),
    };
  });
}

/** Splits tenants into groups of similar total size (largest first, into the lightest group). */
function balance(ds: DatasetPlan, groups: number): number[][] {
  const load = Array.from({ length: groups }, () => 0);
  const out = Array.from({ length: groups }, () => [] as number[]);
  for (const t of ds.tenants) {
    const g = load.indexOf(Math.min(...load));
    out[g]!.push(t.index);
    load[g]! += t.leads;
  }
  return out;
}

/** Tables loaded with their secondary indexes and foreign keys deferred. */
export const BULK_TABLES = [
  'app_public.leads', 'app_public.contact_list_members', 'app_public.campaign_enrollments', 'app_public.messages', 'app_public.email_events',
] as const;

interface Deferred {
  indexes: Array<{ name: string; def: string }>;
  foreignKeys: Array<{ table: string; name: string; def: string }>;
}

async function deferIndexesAndKeys(client: pg.ClientBase, tables: readonly string[]): Promise<Deferred> {
  const { rows: indexes } = await client.query<{ name: string; def: string }>(
    `select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def
     from pg_index i
     where i.indrelid = any($1::regclass[]) and not i.indisunique
       and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
     order by 1`,
    [tables],
  );
  const { rows: foreignKeys } = await client.query<{ table: string; name: string; def: string }>(
    `select k.conrelid::regclass::text as table, k.conname as name, pg_get_constraintdef(k.oid) as def
     from pg_constraint k
     where k.contype = 'f' and k.conrelid = any($1::regclass[]) and k.conparentid = 0
     order by 1, 2`,
    [tables],
  );
  for (const fk of foreignKeys) await client.query(`alter table ${fk.table} drop constraint ${pg.escapeIdentifier(fk.name)}`);
  for (const index of indexes) await client.query(`drop index ${index.name}`);
  return { indexes, foreignKeys };
}

/**
 * Row triggers that look other rows up by the deferred indexes: during the
 * load each would scan the table it reads for every row it fires on (the
 * inbox's threading of an inbound answer reads the enrollment's messages), so
 * they are disabled while the tables load and their work is done afterwards,
 * in message order, once the indexes are back.
 */
const DEFERRED_TRIGGERS = [{ table: 'app_public.messages', trigger: '_700_conversation_inbound' }] as const;

async function setDeferredTriggers(client: pg.ClientBase, enabled: boolean): Promise<void> {
  for (const { table, trigger } of DEFERRED_TRIGGERS) {
    await client.query(`alter table ${table} ${enabled ? 'enable' : 'disable'} trigger ${pg.escapeIdentifier(trigger)}`);
  }
}

/** What the disabled conversation trigger would have done: each inbound answer threaded into its conversation. */
async function threadInboundMessages(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `select count(app_private.thread_into_conversation(m.tenant_id, m.id)) as n
     from (select m.tenant_id, m.id from app_public.messages m
           where m.direction = 'inbound' and m.parent_message_id is not null and m.message_type in ('email', 'auto_reply')
           order by m.tenant_id, m.id) m`,
  );
  return Number(rows[0]!.n);
}

/** Re-creates the deferred indexes (spread over the connections) and foreign keys. */
async function restoreIndexesAndKeys(clients: pg.ClientBase[], deferred: Deferred): Promise<void> {
  const queue = [...deferred.indexes];
  await Promise.all(clients.map(async (client) => {
    // pg_get_indexdef() says "ON ONLY" for a partitioned table's index (pg_dump then attaches each
  // partition's index); without ONLY, CREATE INDEX builds the index on every partition too.
  for (let next = queue.shift(); next; next = queue.shift()) await client.query(next.def.replace(/ ON ONLY /, ' ON '));
  }));
  for (const fk of deferred.foreignKeys) {
    await clients[0]!.query(`alter table ${fk.table} add constraint ${pg.escapeIdentifier(fk.name)} ${fk.def}`);
  }
}

function* tenantRows(spec: TableSpec, ds: DatasetPlan, tenants: TenantPlan[], refs: TenantRefs[]) {
  for (const t of tenants) yield* spec.rows(ds, t, refs[t.index]!);
}

export async function loadDataset(ownerUrl: string, ds: DatasetPlan, options: LoadOptions = {}): Promise<LoadResult> {
  const { chunkRows = 50_000, parallel = 2, log = () => undefined } = options;
  const started = performance.now();
  const clients = Array.from({ length: parallel }, () => new pg.Client({ connectionString: ownerUrl, application_name: 'penguinmails-bench-load' }));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    // Each chunk commits on its own; a crash mid-load leaves a database to regenerate, not to repair.
    await Promise.all(clients.map((c) => c.query(`set synchronous_commit = off`)));
    const first = clients[0]!;
    await ensurePartitions(first, ds);
    const setupStart = performance.now();
    const refs = await createTenants(first, ds);
    const tables: TableLoad[] = [
      { table: 'users + tenants (create_user, create_tenant)', rows: refs.length, seconds: (performance.now() - setupStart) / 1000 },
    ];
    log(`  tenants and users: ${refs.length} tenants in ${tables[0]!.seconds.toFixed(1)} s`);
    const groups = balance(ds, parallel).map((indexes) => indexes.map((i) => ds.tenants[i]!));
    const timed = async (table: string, work: () => Promise<number>, unit = 'rows') => {
      const t0 = performance.now();
      const rows = await work();
      const seconds = (performance.now() - t0) / 1000;
      tables.push({ table, rows, seconds });
      const rate = unit === 'rows' ? ` (${Math.round(rows / Math.max(seconds, 1e-3)).toLocaleString('en-US')} rows/s)` : '';
      log(`  ${table}: ${rows.toLocaleString('en-US')} ${unit} in ${seconds.toFixed(1)} s${rate}`);
    };
    const deferred = await deferIndexesAndKeys(first, BULK_TABLES);
    await setDeferredTriggers(first, false);
    for (const spec of TABLES) {
      await timed(spec.table, async () => {
        const counts = await Promise.all(
          groups.map((group, g) => copyRows(clients[g]!, spec.table, spec.columns, tenantRows(spec, ds, group, refs), { chunkRows })),
        );
        return counts.reduce((a, b) => a + b, 0);
      });
    }
    await timed(`indexes (${deferred.indexes.length}) and foreign keys (${deferred.foreignKeys.length}) of the large tables`, async () => {
      await restoreIndexesAndKeys(clients, deferred);
      return deferred.indexes.length + deferred.foreignKeys.length;
    }, 'definitions restored');
    await setDeferredTriggers(first, true);
    await timed('inbound answers threaded into conversations (the deferred trigger\'s work)', () => threadInboundMessages(first), 'messages');
    const t0 = performance.now();
    await first.query('analyze');
    tables.push({ table: 'analyze', rows: 0, seconds: (performance.now() - t0) / 1000 });
    return { refs, tables, seconds: (performance.now() - started) / 1000 };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

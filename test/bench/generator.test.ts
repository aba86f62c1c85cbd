/**
 * The benchmark's data generator, at a tiny scale, so the bench cannot rot
 * silently: the same seed gives the same data (loaded into two databases),
 * another seed gives other data, everything loads through the product's
 * schema with its constraints, indexes and triggers intact, and the
 * analytics rollup the triggers kept during the COPYs equals a rebuild.
 */
import pg from 'pg';
import { checkRollup } from '../../bench/generate/dataset.ts';
import { loadDataset, BULK_TABLES } from '../../bench/generate/load.ts';
import { makePlan, type DatasetOptions } from '../../bench/generate/plan.ts';
import { uuidV7For, uuidV7Time, zipfSizes } from '../../bench/generate/random.ts';
import { TABLES } from '../../bench/generate/rows.ts';
import { isolatedDatabase } from '../helpers/api.ts';

const TINY: DatasetOptions = { seed: 7, tenants: 5, leads: 600, messages: 2_000, anchor: new Date('2025-03-20T12:00:00Z') };

/** Columns that hold ids the database made (tenants, users, workspaces) or that the schema computes from them. */
const DATABASE_MADE = new Set(['tenant_id', 'user_id', 'created_by', 'company_id']);

/** Rows create_tenant made (at the time it ran), not the generator. */
const NOT_GENERATED: Record<string, string> = { 'app_public.tenant_users': "not ('owner' = any (x.roles))" };

/** A digest of every generated table, with tenants named rather than by their (database-made) ids. */
async function fingerprint(client: pg.Client): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const spec of TABLES) {
    const columns = spec.columns.filter((c) => !DATABASE_MADE.has(c)).map((c) => `x.${c}`);
    const { rows } = await client.query<{ digest: string; n: string }>(
      `select md5(string_agg(r::text, E'\\n' order by r::text)) as digest, count(*) as n
       from (select t.name as tenant, ${columns.join(', ')} from ${spec.table} x join app_public.tenants t on t.id = x.tenant_id
             where ${NOT_GENERATED[spec.table] ?? 'true'}) r`,
    );
    out[spec.table] = `${rows[0]!.n}:${rows[0]!.digest}`;
  }
  return out;
}

async function withLoaded<T>(label: string, options: DatasetOptions, fn: (client: pg.Client, result: Awaited<ReturnType<typeof loadDataset>>) => Promise<T>): Promise<T> {
  const db = await isolatedDatabase(label);
  try {
    const plan = makePlan(options);
    const result = await loadDataset(db.urls.owner, plan, { chunkRows: 700, parallel: 2 });
    const client = new pg.Client({ connectionString: db.urls.owner });
    await client.connect();
    try {
      return await fn(client, result);
    } finally {
      await client.end();
    }
  } finally {
    await db.drop();
  }
}

test('UUIDv7 ids carry their time in the layout app_public.uuid_v7 uses', () => {
  const ms = Date.UTC(2025, 2, 20, 12, 34, 56, 789);
  const id = uuidV7For(ms, 1, 2, 3);
  expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(uuidV7Time(id)).toBe(ms);
  expect(id.replace(/-/g, '').slice(0, 12)).toBe(ms.toString(16).padStart(12, '0'));
  expect(uuidV7For(ms, 1, 2, 3)).toBe(id);
  expect(uuidV7For(ms, 1, 2, 4)).not.toBe(id);
});

test('tenant sizes are skewed (a few large, many small) and add up', () => {
  const sizes = zipfSizes(100, 100_000, 1, 20);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(100_000);
  expect(sizes[0]).toBeGreaterThan(15 * sizes[99]!);
  expect(Math.min(...sizes)).toBeGreaterThanOrEqual(20);
  expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
});

test('the same seed loads the same data, another seed other data, with constraints, indexes and the rollup intact', async () => {
  const first = await withLoaded('bench_gen_a', TINY, async (client, result) => {
    // Every generated row is in the database.
    for (const t of result.tables.filter((x) => x.table.startsWith('app_public.'))) {
      const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${t.table}`);
      if (t.table !== 'app_public.tenant_users') expect({ table: t.table, rows: Number(rows[0]!.n) }).toEqual({ table: t.table, rows: t.rows });
    }
    const messages = result.tables.find((t) => t.table === 'app_public.messages')!.rows;
    expect(messages).toBeGreaterThan(1_500);
    expect(result.tables.find((t) => t.table === 'app_public.email_events')!.rows).toBeGreaterThan(500);

    // The deferred indexes and foreign keys of the large tables are back, valid, on every partition.
    const { rows: invalid } = await client.query(`select indexrelid::regclass::text as name from pg_index where not indisvalid`);
    expect(invalid).toEqual([]);
    const { rows: unvalidated } = await client.query(`select conname from pg_constraint where not convalidated`);
    expect(unvalidated).toEqual([]);
    const { rows: partitionIndexes } = await client.query<{ n: string }>(
      `select count(*) as n from pg_index i join pg_inherits h on h.inhrelid = i.indrelid where h.inhparent = 'app_public.messages'::regclass and not i.indisunique`,
    );
    expect(Number(partitionIndexes[0]!.n)).toBeGreaterThan(0);
    const { rows: fks } = await client.query<{ n: string }>(
      `select count(*) as n from pg_constraint where contype = 'f' and conrelid = any($1::regclass[])`, [BULK_TABLES],
    );
    expect(Number(fks[0]!.n)).toBeGreaterThanOrEqual(10);

    // Message ids encode their creation time and state is consistent with the lifecycle.
    const { rows: layout } = await client.query<{ bad: string }>(
      `select count(*) as bad from app_public.messages
       where substr(id::text, 15, 1) <> '7' or substr(id::text, 20, 1) not in ('8', '9', 'a', 'b')
          or created <> app_public.uuid_v7_time(id)
          or (status in ('opened', 'clicked', 'replied') and opened_at is null and replied_at is null)
          or (direction = 'inbound' and parent_message_id is null)`,
    );
    expect(Number(layout[0]!.bad)).toBe(0);

    // The rollup the statement-level triggers kept during the COPYs equals a rebuild.
    const check = await checkRollup(client, result.refs[0]!.tenantId);
    expect(check.campaignDays).toBeGreaterThan(5);
    expect(check.mismatches).toBe(0);
    return fingerprint(client);
  });
  const again = await withLoaded('bench_gen_b', TINY, (client) => fingerprint(client));
  expect(again).toEqual(first);
  const other = await withLoaded('bench_gen_c', { ...TINY, seed: 8 }, (client) => fingerprint(client));
  expect(other['app_public.leads']).not.toEqual(first['app_public.leads']);
  expect(other['app_public.messages']).not.toEqual(first['app_public.messages']);
}, 60_000);

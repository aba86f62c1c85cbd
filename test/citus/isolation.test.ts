/**
 * Tenant isolation on a Citus cluster (npm run test:citus), for every
 * tenant-owned table found in pg_catalog: the guarantees of
 * test/db/tenant-isolation.test.ts, checked the way the cluster runs
 * requests. Two tenants full of demo data are committed first; each check is
 * then one transaction entered as a member (src/server/context.ts), whose
 * policies are evaluated on the worker nodes holding the shards.
 */
import pg from 'pg';
import { populatePlatform, populateTenant, type PopulatedTenant } from '../../src/db/demo-data.ts';
import { createPool, sql } from '../../src/db/pg.ts';
import type { DatabaseUrls } from '../../src/db/database.ts';
import { isolatedDatabase } from '../helpers/api.ts';
import { citusWorkerRootUrls, withDatabase } from '../helpers/test-database.ts';
import { uniqueEmail } from '../helpers/unique.ts';
import { inMemberRequest } from './fixtures.ts';
import { createOwnedTenant } from '../helpers/tenants.ts';

if (citusWorkerRootUrls().length === 0) throw new Error('test/citus/ runs on a Citus cluster: npm run test:citus');

let db: { urls: DatabaseUrls; drop(): Promise<void> };
let root: pg.Client;
let api: pg.Client;
let tables: string[] = [];
let a: PopulatedTenant;
let b: PopulatedTenant;
let removedMemberId: string;

beforeAll(async () => {
  db = await isolatedDatabase('citus-isolation');
  const rootUrl = withDatabase(db.urls.root!, db.urls.databaseName);
  root = new pg.Client({ connectionString: rootUrl });
  await root.connect();
  tables = (
    await root.query(`
      select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id')
      order by 1`)
  ).rows.map((r) => r.relname);
  // Demo data as the seed command writes it (as the owner role: one role per
  // transaction on Citus), committed.
  const pool = createPool({ connectionString: db.urls.owner, bigIntMode: 'string', poolSize: 1 });
  try {
    const tenants: PopulatedTenant[] = [];
    for (const label of ['a', 'b']) {
      const { userId, tenantId } = await createOwnedTenant(pool, `iso-${label}`, { tenantName: `Isolation ${label}` });
      const { ipId } = await pool.tx((tx) => populatePlatform(tx, `citus-isolation-${label}`));
      tenants.push(
        await pool.tx((tx) => populateTenant(tx, { tenantId, ownerId: userId, domain: `${label}-${process.pid}.isolation.example`, ipId })),
      );
    }
    [a, b] = tenants as [PopulatedTenant, PopulatedTenant];
    removedMemberId = await pool.tx(async (tx) => {
      const [member] = await tx.query(sql`select id, email from app_private.create_user(${uniqueEmail('iso-removed')}, 'correct horse battery', null, true)`);
      await tx.query(sql`insert into app_public.tenant_users (tenant_id, user_id, roles, email, deleted_at) values (${a.tenantId}, ${member.id}, '{member}', ${member.email}, now())`);
      return member.id as string;
    });
  } finally {
    await pool.dispose();
  }
  // Grants are a separate line of defence; give them all to isolate RLS.
  for (const name of tables) await root.query(`grant select, insert, update, delete on app_public.${name} to penguinmails_member`);
  api = new pg.Client({ connectionString: db.urls.authenticator });
  await api.connect();
}, 120_000);
afterAll(async () => {
  await api?.end();
  await root?.end();
  await db?.drop();
});

/** One member request (rolled back) on the API role's connection, which serves every request as the API's pool does. */
const asMember = <T>(userId: string, tenantId: string, fn: (c: pg.Client) => Promise<T>): Promise<T> => inMemberRequest(api, userId, tenantId, fn);

/** The error code of a statement (null if it succeeded), and its rows. */
async function attempt(c: pg.Client, text: string, values: unknown[] = []): Promise<{ code: string | null; rows: number; message?: string }> {
  await c.query('savepoint attempt');
  try {
    const result = await c.query(text, values);
    await c.query('release savepoint attempt');
    return { code: null, rows: result.rowCount ?? 0 };
  } catch (e) {
    await c.query('rollback to savepoint attempt');
    return { code: (e as { code?: string }).code ?? 'unknown', rows: 0, message: (e as Error).message };
  }
}

test('the demo data covers every tenant-owned table, for both tenants', async () => {
  const empty: string[] = [];
  for (const name of tables) {
    for (const [label, tenant] of [['A', a], ['B', b]] as const) {
      const { rows: [{ n }] } = await root.query(`select count(*)::int as n from app_public.${name} where tenant_id = $1`, [tenant.tenantId]);
      if (n === 0) empty.push(`${name} (${label})`);
    }
  }
  expect(empty).toEqual([]);
});

test("tenant A's owner cannot read, count, change or delete tenant B's rows in any table", async () => {
  const leaks: string[] = [];
  for (const name of tables) {
    // Soft-deleted rows (deleted_at set) are hidden from members, as they should be.
    const { rows: [{ soft }] } = await root.query(
      `select exists (select 1 from information_schema.columns where table_schema = 'app_public' and table_name = $1 and column_name = 'deleted_at') as soft`,
      [name],
    );
    const { rows: [{ own }] } = await root.query(
      `select count(*)::int as own from app_public.${name} where tenant_id = $1${soft ? ' and deleted_at is null' : ''}`, [a.tenantId]);
    await asMember(a.ownerId, a.tenantId, async (c) => {
      const { rows: [{ total, foreign }] } = await c.query(
        `select count(*)::int as total, count(*) filter (where tenant_id = $1)::int as foreign from app_public.${name}`,
        [b.tenantId],
      );
      if (foreign !== 0 || total !== own) leaks.push(`${name}: sees ${total} rows (${foreign} of B), owns ${own}`);
      const updated = await attempt(c, `update app_public.${name} set tenant_id = tenant_id where tenant_id = $1`, [b.tenantId]);
      const deleted = await attempt(c, `delete from app_public.${name} where tenant_id = $1`, [b.tenantId]);
      if (updated.rows || deleted.rows) leaks.push(`${name}: updated ${updated.rows}, deleted ${deleted.rows} of B's rows`);
    });
  }
  expect(leaks).toEqual([]);
});

test("tenant A's owner cannot insert a row into tenant B or move one of A's rows there", async () => {
  const problems: string[] = [];
  for (const name of tables) {
    const { rows: columns } = await root.query(
      `select a.attname from pg_attribute a
       where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped and a.attgenerated = '' and a.attidentity = ''
       order by a.attnum`,
      [`app_public.${name}`],
    );
    const cols = columns.map((r) => `"${r.attname}"`).join(', ');
    const { rows: [own] } = await root.query(`select to_jsonb(x.*) as row from app_public.${name} x where x.tenant_id = $1 limit 1`, [a.tenantId]);
    await asMember(a.ownerId, a.tenantId, async (c) => {
      // One of A's own rows, copied with B as its tenant (INSERT … VALUES:
      // Citus runs INSERT … SELECT from a function through COPY, which it
      // refuses under RLS before any policy is asked).
      const values = columns.map((r) => `(jsonb_populate_record(null::app_public.${name}, $1::jsonb))."${r.attname}"`).join(', ');
      const insert = await attempt(c, `insert into app_public.${name} (${cols}) values (${values})`, [{ ...own.row, tenant_id: b.tenantId }]);
      if (insert.code !== '42501') problems.push(`${name}: insert into B gave ${insert.code ?? 'success'} ${insert.message ?? ''}`);
      const keys = Object.keys(own.row).includes('id') ? `tenant_id = $2 and id = $3` : null;
      if (keys) {
        const move = await attempt(c, `update app_public.${name} set tenant_id = $1 where ${keys}`, [b.tenantId, a.tenantId, own.row.id]);
        // Refused outright, or no row was even visible to the update (tables members cannot update).
        if (move.code ? move.code !== '42501' && move.code !== '0A000' : move.rows > 0) {
          problems.push(`${name}: moving a row to B gave ${move.code ?? `${move.rows} rows`}`);
        }
      }
    });
  }
  expect(problems).toEqual([]);
});

test('a removed member sees nothing in any table; a forged tenant claim gives nothing', async () => {
  const seen: string[] = [];
  for (const name of tables) {
    for (const [who, userId, tenantId] of [
      ['removed member of A', removedMemberId, a.tenantId],
      ["A's owner claiming B", a.ownerId, b.tenantId],
    ] as const) {
      const n = await asMember(userId, tenantId, async (c) => (await c.query(`select count(*)::int as n from app_public.${name}`)).rows[0].n);
      if (n > 0) seen.push(`${who}: ${n} rows of ${name}`);
    }
  }
  expect(seen).toEqual([]);
});

/**
 * Tenant isolation, for every tenant-owned table found in pg_catalog (so a new
 * table is covered without editing this file): two tenants full of demo data;
 * tenant A's owner can never read, count, change, delete, insert into or point
 * at tenant B's rows, and a removed member sees nothing at all.
 */
import { populatePlatform, populateTenant, type PopulatedTenant } from '../../src/db/demo-data.ts';
import { closeDb, rootDb, TestTx, withTx } from '../helpers/db.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

interface Fk {
  table: string;
  conname: string;
  target: string;
  columns: string[];
  targetColumns: string[];
}

let tenantTables: string[] = [];
let tenantFks: Fk[] = [];

beforeAll(async () => {
  tenantTables = (
    await rootDb().query(sql`
      select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id')
      order by 1
    `)
  ).map((r) => r.relname);
  tenantFks = await rootDb().query(sql`
    select c.conrelid::regclass::text as table, c.conname, c.confrelid::regclass::text as target,
      array(select a.attname from unnest(c.conkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i)::text[] as columns,
      array(select a.attname from unnest(c.confkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i)::text[] as "targetColumns"
    from pg_constraint c join pg_namespace n on n.oid = c.connamespace
    join pg_class r on r.oid = c.conrelid
    where c.contype = 'f' and n.nspname = 'app_public' and not r.relispartition and c.conparentid = 0
      and exists (select 1 from pg_attribute a where a.attrelid = c.confrelid and a.attname = 'tenant_id')
      and exists (select 1 from pg_attribute a where a.attrelid = c.conrelid and a.attname = 'tenant_id')
  `);
});

async function twoTenants(t: TestTx): Promise<{ a: PopulatedTenant; b: PopulatedTenant }> {
  const { tenant: ta, owner: oa } = await t.tenantWithOwner('a');
  const { tenant: tb, owner: ob } = await t.tenantWithOwner('b');
  const { ipId } = await populatePlatform(t.tx, 'isolation');
  const a = await populateTenant(t.tx, { tenantId: ta.id, ownerId: oa.id, domain: 'alpha.example', ipId });
  const b = await populateTenant(t.tx, { tenantId: tb.id, ownerId: ob.id, domain: 'beta.example', ipId });
  return { a, b };
}

const table = (name: string) => sql.ident('app_public', name);

test('the demo data covers every tenant-owned table, for both tenants', async () => {
  await withTx(async (t) => {
    const { a, b } = await twoTenants(t);
    const empty: string[] = [];
    for (const name of tenantTables) {
      for (const tenant of [a, b]) {
        const [{ n }] = await t.query(sql`select count(*)::int as n from ${table(name)} where tenant_id = ${tenant.tenantId}`);
        if (n === 0) empty.push(`${name} (${tenant === a ? 'A' : 'B'})`);
      }
    }
    expect(empty).toEqual([]);
  });
});

test("tenant A cannot read or count tenant B's rows in any table", async () => {
  await withTx(async (t) => {
    const { a, b } = await twoTenants(t);
    const leaks: string[] = [];
    for (const name of tenantTables) {
      const [{ own }] = await t.query(sql`select count(*)::int as own from ${table(name)} where tenant_id = ${a.tenantId}`);
      await t.as({ kind: 'member', userId: a.ownerId, tenantId: a.tenantId });
      const [{ total, foreign }] = await t.query(sql`
        select count(*)::int as total, count(*) filter (where tenant_id = ${b.tenantId})::int as foreign
        from ${table(name)}
      `);
      await t.as({ kind: 'root' });
      if (foreign !== 0 || total > own) leaks.push(`${name}: sees ${total} rows (${foreign} of B), owns ${own}`);
    }
    expect(leaks).toEqual([]);
  });
});

test("tenant A cannot change or delete tenant B's rows, even with every table privilege", async () => {
  await withTx(async (t) => {
    const { a, b } = await twoTenants(t);
    const problems: string[] = [];
    for (const name of tenantTables) {
      // Grants are a separate line of defence; give them all to isolate RLS.
      await t.query(sql`grant select, insert, update, delete on ${table(name)} to penguinmails_member`);
      await t.as({ kind: 'member', userId: a.ownerId, tenantId: a.tenantId });
      const updated = await t.query(sql`update ${table(name)} set tenant_id = tenant_id where tenant_id = ${b.tenantId} returning 1`);
      const deleted = await t.query(sql`delete from ${table(name)} where tenant_id = ${b.tenantId} returning 1`);
      await t.as({ kind: 'root' });
      if (updated.length || deleted.length) problems.push(`${name}: updated ${updated.length}, deleted ${deleted.length} of B's rows`);
    }
    expect(problems).toEqual([]);
  });
});

test('tenant A cannot insert rows into tenant B or move its own rows there, even with every table privilege', async () => {
  await withTx(async (t) => {
    const { a, b } = await twoTenants(t);
    const problems: string[] = [];
    for (const name of tenantTables) {
      const columns: string[] = (
        await t.query(sql`
          select a.attname from pg_attribute a
          where a.attrelid = ${'app_public.' + name}::regclass and a.attnum > 0 and not a.attisdropped
            and a.attgenerated = '' and a.attidentity = ''
          order by a.attnum
        `)
      ).map((r) => r.attname);
      const cols = sql.join(columns.map((c) => sql.ident(c)), sql`, `);
      await t.query(sql`grant select, insert, update on ${table(name)} to penguinmails_member`);
      await t.as({ kind: 'member', userId: a.ownerId, tenantId: a.tenantId });
      // One of A's own rows, copied with B as its tenant.
      const insert = await t.attempt(sql`
        insert into ${table(name)} (${cols})
        select ${cols} from jsonb_populate_record(
          null::${table(name)},
          (select to_jsonb(x.*) || jsonb_build_object('tenant_id', ${b.tenantId}::uuid) from ${table(name)} x limit 1)
        )
      `);
      const move = await t.attempt(sql`
        update ${table(name)} set tenant_id = ${b.tenantId}
        where ctid = (select ctid from ${table(name)} where tenant_id = ${a.tenantId} limit 1)
        returning 1
      `);
      await t.as({ kind: 'root' });
      // Refused outright (42501), or -- for tables members cannot update at
      // all -- no row was even visible to the update.
      if (insert.error?.code !== '42501') problems.push(`${name}: insert into B gave ${insert.error?.code ?? 'success'}`);
      if (move.error ? move.error.code !== '42501' : move.rows.length > 0) {
        problems.push(`${name}: moving a row to B gave ${move.error?.code ?? `${move.rows.length} rows`}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

test("no row can reference another tenant's row, even inserted by hand as the superuser", async () => {
  await withTx(async (t) => {
    const { a, b } = await twoTenants(t);
    expect(tenantFks.length).toBeGreaterThan(40);
    const problems: string[] = [];
    for (const fk of tenantFks) {
      const targetName = fk.target.replace('app_public.', '');
      const sourceName = fk.table.replace('app_public.', '');
      const [targetRow] = await t.query(sql`
        select to_jsonb(x.*) as row from ${table(targetName)} x where x.tenant_id = ${b.tenantId} limit 1
      `);
      const ownColumn = fk.columns.find((c) => c !== 'tenant_id')!;
      const [sourceRow] = await t.query(sql`
        select ctid::text from ${table(sourceName)} where tenant_id = ${a.tenantId} and ${sql.ident(ownColumn)} is not null limit 1
      `);
      if (!targetRow || !sourceRow) {
        problems.push(`${fk.table}.${fk.conname}: no demo rows to test with`);
        continue;
      }
      const assignments = fk.columns
        .map((col, i) => ({ col, value: targetRow.row[fk.targetColumns[i]] }))
        .filter(({ col }) => col !== 'tenant_id')
        .map(({ col, value }) => sql`${sql.ident(col)} = ${value}`);
      const error = await t.error(sql`
        update ${table(sourceName)} set ${sql.join(assignments, sql`, `)} where ctid = ${sourceRow.ctid}::tid
      `);
      if (error.code !== '23503') problems.push(`${fk.table}.${fk.conname}: expected a foreign key violation, got ${error.code} ${error.message}`);
    }
    expect(problems).toEqual([]);
  });
});

test('a removed member loses access to every table at once; a forged tenant claim gives nothing', async () => {
  await withTx(async (t) => {
    const { a, b } = await twoTenants(t);
    const member = await t.createUser('soon-gone@example.com');
    await t.addMember(a.tenantId, member.id, ['member']);
    const before = await visibleCounts(t, member.id, a.tenantId);
    expect(before.leads).toBeGreaterThan(0);

    await t.query(sql`update app_public.tenant_users set deleted_at = now() where tenant_id = ${a.tenantId} and user_id = ${member.id}`);
    const after = await visibleCounts(t, member.id, a.tenantId);
    expect(Object.entries(after).filter(([, n]) => n > 0)).toEqual([]);

    // A's owner presenting B's tenant id (a forged or stale token) sees nothing of B.
    const forged = await visibleCounts(t, a.ownerId, b.tenantId);
    expect(Object.entries(forged).filter(([, n]) => n > 0)).toEqual([]);
  });
});

async function visibleCounts(t: TestTx, userId: string, tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const name of tenantTables) {
    await t.as({ kind: 'member', userId, tenantId });
    const [{ n }] = await t.query(sql`select count(*)::int as n from ${table(name)}`);
    counts[name] = n;
  }
  await t.as({ kind: 'root' });
  return counts;
}

/**
 * Upgrades: for each committed migration but the last, a database built from
 * the committed migrations up to it (a copy of one database carried up step by
 * step), holding data the first schema accepted
 * and the migrations since carried along (test/db/upgrade/*.sql: soft-deleted users and memberships, paused and
 * cancelled campaigns, failed and running imports, inbound mail, won and lost
 * deals, and the rows a later migration must repair), is migrated to the
 * current schema the way `npm start` and `npm run db:migrate` do it
 * (migrateDatabase: the remaining migrations, graphile-worker's schema,
 * functions/ and policies/). Then:
 *
 * - its schema is the same, object by object, as a fresh build's (the test
 *   database, cloned from the template), so every catalogue and isolation
 *   property the other suites prove of a fresh build holds for it;
 * - every constraint is validated;
 * - no row was lost, and what a migration repairs is repaired as it says.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrate } from 'graphile-migrate';
import type { DatabaseUrls } from '../../src/db/database.ts';
import { migrateDatabase, migrateSettings, releaseMigratePools } from '../../src/db/migrate.ts';
import { createPool, sql, type ConnectionPool } from '../../src/db/pg.ts';
import { baseTestUrls, closeDb, rootDb } from '../helpers/db.ts';
import { fingerprintDiff, schemaFingerprint } from '../helpers/schema-fingerprint.ts';
import { copyDatabase, createEmptyDatabase, dropDatabase } from '../helpers/test-database.ts';

const COMMITTED = path.join(process.cwd(), 'migrations', 'committed');
const migrations = readdirSync(COMMITTED).filter((f) => /^\d{6}.*\.sql$/.test(f)).sort();
const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'upgrade', name), 'utf8');

let fresh: string[];
/**
 * The ladder: one database holding the fixture's data, built with 000001 and
 * then carried up one committed migration at a time. Each step below upgrades
 * a copy of it, so the earlier migrations run once, not once per step.
 */
const ladder = `penguinmails_upgrade_ladder_${process.pid}`;
let ladderUrls: DatabaseUrls;
beforeAll(async () => {
  fresh = await schemaFingerprint(rootDb());
  // A fingerprint that read nothing would make every comparison pass.
  expect(fresh.length).toBeGreaterThan(1000);
  ladderUrls = await createEmptyDatabase(baseTestUrls(), ladder);
  // The fixtures are written against 000001's schema (later migrations
  // rename columns): loaded there, then carried up by the committed
  // migrations themselves.
  await buildUpTo(ladderUrls, 1);
  const db = createPool({ connectionString: ladderUrls.owner, bigIntMode: 'string', poolSize: 1 });
  try {
    await db.query(sql.__dangerous__rawValue(fixture('edge-states.sql')));
  } finally {
    await db.dispose();
  }
}, 60_000);
afterAll(async () => {
  await dropDatabase(baseTestUrls(), ladder);
  await closeDb();
});

/** Builds `name` from the first `count` committed migrations only (no functions/ or policies/ yet). */
async function buildUpTo(urls: DatabaseUrls, count: number): Promise<void> {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'penguinmails-upgrade-'));
  try {
    mkdirSync(path.join(folder, 'committed'));
    for (const file of migrations.slice(0, count)) copyFileSync(path.join(COMMITTED, file), path.join(folder, 'committed', file));
    await migrate({ ...migrateSettings(urls, true), migrationsFolder: folder, afterAllMigrations: [] }, false, false);
  } finally {
    releaseMigratePools();
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Rows per table of the application's schemas. */
async function rowCounts(db: ConnectionPool): Promise<Record<string, number>> {
  const tables = await db.query(sql`
    select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('app_public', 'app_private') and c.relkind in ('r', 'p') and not c.relispartition order by 1`);
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await db.query(sql`select count(*)::int as n from ${sql.__dangerous__rawValue(name)}`);
    counts[name] = row.n;
  }
  return counts;
}

describe.each(migrations.slice(0, -1).map((file, i) => [file.slice(0, 6), i + 1] as const))('from %s', (label, count) => {
  const name = `penguinmails_upgrade_${label}_${process.pid}`;
  let urls: DatabaseUrls;
  let owner: ConnectionPool;
  let before: Record<string, number>;

  beforeAll(async () => {
    // Steps run in order: the ladder is at count - 1 and takes one more migration.
    if (count > 1) await buildUpTo(ladderUrls, count);
    urls = await copyDatabase(baseTestUrls(), name, ladder);
    owner = createPool({ connectionString: urls.owner, bigIntMode: 'string', poolSize: 2 });
    if (count === 1) await owner.query(sql.__dangerous__rawValue(fixture('before-000002.sql')));
    before = await rowCounts(owner);
    await migrateDatabase(urls, { quiet: true });
  }, 120_000);

  afterAll(async () => {
    await owner?.dispose();
    await dropDatabase(baseTestUrls(), name);
  });

  test('the schema is the same as a fresh build, object by object', async () => {
    expect(fingerprintDiff(fresh, await schemaFingerprint(owner))).toEqual([]);
  });

  test('every constraint is validated', async () => {
    const notValid = await owner.query(sql`
      select conrelid::regclass::text as relation, conname from pg_constraint c join pg_namespace n on n.oid = c.connamespace
      where n.nspname in ('app_public', 'app_private', 'app_hidden') and not c.convalidated`);
    expect(notValid).toEqual([]);
  });

  test('no row is lost', async () => {
    const after = await rowCounts(owner);
    // The one deletion a migration makes on purpose: add-ons of the storage
    // quota that never existed (migrations/current/3-plan-features.sql).
    const deleted: Record<string, number> = { 'app_public.subscription_addons': 1 };
    const lost = Object.entries(before).filter(([table, n]) => (after[table] ?? 0) < n - (deleted[table] ?? 0));
    expect(lost).toEqual([]);
    const addons = await owner.query(sql`select id, addon_type from app_public.subscription_addons order by id`);
    expect(addons).toEqual([{ id: '00000000-0000-4000-8000-000000001401', addon_type: 'max_contacts' }]);
    // The fixture's rows themselves, by table.
    for (const table of ['app_public.users', 'app_public.tenant_users', 'app_public.campaigns', 'app_public.messages', 'app_public.email_events', 'app_public.deals']) {
      expect(after[table]).toBe(before[table]);
    }
    const [soft] = await owner.query(sql`
      select (select deleted_at is not null from app_public.users where id = '00000000-0000-4000-8000-000000000003') as user_deleted,
             (select status from app_public.campaigns where id = '00000000-0000-4000-8000-000000000903') as paused,
             (select count(*)::int from app_public.messages where tenant_id = '00000000-0000-4000-8000-000000000101') as messages`);
    expect(soft).toEqual({ user_deleted: true, paused: 'paused', messages: 4 });
    // A Google inbox above Google's per-mailbox limit is brought down to it (email_accounts_provider_daily_cap).
    const [google] = await owner.query(sql`select daily_limit from app_public.email_accounts where id = '00000000-0000-4000-8000-000000000403'`);
    expect(google.daily_limit).toBe(2000);
  });

  if (count === 1) {
    test('000002 repairs what 000001 allowed and its constraints refuse', async () => {
      const [failed] = await owner.query(sql`select status, failure_reason, errors from app_public.lead_imports where id = '00000000-0000-4000-8000-000000000703'`);
      expect(failed.status).toBe('failed');
      expect(failed.failure_reason).toMatch(/failed before this platform recorded why/);
      expect(failed.errors).toEqual([{ row: 2, message: 'bad email' }]);

      const domains = await owner.query(sql`
        select id, verification_status, dns_records, dns_verification_error from app_public.domains
        where id in ('00000000-0000-4000-8000-000000000303', '00000000-0000-4000-8000-000000000304') order by id`);
      expect(domains[0].verification_status).toBe('verifying');
      expect(domains[0].dns_records).toEqual({
        records: [{ record_type: 'SPF', name: '@', value: 'v=spf1 -all', ttl: 3600, verification_status: 'verified', verification_attempts: 1 }],
      });
      expect(domains[0].dns_verification_error).toMatch(/removed 2 DNS record entries/);
      expect(domains[1].dns_records).toEqual({ records: [] });
      expect(domains[1].dns_verification_error).toMatch(/removed 1 DNS record entries/);
      // A domain whose document was valid is untouched.
      const [valid] = await owner.query(sql`select verification_status, dns_verification_error from app_public.domains where id = '00000000-0000-4000-8000-000000000301'`);
      expect(valid).toEqual({ verification_status: 'verified', dns_verification_error: null });
    });
  }
});

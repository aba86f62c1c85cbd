/**
 * `npm run db:seed`: a demo installation with two tenants full of realistic
 * data, a member of each role and a staff user. Safe to run twice.
 *
 *   alice@acme.test / penguins-demo-1     owner of Acme Outbound
 *   bob@globex.test / penguins-demo-1     owner of Globex Growth, admin at Acme
 *   vera@acme.test  / penguins-demo-1     viewer at Acme
 *   staff@penguinmails.test / penguins-demo-1   platform superadmin
 */
import { readEnv } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { populatePlatform, populateTenant } from '../db/demo-data.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { createPool, sql } from '../db/pg.ts';
import { helpOnRequest } from './usage.ts';

helpOnRequest(`
Usage: npm run db:seed

Migrates the database (embedded, or DATABASE_URL) and adds two demo
organisations with members of every role and a staff user (password
penguins-demo-1): alice@acme.test, bob@globex.test, vera@acme.test,
staff@penguinmails.test. Safe to run twice.
`);

const PASSWORD = 'penguins-demo-1';
const env = readEnv();
const db = await openDatabase(env);
let exitCode = 0;
try {
  await migrateDatabase(db.urls, { quiet: true });
  const pool = createPool({ connectionString: db.urls.owner, bigIntMode: 'string' });
  try {
    await pool.tx(async (tx) => {
      const [existing] = await tx.query(sql`select 1 from app_public.users where email = 'alice@acme.test'`);
      if (existing) {
        console.log('Demo data already present (alice@acme.test exists).');
        return;
      }
      const user = async (email: string, name: string) =>
        (await tx.query(sql`select id from app_private.create_user(${email}, ${PASSWORD}, ${name}, true)`))[0].id as string;
      const alice = await user('alice@acme.test', 'Alice Martin');
      const bob = await user('bob@globex.test', 'Bob Chen');
      const vera = await user('vera@acme.test', 'Vera Viewer');
      const staff = await user('staff@penguinmails.test', 'Sam Staff');
      const tenant = async (name: string, owner: string, plan: string) =>
        (await tx.query(sql`select id from app_private.create_tenant(${name}, ${owner}, ${plan})`))[0].id as string;
      const acme = await tenant('Acme Outbound', alice, 'pro');
      const globex = await tenant('Globex Growth', bob, 'starter');
      await tx.query(sql`
        insert into app_public.tenant_users (tenant_id, user_id, roles, email)
        values (${acme}, ${bob}, '{admin}', 'bob@globex.test'), (${acme}, ${vera}, '{viewer}', 'vera@acme.test')
      `);
      await tx.query(sql`insert into app_public.staff_members (user_id, role_id) select ${staff}, id from app_public.staff_roles where name = 'superadmin'`);
      const { ipId } = await populatePlatform(tx, 'demo');
      await populateTenant(tx, { tenantId: acme, ownerId: alice, domain: 'acme-outbound.test', leadCount: 200, ipId });
      await populateTenant(tx, { tenantId: globex, ownerId: bob, domain: 'globex-growth.test', leadCount: 50, ipId });
      console.log(`Demo data created in ${db.urls.databaseName}. Sign in as alice@acme.test, bob@globex.test, vera@acme.test or staff@penguinmails.test (password ${PASSWORD}).`);
    });
  } finally {
    await pool.dispose();
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  exitCode = 1;
} finally {
  await db.close();
}
process.exit(exitCode);

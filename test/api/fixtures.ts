/**
 * Fixtures shared by the API suites: tenants full of demo data (every table),
 * members with a given role, and sessions obtained the way clients get them
 * (login over HTTP) or minted with the server's own token service.
 */
import { populatePlatform, populateTenant } from '../../src/db/demo-data.ts';
import { putTenantOnPlan } from '../helpers/billing.ts';
import { type TestApi } from '../helpers/api.ts';
import { createOwnedTenant, TEST_PASSWORD } from '../helpers/tenants.ts';
import { sql } from '../../src/db/pg.ts';
import { uniqueEmail } from '../helpers/unique.ts';

export const PASSWORD = TEST_PASSWORD;

export interface Member {
  userId: string;
  email: string;
  tenantId: string;
  token: string;
}

export interface DemoTenant extends Member {
  /** Ids of the demo rows, by role (see src/db/demo-data.ts). */
  ids: Record<string, string>;
}

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { jwtToken } }`;

/** Signs in over HTTP, into the given tenant. */
export async function login(t: TestApi, email: string, tenantId: string, password = PASSWORD): Promise<string> {
  const data = await t.ok(LOGIN, { input: { email, password, tenantId } });
  return data.login.jwtToken as string;
}

/** A user created directly in the database (app_private.create_user). */
export async function createUser(t: TestApi, label: string): Promise<{ userId: string; email: string }> {
  const email = uniqueEmail(label);
  const [user] = await t.owner.query(sql`select id from app_private.create_user(${email}, ${PASSWORD}, ${`User ${label}`}, true)`);
  return { userId: user.id, email };
}

/** A tenant on the given plan with its owner signed in. */
export async function ownedTenant(t: TestApi, label: string, plan = 'pro'): Promise<Member> {
  const { userId, email, tenantId } = await createOwnedTenant(t.owner, label, { plan, ownerName: `User ${label}` });
  return { userId, email, tenantId, token: await login(t, email, tenantId) };
}

const platforms = new WeakMap<TestApi, Promise<{ ipId: string }>>();

/** A Pro tenant whose owner is signed in, with a row in every tenant table. */
export async function demoTenant(t: TestApi, label: string, domain: string): Promise<DemoTenant> {
  if (!platforms.has(t)) platforms.set(t, populatePlatform(t.owner, `api-${label}`));
  const { ipId } = await platforms.get(t)!;
  const owner = await ownedTenant(t, label);
  const { ids } = await populateTenant(t.owner, { tenantId: owner.tenantId, ownerId: owner.userId, domain, ipId });
  return { ...owner, ids };
}

/** A new member of a tenant with the given roles, signed in to it. */
export async function memberWithRoles(t: TestApi, tenantId: string, roles: string[], label = roles.join('-')): Promise<Member> {
  const { userId, email } = await createUser(t, label);
  await t.owner.query(sql`
    insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${tenantId}, ${userId}, ${roles}, ${email})
  `);
  return { userId, email, tenantId, token: await login(t, email, tenantId) };
}

export { putTenantOnPlan };

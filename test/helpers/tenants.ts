/**
 * The one way tests make "a tenant with its owner": a confirmed user
 * (app_private.create_user) who creates the tenant on a plan
 * (app_private.create_tenant), as the platform does on sign-up. Callers add
 * what they need on top (a session, members, senders).
 */
import { sql, type Queryable } from '../../src/db/pg.ts';
import { uniqueEmail } from './unique.ts';

export const TEST_PASSWORD = 'correct horse battery';

export interface OwnedTenant {
  tenantId: string;
  userId: string;
  email: string;
}

export async function createOwnedTenant(
  db: Queryable,
  label: string,
  { plan = 'pro', email = uniqueEmail(label), password = TEST_PASSWORD, tenantName = `Org ${label}`, ownerName = `Owner ${label}` }:
    { plan?: string; email?: string; password?: string | null; tenantName?: string; ownerName?: string } = {},
): Promise<OwnedTenant> {
  const [user] = await db.query(sql`select id from app_private.create_user(${email}, ${password}, ${ownerName}, true)`);
  const [tenant] = await db.query(sql`select id from app_private.create_tenant(${tenantName}, ${user.id}, ${plan})`);
  return { tenantId: tenant.id, userId: user.id, email };
}

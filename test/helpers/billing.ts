/**
 * Billing fixtures: put a tenant on a plan, give it an add-on, read its
 * usage. Plan limits are enforced by the database, so a test that needs more
 * than the Free plan allows (registerUser creates Free tenants: 1 member, 1
 * domain, 1 inbox, 500 contacts) moves its tenant to a bigger plan first:
 *
 *   const owner = await registerUser(t, 'org');
 *   await putTenantOnPlan(t.owner, owner.tenantId, 'pro');
 */
import { sql, type Queryable } from '../../src/db/pg.ts';

/** Moves the tenant's current subscription (and open usage period) to a plan, as staff would. */
export async function putTenantOnPlan(db: Queryable, tenantId: string, planSlug: string): Promise<void> {
  const rows = await db.query(sql`
    update app_public.subscriptions s set plan_id = p.id, pending_plan_id = null
    from app_public.plans p
    where p.slug = ${planSlug} and s.tenant_id = ${tenantId} and s.status <> 'canceled'
    returning s.id
  `);
  if (rows.length !== 1) throw new Error(`tenant ${tenantId} has no current subscription, or there is no plan "${planSlug}"`);
  await db.query(sql`
    update app_public.usage_periods set plan_id = (select id from app_public.plans where slug = ${planSlug})
    where tenant_id = ${tenantId} and closed_at is null
  `);
}

/** Adds an active add-on raising one limit (addon_type is the plan column, e.g. max_domains). */
export async function addAddon(db: Queryable, tenantId: string, addonType: string, quantity: number): Promise<void> {
  await db.query(sql`
    insert into app_public.subscription_addons (tenant_id, subscription_id, addon_type, quantity)
    select tenant_id, id, ${addonType}, ${quantity} from app_public.subscriptions
    where tenant_id = ${tenantId} and status <> 'canceled'
  `);
}

export interface UsageRow {
  metric: string;
  used: number;
  limit: number | null;
  plan: string;
}

/** The tenant's usage per metric, as current_usage() reports it (read as the owner role). */
export async function usageOf(db: Queryable, tenantId: string): Promise<Record<string, UsageRow>> {
  const rows = await db.query(sql`select * from app_private.tenant_usage(${tenantId})`);
  return Object.fromEntries(
    rows.map((r) => [r.metric, { metric: r.metric, used: Number(r.used), limit: r.limit === null ? null : Number(r.limit), plan: r.plan }]),
  );
}

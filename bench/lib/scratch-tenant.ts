/**
 * Tenants a figure creates for itself (a sender, an importer) through the
 * product's functions, and removes afterwards so the generated data set
 * stays as it was for the next run.
 */
import type pg from 'pg';

/** A pool or a single connection (e.g. inside a transaction that will be rolled back). */
export type Queryable = Pick<pg.ClientBase, 'query'>;

export interface ScratchTenant {
  tenantId: string;
  userId: string;
  email: string;
}

export async function createScratchTenant(owner: Queryable, label: string, plan = 'enterprise'): Promise<ScratchTenant> {
  const email = `${label}-${process.pid.toString(36)}${Date.now().toString(36)}@scratch.bench.example`;
  const { rows: [user] } = await owner.query<{ id: string }>(`select (app_private.create_user($1, null, $2, true)).id`, [email, `Bench ${label}`]);
  const { rows: [tenant] } = await owner.query<{ id: string }>(`select (app_private.create_tenant($1, $2, $3)).id`, [`Bench ${label} ${email.split('@')[0]}`, user!.id, plan]);
  return { tenantId: tenant!.id, userId: user!.id, email };
}

/**
 * Deletes the tenant and everything it owns (events, messages and
 * enrollments first: they do not cascade from campaigns) and its pending
 * sequence jobs. Returns an
 * error message instead of throwing, so a failed clean-up is reported, not fatal.
 */
export async function removeScratchTenant(owner: pg.Pool, tenant: ScratchTenant): Promise<string | null> {
  const client = await owner.connect();
  try {
    await client.query('begin');
    // Pending sequence jobs are keyed by enrollment; the worker that would run them has stopped.
    await client.query(`select graphile_worker.remove_job('campaign_step:' || id) from app_public.campaign_enrollments where tenant_id = $1`, [tenant.tenantId]);
    await client.query(`delete from app_public.email_events where tenant_id = $1`, [tenant.tenantId]);
    await client.query(`delete from app_public.messages where tenant_id = $1`, [tenant.tenantId]);
    await client.query(`delete from app_public.campaign_enrollments where tenant_id = $1`, [tenant.tenantId]);
    await client.query(`delete from app_public.campaigns where tenant_id = $1`, [tenant.tenantId]);
    await client.query(`delete from app_public.tenants where id = $1`, [tenant.tenantId]);
    await client.query(`delete from app_public.users where id = $1`, [tenant.userId]);
    await client.query('commit');
    return null;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    return `could not remove scratch tenant ${tenant.tenantId}: ${(error as Error).message}`;
  } finally {
    client.release();
  }
}

/** Tenants for the Citus suites, committed with triggers off (as cluster.test.ts does), and a token for their owner. */
import pg from 'pg';
import type { TestApi } from '../helpers/api.ts';
import { ENTER_REQUEST_SQL } from '../../src/server/context.ts';

export interface Seeded {
  tenantId: string;
  token: string;
  leadEmails: string[];
  campaignId: string;
}

/** A tenant with an owner, three leads and a two-step campaign, committed with triggers off. */
export async function seedTenant(root: pg.Client, t: TestApi, label: string): Promise<Seeded> {
  await root.query('begin');
  await root.query('set local session_replication_role = replica');
  const { rows: [row] } = await root.query(
    `
    with u as (insert into app_public.users (email) values ($1) returning id, email),
    tn as (insert into app_public.tenants (name) values ($2) returning id),
    m as (insert into app_public.tenant_users (tenant_id, user_id, roles, email) select tn.id, u.id, '{owner}', u.email from tn, u returning 1),
    l as (
      insert into app_public.leads (tenant_id, email, first_name, status)
      select tn.id, format('%s-%s@example.com', $2::text, n), format('Lead %s', n), case when n = 3 then 'unsubscribed' else 'active' end
      from tn, generate_series(1, 3) n returning 1
    ),
    tp as (insert into app_public.templates (tenant_id, name, subject) select tn.id, 'Intro', 'Hello' from tn returning id, tenant_id),
    c as (insert into app_public.campaigns (tenant_id, name) select tn.id, $2 from tn returning id, tenant_id),
    s as (
      insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, template_id)
      select c.tenant_id, c.id, n, 'email', tp.id from c, tp, generate_series(1, 2) n returning 1
    )
    select (select id from u) as user_id, (select id from tn) as tenant_id, (select id from c) as campaign_id,
      (select count(*) from l) + (select count(*) from s) + (select count(*) from m) as written
    `,
    [`${label}-${process.pid}@citus.example`, label],
  );
  await root.query('commit');
  const token = await t.session({
    role: 'member',
    user_id: row.user_id,
    tenant_id: row.tenant_id,
    expires_at: new Date(Date.now() + 3600_000),
  });
  return { tenantId: row.tenant_id, token, campaignId: row.campaign_id, leadEmails: [1, 2, 3].map((n) => `${label}-${n}@example.com`) };
}

/**
 * Runs fn in one transaction on `client` (a connection of the API's login
 * role) entered as a member, as an API request is (src/server/context.ts);
 * always rolled back.
 */
export async function inMemberRequest<T>(client: pg.Client, userId: string, tenantId: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  try {
    await client.query('begin');
    await client.query(`select set_config('role', 'penguinmails_member', true)`);
    await client.query(ENTER_REQUEST_SQL, [userId, tenantId]);
    return await fn(client);
  } finally {
    await client.query('rollback').catch(() => undefined);
  }
}

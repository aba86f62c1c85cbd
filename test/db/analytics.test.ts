/**
 * Campaign and tenant statistics come from rollups kept by statement-level
 * triggers; they must agree with the raw message store at every step.
 */
import { populatePlatform, populateTenant } from '../../src/db/demo-data.ts';
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

async function rollupMatchesRebuild(t: TestTx, tenantId: string) {
  const read = () =>
    t.query(sql`
      select campaign_id, day, sum(sent)::int sent, sum(delivered)::int delivered, sum(opened)::int opened, sum(clicked)::int clicked,
             sum(replied)::int replied, sum(bounced)::int bounced, sum(unsubscribed)::int unsubscribed, sum(opens_total)::int opens_total
      from app_public.campaign_stats_daily where tenant_id = ${tenantId} group by 1, 2 order by 1, 2
    `);
  const incremental = await read();
  await t.query(sql`select app_private.rebuild_campaign_stats(${tenantId})`);
  expect(await read()).toEqual(incremental);
  return incremental;
}

test('statistics follow bulk inserts and status changes, and equal a rebuild from the raw messages', async () => {
  await withTx(async (t) => {
    const { tenant, owner } = await t.tenantWithOwner('stats');
    const { ipId } = await populatePlatform(t.tx, 'stats');
    const { ids } = await populateTenant(t.tx, { tenantId: tenant.id, ownerId: owner.id, domain: 'stats.example', ipId });
    // 1,000 messages sent over three days in one statement, a fifth opened, every 50th bounced.
    await t.query(sql`
      insert into app_public.messages (tenant_id, id, direction, status, campaign_id, lead_id, to_email, sent_at, opened_at, bounced_at)
      select ${tenant.id}, app_public.uuid_v7(now() - (g % 3) * interval '1 day'), 'outbound',
             case when g % 50 = 0 then 'bounced' when g % 5 = 0 then 'opened' else 'sent' end,
             ${ids.campaign}, ${ids.lead2}, 'x' || g || '@example.com',
             now() - (g % 3) * interval '1 day',
             case when g % 5 = 0 and g % 50 <> 0 then now() - (g % 3) * interval '1 day' end,
             case when g % 50 = 0 then now() - (g % 3) * interval '1 day' end
      from generate_series(1, 1000) g
    `);
    await rollupMatchesRebuild(t, tenant.id);
    // Events through the one official path.
    const [{ id: messageId }] = await t.query(sql`
      select id from app_public.messages where tenant_id = ${tenant.id} and status = 'sent' and campaign_id = ${ids.campaign} limit 1
    `);
    for (const type of ['open', 'open', 'click', 'reply']) {
      await t.query(sql`select app_private.record_email_event(${tenant.id}, ${messageId}, ${type})`);
    }
    await rollupMatchesRebuild(t, tenant.id);

    await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
    const [{ stats }] = await t.query(sql`select to_jsonb(app_public.campaigns_stats(c)) as stats from app_public.campaigns c where c.id = ${ids.campaign}`);
    // populateTenant's own message (sent, delivered, opened, clicked via events, replied) plus the 1,000.
    expect(stats).toMatchObject({ sent: 1001, bounced: 20, opened: 1 + 180 + 1, clicked: 1, replied: 2 });
    expect(Number(stats.bounce_rate)).toBeCloseTo(20 / 1001, 4);
    expect(Number(stats.open_rate)).toBeCloseTo(182 / 1001, 4);
    const [{ tenant_stats }] = await t.query(sql`select to_jsonb(app_public.tenant_stats()) as tenant_stats`);
    expect(tenant_stats.sent).toBe(1001);
    const days = await t.query(sql`select day, sent from app_public.daily_stats(${ids.campaign})`);
    expect(days).toHaveLength(3);
    expect(days.reduce((n, d) => n + Number(d.sent), 0)).toBe(1001);
  });
});

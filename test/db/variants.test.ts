/**
 * A/B variants: app_hidden.choose_variant picks a step's variant by weight,
 * the same one for a lead every time, and the member's view agrees with the
 * engine's.
 */
import { randomUUID } from 'node:crypto';
import { closeDb, withTx } from '../helpers/db.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

test('A/B variants are chosen by weight and stay the same for a lead', async () => {
  await withTx(async (t) => {
    const { tenant, owner } = await t.tenantWithOwner('variants');
    const [campaign] = await t.query(sql`insert into app_public.campaigns (tenant_id, name) values (${tenant.id}, 'AB') returning id`);
    const [template] = await t.query(sql`insert into app_public.templates (tenant_id, name, subject, content) values (${tenant.id}, 'T', 's', 'c') returning id`);
    const [step] = await t.query(sql`
      insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, template_id)
      values (${tenant.id}, ${campaign.id}, 1, 'email', ${template.id}) returning id
    `);
    await t.query(sql`
      insert into app_public.campaign_step_variants (tenant_id, step_id, label, subject, weight)
      values (${tenant.id}, ${step.id}, 'A', 'Subject A', 1), (${tenant.id}, ${step.id}, 'B', 'Subject B', 3)
    `);
    const pick = () => t.query(sql`
      select v.label, count(*)::int as n
      from generate_series(1, 2000) g
      cross join lateral (select md5(g::text)::uuid as lead_id) l
      join app_public.campaign_step_variants v on v.id = app_hidden.choose_variant(${tenant.id}, ${step.id}, l.lead_id)
      group by v.label order by v.label
    `);
    const first = await pick();
    expect(first.map((r) => r.label)).toEqual(['A', 'B']);
    const shareB = first[1].n / 2000;
    expect(shareB).toBeGreaterThan(0.71);
    expect(shareB).toBeLessThan(0.79);
    expect(await pick()).toEqual(first);

    // The member's view (under RLS) agrees with the engine's.
    const lead = randomUUID();
    const [engine] = await t.query(sql`select app_hidden.choose_variant(${tenant.id}, ${step.id}, ${lead}) as id`);
    await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
    const [member] = await t.query(sql`select app_hidden.choose_variant(${tenant.id}, ${step.id}, ${lead}) as id`);
    expect(member.id).toBe(engine.id);
  });
});

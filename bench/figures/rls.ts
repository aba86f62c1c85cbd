/**
 * Figure 3 — RLS overhead: the same queries as a tenant member under
 * row-level security (role, user and tenant set the way the API sets them)
 * and as the owner (BYPASSRLS) with an explicit tenant_id filter, in the
 * same transaction shape, one at a time and taking turns. The ratio (RLS / owner) should be
 * close to 1.0. Every query's plan is recorded for both personas, plus the
 * plan of PostGraphile's own nested query (its batched lookups:
 * json_array_elements … with ordinality + lateral join, graphile/crystal#3041).
 */
import { captureStatements, mainStatement } from '../lib/capture.ts';
import type { BenchContext } from '../lib/context.ts';
import { compare, type Comparison, type FigureResult, type Measurement } from '../lib/report.ts';
import { apiLikePool, explainAnalyze, inRequest, runStatements, statementResult, type PlanSummary, type Statement } from '../lib/sql.ts';
import { timeInterleaved, timeSequential } from '../lib/stats.ts';

interface Pair {
  key: string;
  label: string;
  /** As a member: RLS supplies the tenant. */
  member: Statement;
  /** As the owner: the tenant is an explicit filter. */
  owner: Statement;
}

function pairs(tenantId: string, campaignId: string): Pair[] {
  const leadColumns = 'l.id, l.email, l.first_name, l.last_name, l.company, l.title, l.status, l.created, l.custom_fields';
  const nested = (tenantFilter: boolean) => `
    select c.id, c.name, c.status,
      (select json_agg(json_build_object('order', s.step_order, 'type', s.step_type, 'template', t.name, 'subject', t.subject) order by s.step_order)
       from app_public.campaign_sequence_steps s
       left join app_public.templates t on ${tenantFilter ? 't.tenant_id = s.tenant_id and ' : ''}t.id = s.template_id
       where ${tenantFilter ? 's.tenant_id = c.tenant_id and ' : ''}s.campaign_id = c.id) as steps
    from app_public.campaigns c
    ${tenantFilter ? 'where c.tenant_id = $1' : ''}
    order by c.id
    limit 20`;
  return [
    {
      key: 'leadsPage',
      label: '20 active leads, newest first',
      member: { text: `select ${leadColumns} from app_public.leads l where l.status = $1 order by l.created desc, l.id limit 20`, values: ['active'] },
      owner: { text: `select ${leadColumns} from app_public.leads l where l.tenant_id = $2 and l.status = $1 order by l.created desc, l.id limit 20`, values: ['active', tenantId] },
    },
    {
      key: 'campaignStatsRollup',
      label: "a campaign's stats from the rollup",
      member: { text: 'select s.* from app_public.campaigns c, lateral app_public.campaigns_stats(c) s where c.id = $1', values: [campaignId] },
      owner: { text: 'select s.* from app_public.campaigns c, lateral app_public.campaigns_stats(c) s where c.tenant_id = $2 and c.id = $1', values: [campaignId, tenantId] },
    },
    {
      key: 'messagesByStatus',
      label: "a campaign's messages counted by status",
      member: { text: 'select m.status, count(*) from app_public.messages m where m.campaign_id = $1 group by m.status', values: [campaignId] },
      owner: { text: 'select m.status, count(*) from app_public.messages m where m.tenant_id = $2 and m.campaign_id = $1 group by m.status', values: [campaignId, tenantId] },
    },
    {
      key: 'campaignsNested',
      label: '20 campaigns with their steps and templates',
      member: { text: nested(false) },
      owner: { text: nested(true), values: [tenantId] },
    },
  ];
}

/** PostGraphile's version of the nested query (batched lookups of steps and templates); default order: primary key. */
export const CAMPAIGNS_NESTED = {
  query: `query CampaignsNested {
  campaigns(first: 20) {
    nodes { rowId name status campaignSequenceSteps(orderBy: [STEP_ORDER_ASC]) { nodes { stepOrder stepType template { name subject } } } }
  }
}`,
};

export async function rlsOverhead(ctx: BenchContext): Promise<Omit<FigureResult, 'key' | 'number' | 'title'>> {
  const { tenantId, campaignId } = ctx.dataset.subjects;
  const memberPool = apiLikePool(ctx.db.urls.authenticator, 2);
  const ownerPool = apiLikePool(ctx.db.urls.owner, 2);
  const ownerSettings = { statement_timeout: ctx.memberSettings.statement_timeout ?? '10000' };
  const perRunMs = Math.max(1500, Math.min(4000, (ctx.options.durationSec * 1000) / 3));
  const measurements: Measurement[] = [];
  const comparisons: Comparison[] = [];
  const plans: Record<string, PlanSummary> = {};
  const notes: string[] = [];
  try {
    for (const pair of pairs(tenantId, campaignId)) {
      const member = inRequest(ctx.memberSettings, pair.member);
      const owner = inRequest(ownerSettings, pair.owner);
      // Same answer either way, or the comparison means nothing.
      const [a, b] = await Promise.all([runStatements(memberPool, member), runStatements(ownerPool, owner)]);
      if (JSON.stringify(statementResult(a).rows) !== JSON.stringify(statementResult(b).rows)) {
        throw new Error(`RLS figure: "${pair.label}" returns different rows as the member and as the owner.`);
      }
      const [rls, explicit] = await timeInterleaved(
        [() => runStatements(memberPool, member).then(() => undefined), () => runStatements(ownerPool, owner).then(() => undefined)],
        { iterations: 2000, durationMs: perRunMs },
      );
      const m: Measurement = { label: `${pair.label} (member, RLS)`, side: 'product', summary: rls };
      const o: Measurement = { label: `${pair.label} (owner, tenant_id filter)`, side: 'anchor', summary: explicit };
      measurements.push(m, o);
      comparisons.push(compare(`RLS: ${pair.label}`, m, o, 'p50', (x) => `RLS ×${x} (target ≈ 1.0)`));
      plans[`${pair.key}.member`] = await explainAnalyze(memberPool, ctx.memberSettings, pair.member);
      plans[`${pair.key}.owner`] = await explainAnalyze(ownerPool, null, pair.owner);
    }

    // PostGraphile's own nested query, as the API sends it.
    const api = await ctx.api();
    const captured = await captureStatements(api, ctx.token, CAMPAIGNS_NESTED);
    const generated = mainStatement(captured.statements);
    const graphileRun = await timeSequential(() => runStatements(memberPool, captured.statements).then(() => undefined), { iterations: 2000, durationMs: perRunMs });
    measurements.push({ label: 'PostGraphile nested campaigns → steps → template (member, RLS)', side: 'info', summary: graphileRun });
    plans['campaignsNested.postgraphile'] = await explainAnalyze(memberPool, ctx.memberSettings, generated);
    const usesBatch = /json_array_elements|with ordinality/i.test(generated.text);
    notes.push(
      `PostGraphile's nested query ${usesBatch ? 'uses batched lookups (json_array_elements … with ordinality + lateral join)' : 'joins the related tables inline (no json_array_elements batch)'}; ` +
        `its plan: ${describeSeqScans(plans['campaignsNested.postgraphile'])}.`,
    );
    for (const [key, plan] of Object.entries(plans)) {
      if (plan.seqScans.length) notes.push(`${key}: sequential scan of ${plan.seqScans.join(', ')}.`);
    }
    return { measurements, comparisons, notes, plans };
  } finally {
    await Promise.all([memberPool.end(), ownerPool.end()]);
  }
}

export function describeSeqScans(plan: PlanSummary | undefined): string {
  if (!plan) return 'not available';
  const indexes = [...new Set(plan.scans.filter((s) => s.index).map((s) => s.index))];
  return plan.seqScans.length
    ? `sequential scans of ${plan.seqScans.join(', ')} (${plan.executionMs.toFixed(2)} ms)`
    : `index scans only (${indexes.join(', ') || 'no index needed'}; ${plan.executionMs.toFixed(2)} ms)`;
}

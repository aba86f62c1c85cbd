/**
 * Figure 2 — GraphQL aggregates: a campaign's statistics (sent, opened,
 * replied, bounced and their rates) for the largest campaign of the largest
 * tenant, one request at a time:
 *   - through the rollup-backed API field (campaign.stats), against the
 *     hand-written SUM over campaign_stats_daily;
 *   - through pg-aggregates over the raw messages (groupedAggregates by
 *     STATUS, each group's totalCount), against the hand-written GROUP BY
 *     over messages; and, for comparison, the same groups counted with
 *     `distinctCount { rowId }` (count(distinct id), what clients had to use
 *     before `totalCount`, plugins/aggregate-counts.ts).
 * The anchors run as the same member in the same transaction shape, so the
 * ratio is what the API adds. The two paths must agree on the numbers.
 */
import type { BenchContext } from '../lib/context.ts';
import { captureStatements, mainStatement } from '../lib/capture.ts';
import { graphql } from '../lib/http-load.ts';
import { compare, type FigureResult, type Measurement } from '../lib/report.ts';
import { apiLikePool, explainAnalyze, inRequest, runStatements, statementResult, type Statement } from '../lib/sql.ts';
import { timeInterleaved } from '../lib/stats.ts';

export const CAMPAIGN_STATS = `query CampaignStats($id: UUID!) {
  campaign(rowId: $id) { stats { sent delivered opened clicked replied bounced openRate clickRate replyRate bounceRate } }
}`;

export const CAMPAIGN_STATUS_COUNTS = `query CampaignStatusCounts($id: UUID!) {
  campaign(rowId: $id) { messages { groupedAggregates(groupBy: [STATUS]) { keys totalCount } } }
}`;

const CAMPAIGN_STATUS_DISTINCT_COUNTS = `query CampaignStatusDistinctCounts($id: UUID!) {
  campaign(rowId: $id) { messages { groupedAggregates(groupBy: [STATUS]) { keys distinctCount { rowId } } } }
}`;

interface Groups {
  campaign: { messages: { groupedAggregates: Array<{ keys: string[]; totalCount?: number; distinctCount?: { rowId: number } }> } };
}

const ROLLUP_SQL: Statement = {
  text: `select sum(sent) as sent, sum(delivered) as delivered, sum(opened) as opened, sum(clicked) as clicked,
                sum(replied) as replied, sum(bounced) as bounced,
                round(sum(opened)::numeric / nullif(sum(sent), 0), 4) as open_rate,
                round(sum(clicked)::numeric / nullif(sum(sent), 0), 4) as click_rate,
                round(sum(replied)::numeric / nullif(sum(sent), 0), 4) as reply_rate,
                round(sum(bounced)::numeric / nullif(sum(sent), 0), 4) as bounce_rate
         from app_public.campaign_stats_daily where campaign_id = $1`,
};

const STATUS_SQL: Statement = {
  text: `select status, count(*) as n from app_public.messages where campaign_id = $1 group by status`,
};

/** The statistics computed from the raw messages: what the rollup must equal. */
const RAW_STATS_SQL: Statement = {
  text: `select count(sent_at) as sent, count(delivered_at) as delivered, count(opened_at) as opened, count(clicked_at) as clicked,
                count(replied_at) as replied, count(bounced_at) as bounced
         from app_public.messages where campaign_id = $1 and direction = 'outbound'`,
};

interface Stats {
  sent: string;
  delivered: string;
  opened: string;
  clicked: string;
  replied: string;
  bounced: string;
}

export async function graphqlAggregates(ctx: BenchContext): Promise<Omit<FigureResult, 'key' | 'number' | 'title'>> {
  const api = await ctx.api();
  const { campaignId, campaignMessages } = ctx.dataset.subjects;
  const variables = { id: campaignId };
  const pool = apiLikePool(ctx.db.urls.authenticator, 2);
  const perRunMs = Math.max(2000, Math.min(5000, (ctx.options.durationSec * 1000) / 2));
  const asMember = (s: Statement) => inRequest(ctx.memberSettings, { ...s, values: [campaignId] });
  try {
    // The numbers first: the rollup, the API and the raw messages must agree.
    const { data } = await graphql<{ campaign: { stats: Stats } }>(api.url, ctx.token, { query: CAMPAIGN_STATS, variables });
    const raw = statementResult(await runStatements(pool, asMember(RAW_STATS_SQL))).rows[0] as Stats;
    for (const key of ['sent', 'delivered', 'opened', 'clicked', 'replied', 'bounced'] as const) {
      if (String(data.campaign.stats[key]) !== String(raw[key])) {
        throw new Error(`campaign.stats.${key} is ${data.campaign.stats[key]} but the raw messages say ${raw[key]}.`);
      }
    }
    for (const query of [CAMPAIGN_STATUS_COUNTS, CAMPAIGN_STATUS_DISTINCT_COUNTS]) {
      const { data: grouped } = await graphql<Groups>(api.url, ctx.token, { query, variables });
      const total = grouped.campaign.messages.groupedAggregates.reduce((n, g) => n + Number(g.totalCount ?? g.distinctCount?.rowId), 0);
      if (total !== campaignMessages) throw new Error(`groupedAggregates counted ${total} messages, expected ${campaignMessages}.`);
    }

    const apiOp = (query: string) => () => graphql(api.url, ctx.token, { query, variables }).then(() => undefined);
    const sqlOp = (s: Statement) => () => runStatements(pool, asMember(s)).then(() => undefined);
    const timing = { iterations: 5000, durationMs: perRunMs };
    ctx.log('  rollup: API campaign.stats and SQL over campaign_stats_daily, taking turns');
    const [apiRollupRun, sqlRollupRun] = await timeInterleaved([apiOp(CAMPAIGN_STATS), sqlOp(ROLLUP_SQL)], timing);
    ctx.log(`  raw: API groupedAggregates(STATUS), SQL group by and SQL counts over ${campaignMessages.toLocaleString('en-US')} messages, taking turns`);
    const [apiRawRun, sqlRawRun, sqlRawStatsRun, apiDistinctRun] = await timeInterleaved(
      [apiOp(CAMPAIGN_STATUS_COUNTS), sqlOp(STATUS_SQL), sqlOp(RAW_STATS_SQL), apiOp(CAMPAIGN_STATUS_DISTINCT_COUNTS)],
      timing,
    );
    const apiRollup: Measurement = { label: 'API campaign.stats (rollup)', side: 'product', summary: apiRollupRun! };
    const sqlRollup: Measurement = { label: 'SQL sum over campaign_stats_daily', side: 'anchor', summary: sqlRollupRun! };
    const apiRaw: Measurement = { label: `API messages.groupedAggregates(STATUS) { totalCount } (${campaignMessages.toLocaleString('en-US')} messages)`, side: 'product', summary: apiRawRun! };
    const apiDistinct: Measurement = { label: 'API messages.groupedAggregates(STATUS) { distinctCount { rowId } }', side: 'info', summary: apiDistinctRun! };
    const sqlRaw: Measurement = { label: 'SQL group by status over messages', side: 'anchor', summary: sqlRawRun! };
    const sqlRawStats: Measurement = { label: 'SQL stats counted from raw messages', side: 'info', summary: sqlRawStatsRun! };

    const generated = mainStatement((await captureStatements(api, ctx.token, { query: CAMPAIGN_STATUS_COUNTS, variables })).statements);
    const plans = {
      rollup: await explainAnalyze(pool, ctx.memberSettings, { ...ROLLUP_SQL, values: [campaignId] }),
      statusCounts: await explainAnalyze(pool, ctx.memberSettings, { ...STATUS_SQL, values: [campaignId] }),
      statusCountsPostGraphile: await explainAnalyze(pool, ctx.memberSettings, generated),
    };
    const distinct = /count\(\s*distinct/i.test(generated.text);
    return {
      measurements: [apiRollup, sqlRollup, apiRaw, sqlRaw, sqlRawStats, apiDistinct],
      comparisons: [
        compare('stats via rollup: API vs SQL (p50)', apiRollup, sqlRollup, 'p50', (x) => `API ×${x}`),
        compare('stats via rollup: API vs SQL (p99)', apiRollup, sqlRollup, 'p99', (x) => `API ×${x}`),
        compare('status counts via pg-aggregates: API vs SQL (p50)', apiRaw, sqlRaw, 'p50', (x) => `API ×${x}`),
        compare('status counts via pg-aggregates: API vs SQL (p99)', apiRaw, sqlRaw, 'p99', (x) => `API ×${x}`),
        compare('raw messages vs rollup (SQL, p50)', sqlRawStats, sqlRollup, 'p50', (x) => `the rollup is ×${x} faster`),
        compare('status counts: distinctCount { rowId } vs totalCount (API, p50)', apiDistinct, apiRaw, 'p50', (x) => `the distinct count ×${x}`),
      ],
      notes: [
        `Campaign ${campaignId}: ${campaignMessages.toLocaleString('en-US')} messages; campaign.stats, the rollup and a count over the raw messages agree (sent ${raw.sent}, opened ${raw.opened}, replied ${raw.replied}, bounced ${raw.bounced}).`,
        'One request at a time, the API and its anchor taking turns (latency); the anchors run as the same member, in the same transaction shape, over a 2-connection pool.',
        `pg-aggregates: ${distinct ? 'the generated statement counts count(distinct …) per status (a sort of every id) where the hand-written SQL counts count(*)' : "each group's totalCount is count(*), as in the hand-written SQL"}; PostGraphile's statement executes in ${plans.statusCountsPostGraphile.executionMs.toFixed(1)} ms vs ${plans.statusCounts.executionMs.toFixed(1)} ms for the hand-written one (plans.statusCountsPostGraphile).`,
      ],
      plans,
    };
  } finally {
    await pool.end();
  }
}

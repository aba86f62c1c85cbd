/**
 * The weekly report (crontab: Mondays 08:00 UTC, src/worker/runner.ts).
 *
 *   queue_weekly_reports  queues one weekly_report job per organisation with a
 *                         member who wants it, for the current ISO week
 *                         (app_private.queue_weekly_reports; job_key per
 *                         organisation and week)
 *   weekly_report         emails each such member the organisation's figures
 *                         of the 7 UTC days before that Monday, per campaign
 *                         (app_private.weekly_report, from the
 *                         campaign_stats_daily rollups)
 *
 * Each member's email is sent in the transaction that records it in
 * app_private.weekly_report_deliveries (claim_weekly_report): a job run twice,
 * or a retry after a failure, sends nobody the same week's report twice, and
 * a failed send records nothing.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { quoteUserText } from '../../src/mail/system-mailer.ts';
import type { TaskDeps } from '../../src/worker/context.ts';
import { notificationMail, recipientsOf, sendOnce } from './notify.ts';

const CronPayload = z.object({ _cron: z.object({ ts: z.string() }).optional() }).loose();

export const queueWeeklyReports: Task = async (rawPayload, helpers) => {
  // A run backfilled after downtime (?fill) reports on the week it was due in.
  const at = CronPayload.parse(rawPayload ?? {})._cron?.ts ?? new Date().toISOString();
  const { rows: [row] } = await helpers.query<{ queued: number }>('select app_private.queue_weekly_reports($1::timestamptz) as queued', [at]);
  helpers.logger.info(`weekly reports queued for ${row?.queued ?? 0} organisation(s)`);
};

const Payload = z.object({
  tenant_id: z.uuid(),
  week_start: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
});

export interface WeeklyRow {
  campaign_id: string;
  campaign_name: string;
  sent: string;
  opened: string;
  clicked: string;
  replied: string;
  bounced: string;
}

const addDays = (isoDate: string, days: number) => new Date(Date.parse(`${isoDate}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/** The report's text: one line per campaign with activity. */
export function weeklyReportText(tenantName: string, weekStart: string, rows: WeeklyRow[], appUrl: string): { subject: string; text: string } {
  const from = addDays(weekStart, -7);
  const to = addDays(weekStart, -1);
  const lines = rows.map((r) =>
    `${quoteUserText(r.campaign_name)}: ${r.sent} sent, ${r.opened} opened, ${r.clicked} clicked, ${r.replied} replied, ${r.bounced} bounced`);
  const total = (k: keyof Omit<WeeklyRow, 'campaign_id' | 'campaign_name'>) => rows.reduce((n, r) => n + Number(r[k]), 0);
  return {
    subject: `Your PenguinMails week: ${from} to ${to}`,
    text: `Hello,\n\nThe week of the organisation ${quoteUserText(tenantName)} from ${from} to ${to} (UTC):\n\n` +
      (rows.length
        ? `${lines.join('\n')}\n\nIn all: ${total('sent')} sent, ${total('opened')} opened, ${total('clicked')} clicked, ${total('replied')} replied, ${total('bounced')} bounced.`
        : 'No campaign sent anything or had any activity this week.') +
      `\n\nMore in PenguinMails: ${appUrl}`,
  };
}

export function weeklyReport(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const { tenant_id: tenantId, week_start: weekStart } = Payload.parse(rawPayload);
    const { rows: [tenant] } = await helpers.query<{ name: string }>(
      'select t.name from app_public.tenants t where t.id = $1 and t.deleted_at is null', [tenantId]);
    if (!tenant) return;
    const { rows } = await helpers.query<WeeklyRow>(
      'select campaign_id, campaign_name, sent::text, opened::text, clicked::text, replied::text, bounced::text from app_private.weekly_report($1, $2::date)',
      [tenantId, weekStart],
    );
    const report = weeklyReportText(tenant.name, weekStart, rows, deps.appUrl);
    let sent = 0;
    for (const to of await recipientsOf(helpers, tenantId, 'weekly_report')) {
      const claim = { text: 'select app_private.claim_weekly_report($1, $2, $3::date) as claimed', values: [tenantId, to.user_id, weekStart] };
      if (await sendOnce(deps, helpers, claim, notificationMail(deps, to, 'weekly_report', report))) sent++;
    }
    helpers.logger.info(`weekly report of ${weekStart} sent to ${sent} member(s)`);
  };
}

/**
 * Campaign-level jobs: a scheduled campaign starting at its time
 * (`campaign_start`, queued by start_campaign), completing a campaign once its
 * last enrollment finished (`campaign_check_completion`, queued by a trigger),
 * the periodic `campaign_housekeeping` pass that enrolls new members of
 * sending campaigns' target lists and completes finished campaigns, and the
 * periodic `ab_winner_sweep` that chooses the winners of A/B tests
 * (functions/121-ab-winners.sql).
 */
import type { Task } from 'graphile-worker';
import { z } from 'zod';

const CampaignPayload = z.object({ tenant_id: z.uuid(), campaign_id: z.uuid() });

export const campaignStart: Task = async (rawPayload, helpers) => {
  const payload = CampaignPayload.parse(rawPayload);
  const { rows } = await helpers.query<{ status: string }>('select app_private.start_scheduled_campaign($1, $2) as status', [
    payload.tenant_id, payload.campaign_id,
  ]);
  helpers.logger.debug(`campaign ${payload.campaign_id}: ${rows[0]?.status}`);
};

export const campaignCheckCompletion: Task = async (rawPayload, helpers) => {
  const payload = CampaignPayload.parse(rawPayload);
  await helpers.query('select app_private.complete_campaign_if_done($1, $2)', [payload.tenant_id, payload.campaign_id]);
};

export const campaignHousekeeping: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ enrolled: number }>('select app_private.campaign_housekeeping() as enrolled');
  if (rows[0]?.enrolled) helpers.logger.info(`enrolled ${rows[0].enrolled} new leads in sending campaigns`);
};

export const abWinnerSweep: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ decided: number }>('select app_private.ab_winner_sweep() as decided');
  if (rows[0]?.decided) helpers.logger.info(`chose the winner of ${rows[0].decided} A/B tests`);
};

/**
 * IP reputation: reputation_sweep (hourly) queues one check_ip_reputation job
 * per IP that is not retired; each looks the IP up in the DNSBL_ZONES through
 * the shared resolver (src/dns/dnsbl.ts) and hands the results to
 * app_private.record_ip_reputation (quarantine, reassignment, release).
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { checkBlocklists } from '../../src/dns/dnsbl.ts';
import type { TaskDeps } from '../../src/worker/context.ts';

const CheckPayload = z.object({ smtp_ip_address_id: z.uuid() });

export const reputationSweep: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ n: number }>('select app_private.queue_reputation_checks() as n');
  helpers.logger.debug(`queued ${rows[0]?.n ?? 0} blocklist checks`);
};

export function checkIpReputation(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = CheckPayload.parse(rawPayload);
    const { rows } = await helpers.query<{ ip: string }>(
      `select host(ip_address) as ip from app_public.smtp_ip_addresses where id = $1 and status <> 'burned'`,
      [payload.smtp_ip_address_id],
    );
    if (!rows[0]) return;
    const { dns, env: { DNSBL_ZONES: dnsblZones } } = deps;
    const results = await checkBlocklists(dns, rows[0].ip, dnsblZones);
    const { rows: updated } = await helpers.query<{ status: string; reputation_state: string }>(
      'select status, reputation_state from app_private.record_ip_reputation($1, $2::jsonb)',
      [payload.smtp_ip_address_id, JSON.stringify(results)],
    );
    helpers.logger.debug(`IP ${rows[0].ip}: ${updated[0]?.status} (${updated[0]?.reputation_state})`);
  };
}

const RecountPayload = z.object({ smtp_ip_address_ids: z.array(z.string().uuid().nullable()) });

/** Queued on a Citus cluster by a change of domain_ip_assignments (see app_private.tg__ip_assigned_count). */
export const recountIpAssignments: Task = async (rawPayload, helpers) => {
  const payload = RecountPayload.parse(rawPayload);
  await helpers.query('select app_private.recount_ip_assignments($1::uuid[])', [payload.smtp_ip_address_ids]);
};

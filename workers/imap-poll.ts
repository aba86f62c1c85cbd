/**
 * Reply and bounce detection. Every minute `imap_poll_all` queues one
 * `imap_poll_inbox` job per active inbox with IMAP settings (job key: one
 * pending poll per inbox; named queue: polls of one inbox never overlap), and
 * each of those polls its inbox (src/imap/poller.ts).
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { pollInbox } from '../src/imap/poller.ts';
import { queueAllPolls } from '../src/imap/store.ts';
import type { TaskDeps } from '../src/worker/context.ts';
import { imapMessages, imapPolls } from '../src/metrics/registry.ts';

const PollPayload = z.object({ tenant_id: z.uuid(), email_account_id: z.uuid() });

export const queueImapPolls: Task = async (_payload, helpers) => {
  const queued = await helpers.withPgClient(queueAllPolls);
  helpers.logger.debug(`queued ${queued} inbox polls`);
};

export function pollImapInbox(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = PollPayload.parse(rawPayload);
    const summary = await pollInbox(helpers.withPgClient, deps.imap, { tenantId: payload.tenant_id, emailAccountId: payload.email_account_id });
    imapPolls.inc({ status: summary.status });
    for (const [outcome, n] of Object.entries(summary.outcomes)) imapMessages.inc({ outcome }, n ?? 0);
    const found = Object.entries(summary.outcomes).map(([outcome, n]) => `${n} ${outcome}`).join(', ') || 'nothing new';
    for (const report of summary.ignoredReports ?? []) {
      helpers.logger.info(`inbox ${payload.email_account_id}: feedback report <${report.messageId}> ignored: ${report.reason}`);
    }
    if (summary.status === 'failed') helpers.logger.warn(`inbox ${payload.email_account_id}: ${summary.reason}`);
    else if (summary.status === 'skipped') helpers.logger.debug(`inbox ${payload.email_account_id} skipped: ${summary.reason}`);
    else helpers.logger.debug(`inbox ${payload.email_account_id}: ${summary.examined} examined (${found})${summary.more ? ', more to come' : ''}`);
  };
}

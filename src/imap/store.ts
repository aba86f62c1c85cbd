/**
 * The poller's database access: the functions of
 * functions/155-inbound-mail.sql and functions/156-imap-polling.sql.
 */
import type pg from 'pg';
import type { InboundMail } from './parse.ts';

export interface InboxRef {
  tenantId: string;
  emailAccountId: string;
}

/** Runs fn with one database connection (graphile-worker's helpers.withPgClient has this shape). */
export type WithClient = <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

export interface PollTarget {
  email: string;
  status: string;
  imapSettings: unknown;
  sealedPassword: Buffer | null;
  uidValidity: string | null;
  lastUid: number | null;
  scanSince: Date | null;
}

export type InboundOutcome =
  | 'reply' | 'auto_reply' | 'bounce' | 'deferred' | 'delivered' | 'complaint' | 'feedback' | 'duplicate' | 'own' | 'unmatched'
  /** A feedback report without a usable feedback part: nothing is recorded but the progress past it. */
  | 'malformed_report';

export async function loadPollTarget(client: pg.ClientBase, ref: InboxRef): Promise<PollTarget | null> {
  const { rows } = await client.query<{
    email: string;
    status: string;
    imap_settings: unknown;
    imap_password_encrypted: Buffer | null;
    imap_uid_validity: string | null;
    imap_last_uid: string | null;
    scan_since: Date | null;
  }>('select * from app_private.imap_poll_target($1, $2)', [ref.tenantId, ref.emailAccountId]);
  const row = rows[0];
  if (!row) return null;
  return {
    email: row.email,
    status: row.status,
    imapSettings: row.imap_settings,
    sealedPassword: row.imap_password_encrypted,
    uidValidity: row.imap_uid_validity === null ? null : String(row.imap_uid_validity),
    lastUid: row.imap_last_uid === null ? null : Number(row.imap_last_uid),
    scanSince: row.scan_since,
  };
}

/** Records one message and the progress past its UID in one transaction: a crash in between cannot lose or double it. */
export async function recordPolledMessage(
  client: pg.ClientBase,
  ref: InboxRef,
  position: { uidValidity: bigint; uid: number },
  mail: InboundMail | null,
): Promise<InboundOutcome | null> {
  await client.query('begin');
  try {
    let outcome: InboundOutcome | null = null;
    if (mail?.classification.kind === 'malformed_report') {
      outcome = 'malformed_report';
    } else if (mail) {
      const c = mail.classification;
      const { rows } = await client.query<{ outcome: InboundOutcome }>(
        'select outcome from app_private.record_inbound_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
        [
          ref.tenantId,
          ref.emailAccountId,
          c.kind,
          mail.messageId,
          mail.inReplyTo,
          mail.references,
          mail.from,
          mail.to,
          mail.subject,
          mail.text,
          c.kind === 'bounce' ? JSON.stringify(c.dsn) : c.kind === 'complaint' ? JSON.stringify({ ...c.report, tracking_tokens: undefined }) : null,
        ],
      );
      outcome = rows[0]!.outcome;
    }
    await recordProgress(client, ref, position.uidValidity, position.uid);
    await client.query('commit');
    return outcome;
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}

export async function recordProgress(client: pg.ClientBase, ref: InboxRef, uidValidity: bigint, lastUid: number): Promise<void> {
  await client.query('select app_private.record_imap_progress($1, $2, $3, $4)', [
    ref.tenantId,
    ref.emailAccountId,
    uidValidity.toString(),
    lastUid,
  ]);
}

export async function recordFailure(client: pg.ClientBase, ref: InboxRef, message: string): Promise<void> {
  await client.query('select app_private.record_imap_failure($1, $2, $3)', [ref.tenantId, ref.emailAccountId, message]);
}

export async function queuePoll(client: pg.ClientBase, ref: InboxRef): Promise<void> {
  await client.query('select app_private.queue_imap_poll($1, $2)', [ref.tenantId, ref.emailAccountId]);
}

export async function queueAllPolls(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ n: number }>('select app_private.queue_imap_polls() as n');
  return rows[0]!.n;
}

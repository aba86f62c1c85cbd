/**
 * Delivers one booked message (functions/130-delivery.sql has the state
 * machine): render it, decrypt the inbox password and DKIM key, take the
 * message's send lock, claim it (queued → sending, committed), talk SMTP, and
 * record the answer. The lock is a session-level advisory lock held for the
 * whole SMTP conversation, so a retried job can tell "another worker is on
 * it" (lock taken) from "the worker that claimed it died" (lock free). The
 * SMTP connection itself may be one the inbox already has open (the worker's
 * transport pool): the claim is committed before the message is handed to it
 * and the answer recorded after, whichever connection carries it.
 *
 * Right before the final "." of DATA, a hand-over mark is committed on the
 * same connection (app_private.mark_handed_over). So after a crash, the retry
 * knows whether the server can have the message (mark: sent, unconfirmed) or
 * cannot (no mark: sent again). If the mark cannot be written (the database
 * went away, and the send lock with it), the dot is not written either.
 *
 * Two kinds of message take this path: campaign emails (rendered from their
 * step's template, claimed by app_private.claim_message) and replies written
 * on the platform (src/sending/reply.ts: their text as written, claimed by
 * app_private.claim_reply). Everything from the send lock on is the same.
 */
import type { KeyObject } from 'node:crypto';
import type { PoolClient } from 'pg';
import { ZodError } from 'zod';
import type { SendingDeps } from './deps.ts';
import { renderMessage, TemplateRenderError } from './render.ts';
import { RenderInput } from './render-input.ts';
import { signingKey, UnreadableSigningKey } from './signing-keys.ts';
import { queryRows, type RunQuery } from '../db/query.ts';
import { sendSmtp, SmtpSettings, type OutgoingMail, type SmtpLogin, type SmtpOutcome } from './smtp.ts';
import { oauthLogin, OAuthReconnectRequired, type OAuthLogin } from '../oauth/access-token.ts';
import { smtpSettingsOf } from '../oauth/providers.ts';

export type DeliveryResult =
  | 'sent'
  /** The final "." was written and the server's answer never came: recorded as sent, unconfirmed. */
  | 'unconfirmed'
  | 'deferred'
  | 'bounced'
  | 'failed'
  /** The message was no longer queued, or its recipient is suppressed now. */
  | 'gone'
  /** The campaign is not sending (paused, or just paused because the plan refused the email). */
  | 'paused'
  | 'limit'
  /** Another worker holds the message's send lock. */
  | 'busy';

export interface EnvelopeRow {
  id: string;
  status: string;
  email_account_id: string;
  enrollment_id: string | null;
  step_id: string;
  lead_id: string;
  to_email: string;
  from_email: string;
  reply_to: string | null;
  smtp_settings: unknown;
  smtp_password_encrypted: Buffer | null;
  domain: string;
  dkim_selector: string;
  dkim_private_key_encrypted: Buffer | null;
  rfc_message_id: string;
  thread_rfc_message_id: string | null;
  /** The pool IP the message leaves from (null: outside the IP pool). */
  source_address: string | null;
  /** The inbox's OAuth connection (null: it logs in with a password). */
  oauth_status: string | null;
  /** app_hidden.render_context() of a campaign email, loaded with the envelope (null for other kinds). */
  render_context: unknown;
}

export interface DeliveryLog {
  info(message: string): void;
  warn(message: string): void;
}

/** A problem that makes the message undeliverable before any SMTP talk (its reason is user-facing). */
export class Undeliverable extends Error {
  readonly inboxError: string | undefined;
  constructor(reason: string, inboxError?: string) {
    super(reason);
    this.inboxError = inboxError;
  }
}

function prepare(envelope: EnvelopeRow, deps: SendingDeps) {
  const settings = SmtpSettings.safeParse(envelope.smtp_settings);
  if (!settings.success) {
    const problem = settings.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; ');
    throw new Undeliverable(`The SMTP settings of ${envelope.from_email} are invalid (${problem}).`, `Invalid SMTP settings: ${problem}`);
  }
  if (!envelope.dkim_private_key_encrypted) {
    throw new Undeliverable(`The domain ${envelope.domain} has no DKIM key for selector "${envelope.dkim_selector}".`);
  }
  if (settings.data.username && !envelope.smtp_password_encrypted) {
    throw new Undeliverable(`${envelope.from_email} has an SMTP username but no password.`, 'No SMTP password is set.');
  }
  let password: string | null = null;
  let dkimKey: KeyObject;
  try {
    password = envelope.smtp_password_encrypted ? deps.secretBox.decrypt(envelope.smtp_password_encrypted) : null;
    dkimKey = signingKey(deps.secretBox, envelope.dkim_private_key_encrypted, envelope.domain);
  } catch (error) {
    if (error instanceof UnreadableSigningKey) throw new Undeliverable(error.message);
    throw new Undeliverable(
      `The stored secrets of ${envelope.from_email} cannot be decrypted with this server's key (was PM_SECRETS_KEY changed?).`,
      'Stored secrets cannot be decrypted with the current key.',
    );
  }
  return { settings: settings.data, password, dkimKey };
}

/** What goes into one message besides its envelope. */
export interface ComposedMessage {
  fromName: string | null;
  subject: string;
  html: string;
  text: string;
  /** null: no List-Unsubscribe headers. */
  unsubscribeUrl: string | null;
  /** The message this one answers, without angle brackets. */
  inReplyTo: string | null;
  /** The References chain, oldest first; default: inReplyTo alone. */
  references?: string[];
}

/**
 * A kind of message on the delivery path: how its content is made, and the
 * SQL function that claims it (queued → sending) with that content's subject
 * and text. `compose` throws TemplateRenderError, Undeliverable or ZodError
 * for a message that cannot be sent (recorded as failed with the reason).
 */
export interface MessageKind {
  compose(query: RunQuery, tenantId: string, envelope: EnvelopeRow, deps: SendingDeps): Promise<ComposedMessage>;
  claimFunction: 'app_private.claim_message' | 'app_private.claim_reply';
  /** Load app_hidden.render_context() with the envelope (EnvelopeRow.render_context). */
  withRenderContext?: boolean;
}

/** A campaign step's email: its template rendered for the lead, with tracking and one-click unsubscribe. */
export const CAMPAIGN_EMAIL: MessageKind = {
  claimFunction: 'app_private.claim_message',
  withRenderContext: true,
  async compose(_query, _tenantId, envelope, deps) {
    const rendered = renderMessage(RenderInput.parse(envelope.render_context), deps);
    return { ...rendered, inReplyTo: envelope.thread_rfc_message_id };
  },
};

async function record(query: RunQuery, tenantId: string, messageId: string, outcome: SmtpOutcome): Promise<DeliveryResult> {
  switch (outcome.kind) {
    case 'accepted':
      // Need not wait for the disk either: lost in a crash, it leaves the
      // message sending with its hand-over mark, which resolves to sent,
      // unconfirmed (never a second send); the next commit that waits
      // (the next mark, the job's completion) makes it durable.
      await query(`select app_private.record_delivery($1, $2, $3), set_config('synchronous_commit', 'off', true)`, [tenantId, messageId, outcome.response]);
      return 'sent';
    case 'deferred': {
      const [row] = await query<{ next: Date | null }>('select app_private.record_deferral($1, $2, $3, $4, $5) as next', [
        tenantId, messageId, outcome.code, outcome.response, outcome.inboxError ?? null,
      ]);
      // A refused login counts against the inbox, which stops after a few in a row (functions/116-safety-pauses.sql).
      if (outcome.authFailed) await query('select app_private.record_smtp_auth_failure($1, $2, $3)', [tenantId, messageId, outcome.response]);
      return row?.next ? 'deferred' : 'failed';
    }
    case 'rejected':
      await query('select app_private.record_bounce($1, $2, $3, $4)', [tenantId, messageId, outcome.code, outcome.response]);
      return 'bounced';
    case 'failed':
      await query('select app_private.record_send_failure($1, $2, $3, $4)', [tenantId, messageId, outcome.reason, outcome.inboxError ?? null]);
      return 'failed';
    case 'unconfirmed':
      await query('select app_private.record_unconfirmed($1, $2, $3, $4)', [
        tenantId, messageId, outcome.reason,
        `Delivery not confirmed: the connection to the SMTP server ended after the whole message was sent and before the server answered (${outcome.reason}). It was not sent again, because a duplicate is worse than a missing confirmation.`,
      ]);
      return 'unconfirmed';
  }
}

export async function deliverMessage(
  client: Pick<PoolClient, 'query'>,
  deps: SendingDeps,
  tenantId: string,
  messageId: string,
  log: DeliveryLog,
  kind: MessageKind = CAMPAIGN_EMAIL,
): Promise<DeliveryResult> {
  const query = queryRows(client);
  // One round trip for everything the message is made from: each one costs
  // both processes a system call and a wake-up (benchmark: figure 6).
  const [envelope] = await query<EnvelopeRow>(
    `select e.*,
            case when $3 and e.step_id is not null and e.status = 'queued' then app_hidden.render_context($1, e.step_id, e.lead_id) end as render_context
       from app_private.delivery_envelope($1, $2) e`,
    [tenantId, messageId, kind.withRenderContext ?? false],
  );
  if (!envelope || envelope.status !== 'queued') return 'gone';

  let rendered;
  let prepared;
  try {
    rendered = await kind.compose(query, tenantId, envelope, deps);
    prepared = prepare(envelope, deps);
  } catch (error) {
    if (!(error instanceof TemplateRenderError || error instanceof Undeliverable || error instanceof ZodError)) throw error;
    const reason = error instanceof ZodError ? `The message's data is malformed: ${error.message}` : error.message;
    log.warn(`message ${messageId} cannot be sent: ${reason}`);
    await query('select app_private.record_send_failure($1, $2, $3, $4)', [
      tenantId, messageId, reason, error instanceof Undeliverable ? (error.inboxError ?? null) : null,
    ]);
    return 'failed';
  }

  // An inbox connected over OAuth logs in with an access token (renewed here
  // when it is about to expire) to its provider's fixed SMTP host.
  let oauth: OAuthLogin | null = null;
  try {
    if (envelope.oauth_status !== null) oauth = await oauthLogin(query, deps, tenantId, envelope.email_account_id);
  } catch (error) {
    if (!(error instanceof OAuthReconnectRequired)) throw error;
    log.warn(`message ${messageId} not sent: its inbox needs to be connected again`);
    // The message stays queued; its enrollment comes back later and books another inbox (or waits, or pauses the campaign).
    if (envelope.enrollment_id) {
      await query(`select app_private.schedule_enrollment($1, $2, app_private.engine_now() + interval '15 minutes')`, [tenantId, envelope.enrollment_id]);
    }
    return 'paused';
  }
  const settings = oauth ? smtpSettingsOf(oauth.provider) : prepared.settings;
  const login = (o: OAuthLogin | null): SmtpLogin => (o ? { oauth2: { user: o.user, accessToken: o.accessToken } } : prepared.password);

  // The send lock and the claim in one statement (the lock first: CASE
  // evaluates in order). Its commit need not wait for the disk: nothing
  // leaves this process before mark_handed_over's commit, which does wait,
  // and a commit on disk means every earlier WAL record is too. A claim lost
  // in a crash leaves the message queued, never handed over: sent later, once.
  let claim: { outcome: 'claimed' | 'gone' | 'paused' | 'limit' | 'busy' } | undefined;
  try {
    [claim] = await query<{ outcome: 'claimed' | 'gone' | 'paused' | 'limit' | 'busy' }>(
      `select case when pg_try_advisory_lock(app_private.send_lock_key($2)) then ${kind.claimFunction}($1, $2, $3, $4) else 'busy' end as outcome,
              set_config('synchronous_commit', 'off', true)`,
      [tenantId, messageId, rendered.subject, rendered.text],
    );
  } catch (error) {
    // A session lock outlives the failed statement that took it.
    await query('select pg_advisory_unlock(app_private.send_lock_key($1))', [messageId]).catch(() => undefined);
    throw error;
  }
  if (claim?.outcome === 'busy') return 'busy';
  try {
    if (claim?.outcome !== 'claimed') return claim?.outcome ?? 'gone';
    // From here until the outcome is recorded the message is "sending":
    // if this process dies now, the retry must not send it again.
    const mail: OutgoingMail = {
      fromName: rendered.fromName,
      fromAddress: envelope.from_email,
      to: envelope.to_email,
      replyTo: envelope.reply_to,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      messageId: envelope.rfc_message_id,
      inReplyTo: rendered.inReplyTo,
      references: rendered.references,
      unsubscribeUrl: rendered.unsubscribeUrl,
      dkim: { domainName: envelope.domain, keySelector: envelope.dkim_selector, privateKey: prepared.dkimKey },
      sourceAddress: envelope.source_address,
    };
    const hooks = {
      beforeFinalDot: async () => {
        await query('select app_private.mark_handed_over($1, $2)', [tenantId, messageId]);
      },
    };
    let outcome = await sendSmtp(settings, login(oauth), mail, deps.smtp, deps.smtpPool, hooks);
    if (oauth && outcome.kind === 'deferred' && outcome.authFailed) {
      // The server refused the token (revoked or expired early): renew it once and try again; the login failed, so nothing was sent.
      // The message is claimed: a failed renewal leaves the refused login as the outcome (retried later), with the
      // reason on the inbox when the provider refused for good (the inbox is stopped by then).
      let stopped: string | null = null;
      const renewed = await oauthLogin(query, deps, tenantId, envelope.email_account_id, { force: true }).catch((error: Error) => {
        if (error instanceof OAuthReconnectRequired) stopped = error.message;
        return null;
      });
      if (renewed) outcome = await sendSmtp(settings, login(renewed), mail, deps.smtp, deps.smtpPool, hooks);
      else if (stopped !== null) outcome = { ...outcome, inboxError: stopped };
    }
    const result = await record(query, tenantId, messageId, outcome);
    if (outcome.kind !== 'accepted') log.info(`message ${messageId}: ${result} (${'response' in outcome ? outcome.response : outcome.reason})`);
    return result;
  } finally {
    await query('select pg_advisory_unlock(app_private.send_lock_key($1))', [messageId]);
  }
}

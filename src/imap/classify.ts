/**
 * What kind of message arrived: a delivery status notification (bounce,
 * delay or success report), an automatic reply, or a person's email. This is
 * about the message itself; what it means for our data (which message it
 * answers, which event it records) is decided in SQL
 * (functions/155-inbound-mail.sql).
 *
 * Bounces: RFC 3464 reports (multipart/report; report-type=delivery-status,
 * with a message/delivery-status part) are read field by field. Mail systems
 * that send plain-text bounces instead (qmail, older Exim and Sendmail set-ups,
 * some hosted services) are recognised by a mailer-daemon sender or a bounce
 * subject, and their status code, recipient and the quoted Message-ID are
 * read from the text.
 *
 * Complaints: RFC 5965 feedback reports (multipart/report;
 * report-type=feedback-report, with a message/feedback-report part), as the
 * mailbox providers' feedback loops send them when a recipient marks mail as
 * spam. The original message (or its header) attached to the report names the
 * Message-ID it is about, and holds the platform's signed tracking links when
 * it was one of ours (src/imap/feedback-report.ts). A report whose
 * message/feedback-report part is missing or has no Feedback-Type is
 * malformed: it is recorded as nothing.
 *
 * Auto-replies (RFC 3834 Auto-Submitted, X-Autoreply/X-Autorespond,
 * Precedence auto_reply/bulk/junk, and the usual out-of-office subjects) are
 * told apart so they never count as replies.
 */
import type { Attachment, Email } from 'postal-mime';
import { trackingTokensIn } from './feedback-report.ts';
import { fieldGroups, headerFields, messageIds, type FieldBlock } from './headers.ts';

export interface DeliveryStatus {
  /** RFC 3464 Action: failed, delayed, delivered, relayed or expanded. */
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';
  /** RFC 3463 enhanced status code (e.g. 5.1.1), when the report gives one. */
  status: string | null;
  diagnostic_code: string | null;
  final_recipient: string | null;
  /** The Message-ID of the message the report is about. */
  original_message_id: string | null;
  remote_mta: string | null;
  reporting_mta: string | null;
  detected_by: 'dsn' | 'text';
}

export interface FeedbackReport {
  /** RFC 5965 Feedback-Type (abuse, fraud, virus, other, not-spam, auth-failure…), lower case. */
  feedback_type: string;
  /** The software that generated the report. */
  user_agent: string | null;
  original_mail_from: string | null;
  /** Often redacted by the provider; matching relies on the Message-ID. */
  original_rcpt_to: string | null;
  arrival_date: string | null;
  source_ip: string | null;
  reported_domain: string | null;
  /** The Message-ID of the reported message, from the attached original. */
  original_message_id: string | null;
  /** Token-shaped strings of our tracking links in the attached original (List-Unsubscribe first), not yet verified. */
  tracking_tokens: string[];
  /** The message a verified tracking token names (set by the poller, which holds the key); null: none. */
  tracked_message_id: string | null;
}

export type Classification =
  | { kind: 'bounce'; dsn: DeliveryStatus }
  | { kind: 'complaint'; report: FeedbackReport }
  /** A multipart/report of report-type feedback-report without a usable feedback part: recorded as nothing. */
  | { kind: 'malformed_report'; reason: string }
  | { kind: 'auto_reply'; reason: string }
  | { kind: 'email' };

export type HeaderLookup = (name: string) => string | null;

const ACTIONS = new Set(['failed', 'delayed', 'delivered', 'relayed', 'expanded']);
const ENHANCED_STATUS = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;
/** A basic SMTP reply code at the start of a server answer: "550 User unknown", "452-4.2.2 …". */
const BASIC_CODE = /(?:^|[\s:(])([45][0-9]{2})[ -](?=[A-Za-z#<0-9])/m;
const DAEMON_SENDER = /^(mailer[-_]?daemon|postmaster|mail[-_]delivery[-_]subsystem|mail[-_]?delivery[-_]?system|bounces?)@/i;
const BOUNCE_SUBJECT =
  /(undeliver(ed|able)|delivery (status notification|failure|has failed|failed|incomplete)|returned mail|failure notice|mail delivery failed|could not be delivered|non-?delivery|message not delivered|delivery problem|warning: (message|could not)|delayed mail)/i;
const DELAY_WORDS = /\b(delayed|not (yet )?been delivered|will (keep )?(retry|trying|try again)|still trying|deferred)\b/i;
const OUT_OF_OFFICE_SUBJECT =
  /^\s*(auto(matic|matische)?[\s_:-]*(reply|response|antwort|answer)|autoreply|auto-reply|out of (the )?office|ooo\b|away from (the |my )?(office|desk)|on (vacation|holiday|leave)|abwesenheit|abwesenheitsnotiz|réponse automatique|respuesta automática|risposta automatica|automatisch antwoord|autosvar|poza biurem)/i;

/** Lower-case, bare address from "rfc822; user@host" or "<user@host>". */
function address(value: string | null | undefined): string | null {
  if (!value) return null;
  const bare = value.includes(';') ? value.slice(value.indexOf(';') + 1) : value;
  const match = /<?([^\s<>;"]+@[^\s<>;"]+?)>?(?:\s|$)/.exec(bare.trim() + ' ');
  return match ? match[1]!.toLowerCase() : null;
}

function mtaName(value: string | undefined): string | null {
  if (!value) return null;
  return (value.includes(';') ? value.slice(value.indexOf(';') + 1) : value).trim().slice(0, 255) || null;
}

/** The enhanced status in a report field, a diagnostic or a text; a basic code becomes its class (550 → 5.0.0). */
export function statusCode(...texts: Array<string | null | undefined>): string | null {
  for (const text of texts) {
    const enhanced = text ? ENHANCED_STATUS.exec(text) : null;
    if (enhanced) return `${enhanced[1]}.${enhanced[2]}.${enhanced[3]}`;
  }
  for (const text of texts) {
    const basic = text ? BASIC_CODE.exec(text) : null;
    if (basic) return `${basic[1]![0]}.0.0`;
  }
  return null;
}

const decode = (content: Attachment['content']) =>
  typeof content === 'string' ? content : Buffer.from(content instanceof ArrayBuffer ? new Uint8Array(content) : content).toString('utf8');

const ORIGINAL_TYPES = ['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/global-headers'];

/** The original messages (or their headers) attached to a report, as text. */
function attachedOriginals(email: Email): string[] {
  return email.attachments.filter((part) => ORIGINAL_TYPES.includes(part.mimeType)).map((part) => decode(part.content));
}

/** The Message-ID of the original message attached to a report (whole message or just its header). */
function attachedMessageId(email: Email): string | null {
  for (const original of attachedOriginals(email)) {
    const id = messageIds(headerFields(original).get('message-id'))[0];
    if (id) return id;
  }
  return null;
}

/** An RFC 3464 report: the first failed recipient (else the first recipient) of its delivery-status part. */
function fromDeliveryStatusPart(email: Email, header: HeaderLookup): DeliveryStatus | null {
  const part = email.attachments.find((a) => a.mimeType === 'message/delivery-status' || a.mimeType === 'message/global-delivery-status');
  if (!part) return null;
  const [perMessage = new Map(), ...recipients] = fieldGroups(decode(part.content));
  const isRecipient = (g: FieldBlock) => g.has('final-recipient') || g.has('action') || g.has('status');
  // Some MTAs put no per-message group before the first recipient.
  const groups = isRecipient(perMessage) ? [perMessage, ...recipients] : recipients;
  const recipient =
    groups.find((g) => g.get('action')?.toLowerCase() === 'failed') ?? groups.find(isRecipient) ?? new Map<string, string>();
  const action = recipient.get('action')?.toLowerCase().split(/\s/)[0] ?? 'failed';
  const diagnostic = recipient.get('diagnostic-code') ?? null;
  return {
    action: (ACTIONS.has(action) ? action : 'failed') as DeliveryStatus['action'],
    status: statusCode(recipient.get('status'), diagnostic),
    diagnostic_code: diagnostic ? (diagnostic.replace(/^[a-z-]+;\s*/i, '').slice(0, 1000) || null) : null,
    final_recipient: address(recipient.get('final-recipient') ?? recipient.get('original-recipient')),
    original_message_id:
      messageIds(perMessage.get('original-message-id') ?? recipient.get('original-message-id') ?? header('original-message-id'))[0] ??
      attachedMessageId(email),
    remote_mta: mtaName(recipient.get('remote-mta')),
    reporting_mta: mtaName(perMessage.get('reporting-mta')),
    detected_by: 'dsn',
  };
}

const isFeedbackReportType = (contentType: string | null) =>
  !!contentType && /^\s*multipart\/report\b/i.test(contentType) && /\breport-type\s*=\s*"?feedback-report\b/i.test(contentType);

/**
 * An RFC 5965 feedback report: the fields of its message/feedback-report part,
 * the reported message's id and our tracking tokens in the attached original.
 * A feedback-report multipart without that part, or without a Feedback-Type,
 * is malformed.
 */
function fromFeedbackReport(email: Email, header: HeaderLookup): Classification | null {
  const part = email.attachments.find((a) => a.mimeType === 'message/feedback-report');
  if (!part) {
    return isFeedbackReportType(header('content-type'))
      ? { kind: 'malformed_report', reason: 'a feedback report without a message/feedback-report part' }
      : null;
  }
  const fields = fieldGroups(decode(part.content))[0] ?? new Map<string, string>();
  const feedbackType = fields.get('feedback-type')?.toLowerCase().split(/\s/)[0]?.slice(0, 40);
  if (!feedbackType) return { kind: 'malformed_report', reason: 'a feedback report without a Feedback-Type' };
  const field = (name: string, max = 255) => fields.get(name)?.slice(0, max) || null;
  const originals = attachedOriginals(email);
  return {
    kind: 'complaint',
    report: {
      feedback_type: feedbackType,
      user_agent: field('user-agent'),
      original_mail_from: address(fields.get('original-mail-from')),
      original_rcpt_to: address(fields.get('original-rcpt-to')),
      arrival_date: field('arrival-date', 100),
      source_ip: field('source-ip', 45),
      reported_domain: field('reported-domain'),
      original_message_id: attachedMessageId(email) ?? messageIds(header('original-message-id'))[0] ?? null,
      tracking_tokens: originals.flatMap((original) => trackingTokensIn(headerFields(original).get('list-unsubscribe'), original)).slice(0, 5),
      tracked_message_id: null,
    },
  };
}

/** A plain-text bounce: a mailer daemon, or a bounce subject, with what its text tells. */
function fromBounceText(email: Email, fromAddress: string | null, header: HeaderLookup): DeliveryStatus | null {
  const subject = email.subject ?? '';
  if (!(fromAddress && DAEMON_SENDER.test(fromAddress)) && !BOUNCE_SUBJECT.test(subject)) return null;
  const text = email.text ?? '';
  const codeLine = text.split('\n').find((line) => ENHANCED_STATUS.test(line)) ?? text.split('\n').find((line) => BASIC_CODE.test(line));
  const recipient =
    /RCPT TO:\s*<([^>\s]+@[^>\s]+)>/i.exec(text)?.[1] ??
    /^\s*<([^>\s]+@[^>\s]+)>:/m.exec(text)?.[1] ??
    /^(?:Final|Original)-Recipient:\s*(?:rfc822;)?\s*<?([^\s<>]+@[^\s<>]+?)>?\s*$/im.exec(text)?.[1] ??
    [...text.matchAll(/[\w.+'-]+@[\w-]+(?:\.[\w-]+)+/g)].map((m) => m[0]).find((a) => !DAEMON_SENDER.test(a) && a.toLowerCase() !== fromAddress);
  const quotedId = /^\s*Message-ID:\s*<([^>\s]+)>/im.exec(text)?.[1];
  return {
    action: DELAY_WORDS.test(`${subject}\n${text}`) && !/^5/.test(statusCode(codeLine) ?? '') ? 'delayed' : 'failed',
    status: statusCode(codeLine),
    diagnostic_code: codeLine?.trim().slice(0, 1000) || null,
    final_recipient: recipient ? recipient.toLowerCase() : null,
    original_message_id: messageIds(header('original-message-id'))[0] ?? attachedMessageId(email) ?? quotedId ?? null,
    remote_mta: null,
    reporting_mta: null,
    detected_by: 'text',
  };
}

export function autoReplyReason(header: HeaderLookup, subject: string | undefined): string | null {
  const autoSubmitted = header('auto-submitted');
  if (autoSubmitted && !/^\s*no\b/i.test(autoSubmitted)) return `Auto-Submitted: ${autoSubmitted}`;
  for (const name of ['x-autoreply', 'x-autorespond', 'x-autoresponder']) {
    const value = header(name);
    if (value !== null && !/^\s*(no|false|0)\s*$/i.test(value)) return `${name}: ${value}`;
  }
  for (const name of ['precedence', 'x-precedence']) {
    const value = header(name);
    if (value && /^\s*(auto_reply|bulk|junk)\b/i.test(value)) return `${name}: ${value}`;
  }
  if (subject && OUT_OF_OFFICE_SUBJECT.test(subject)) return `subject: ${subject.slice(0, 100)}`;
  return null;
}

export function classify(email: Email, fromAddress: string | null, header: HeaderLookup): Classification {
  const report = fromFeedbackReport(email, header);
  if (report) return report;
  const dsn = fromDeliveryStatusPart(email, header) ?? fromBounceText(email, fromAddress, header);
  if (dsn) return { kind: 'bounce', dsn };
  const reason = autoReplyReason(header, email.subject);
  if (reason) return { kind: 'auto_reply', reason };
  return { kind: 'email' };
}

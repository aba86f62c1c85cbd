/**
 * Raw messages as they reach an inbox: people's replies, auto-replies, RFC
 * 3464 delivery status notifications (as Postfix writes them) and plain-text
 * bounces (qmail, Exim). Built as text so each test states exactly what the
 * mail server delivered.
 */
import { randomUUID } from 'node:crypto';

const CRLF = '\r\n';
const date = () => new Date().toUTCString().replace('GMT', '+0000');

export const newMessageId = (domain = 'mail.customer.example') => `${randomUUID()}@${domain}`;

export interface ReplyOptions {
  from: string;
  to: string;
  subject: string;
  messageId?: string | null;
  inReplyTo?: string;
  references?: string[];
  body?: string;
  headers?: Record<string, string>;
}

export function reply(o: ReplyOptions): string {
  const lines = [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Subject: ${o.subject}`,
    `Date: ${date()}`,
    ...(o.messageId === null ? [] : [`Message-ID: <${o.messageId ?? newMessageId()}>`]),
    ...(o.inReplyTo ? [`In-Reply-To: <${o.inReplyTo}>`] : []),
    ...(o.references?.length ? [`References: ${o.references.map((r) => `<${r}>`).join(`${CRLF} `)}`] : []),
    ...Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return `${lines.join(CRLF)}${CRLF}${CRLF}${(o.body ?? 'Thanks for reaching out!').replace(/\n/g, CRLF)}${CRLF}`;
}

export interface DsnOptions {
  to: string;
  recipient: string;
  originalMessageId?: string;
  originalSubject?: string;
  action?: 'failed' | 'delayed' | 'delivered';
  status: string;
  diagnostic: string;
  /** How the original is attached: the whole message, or only its header (text/rfc822-headers). */
  attach?: 'message' | 'headers' | 'none';
  messageId?: string;
}

/** Folds a long header value at white space, as MTAs do. */
function fold(value: string, width = 50): string {
  const lines: string[] = [];
  let line = '';
  for (const word of value.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join(`${CRLF}    `);
}

/** A multipart/report DSN in Postfix's layout. */
export function dsn(o: DsnOptions): string {
  const boundary = `dsn-${randomUUID()}`;
  const action = o.action ?? 'failed';
  const original = [
    `From: Sam from Acme <${o.to}>`,
    `To: ${o.recipient}`,
    `Subject: ${o.originalSubject ?? 'Quick question'}`,
    ...(o.originalMessageId ? [`Message-ID: <${o.originalMessageId}>`] : []),
    `Date: ${date()}`,
  ].join(CRLF);
  const humanText =
    action === 'delayed'
      ? `This is the mail system at host mx.acme.example.\r\n\r\n####################################################################\r\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n####################################################################\r\n\r\nYour message could not be delivered for 4.0 hours.\r\nIt will be retried until it is 5.0 days old.\r\n`
      : `This is the mail system at host mx.acme.example.\r\n\r\nI'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n<${o.recipient}>: host mx.customer.example[192.0.2.25] said: ${o.diagnostic}\r\n`;
  const parts = [
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    humanText,
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.acme.example',
    'X-Postfix-Queue-ID: 4Xb2cd1FzVz9sWQ',
    `Arrival-Date: ${date()}`,
    '',
    `Final-Recipient: rfc822; ${o.recipient}`,
    `Original-Recipient: rfc822;${o.recipient}`,
    `Action: ${action}`,
    `Status: ${o.status}`,
    'Remote-MTA: dns; mx.customer.example',
    `Diagnostic-Code: smtp; ${fold(o.diagnostic)}`,
    '',
  ];
  if (o.attach !== 'none') {
    parts.push(
      `--${boundary}`,
      o.attach === 'headers' ? 'Content-Description: Undelivered Message Headers' : 'Content-Description: Undelivered Message',
      o.attach === 'headers' ? 'Content-Type: text/rfc822-headers' : 'Content-Type: message/rfc822',
      '',
      o.attach === 'headers' ? original : `${original}${CRLF}${CRLF}Hi there, a quick question for you.`,
      '',
    );
  }
  parts.push(`--${boundary}--`, '');
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>',
    `To: ${o.to}`,
    `Subject: ${action === 'delayed' ? 'Delayed Mail (still being retried)' : 'Undelivered Mail Returned to Sender'}`,
    `Date: ${date()}`,
    `Message-ID: <${o.messageId ?? newMessageId('mx.acme.example')}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    ...parts,
  ].join(CRLF);
}

/** qmail's plain-text bounce: recipient and SMTP answer in the text, the original quoted below. */
export function qmailBounce(o: { to: string; recipient: string; originalMessageId: string; answer: string }): string {
  return [
    'From: MAILER-DAEMON@mail.customer.example',
    `To: ${o.to}`,
    'Subject: failure notice',
    `Date: ${date()}`,
    `Message-ID: <${newMessageId('mail.customer.example')}>`,
    '',
    'Hi. This is the qmail-send program at mail.customer.example.',
    "I'm afraid I wasn't able to deliver your message to the following addresses.",
    'This is a permanent error; I\'ve given up. Sorry it didn\'t work out.',
    '',
    `<${o.recipient}>:`,
    `192.0.2.25 does not like recipient.`,
    `Remote host said: ${o.answer}`,
    'Giving up on 192.0.2.25.',
    '',
    '--- Below this line is a copy of the message.',
    '',
    `Return-Path: <${o.to}>`,
    `From: Sam from Acme <${o.to}>`,
    `To: ${o.recipient}`,
    'Subject: Quick question',
    `Message-ID: <${o.originalMessageId}>`,
    '',
    'Hi there, a quick question for you.',
    '',
  ].join(CRLF);
}

export interface FeedbackReportOptions {
  /** The mailbox the feedback loop reports to. */
  to: string;
  /** Who sent the reported message and to whom (providers often redact the recipient). */
  originalFrom: string;
  originalRecipient: string;
  originalMessageId?: string;
  /** null: no Feedback-Type field (a malformed report). */
  feedbackType?: 'abuse' | 'fraud' | 'virus' | 'other' | 'not-spam' | 'auth-failure' | null;
  /** How the original is attached: the whole message, or only its header (text/rfc822-headers). */
  attach?: 'message' | 'headers';
  /** The attached original verbatim (e.g. the raw message the SMTP server received), instead of a made-up one. */
  original?: string;
  /** Yahoo's CFL layout (default) or Microsoft's JMRP layout. */
  provider?: 'yahoo' | 'microsoft';
  /** Leave out the message/feedback-report part (a malformed report). */
  withoutFeedbackPart?: boolean;
  messageId?: string;
}

const FEEDBACK_LOOPS = {
  yahoo: { from: 'Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.example>', userAgent: 'Yahoo!-Mail-Feedback/2.0', version: '1', host: 'arf.mail.yahoo.example' },
  microsoft: { from: 'staff@hotmail.example', userAgent: 'Hotmail FBL', version: '0.1', host: 'hotmail.example' },
} as const;

/** An RFC 5965 feedback report in the layout of a mailbox provider's feedback loop (Yahoo's CFL or Microsoft's JMRP). */
export function feedbackReport(o: FeedbackReportOptions): string {
  const boundary = `arf-${randomUUID()}`;
  const loop = FEEDBACK_LOOPS[o.provider ?? 'yahoo'];
  const original = o.original?.replace(/\r?\n/g, CRLF) ?? [
    `From: Sam from Acme <${o.originalFrom}>`,
    `To: ${o.originalRecipient}`,
    'Subject: Quick question',
    ...(o.originalMessageId ? [`Message-ID: <${o.originalMessageId}>`] : []),
    `Date: ${date()}`,
  ].join(CRLF);
  const headersOnly = original.split(`${CRLF}${CRLF}`)[0]!;
  const feedbackFields = [
    ...(o.feedbackType === null ? [] : [`Feedback-Type: ${o.feedbackType ?? 'abuse'}`]),
    `User-Agent: ${loop.userAgent}`,
    `Version: ${loop.version}`,
    `Original-Mail-From: <${o.originalFrom}>`,
    `Original-Rcpt-To: <${o.originalRecipient}>`,
    `Arrival-Date: ${date()}`,
    'Source-IP: 203.0.113.10',
    `Reported-Domain: ${o.originalFrom.split('@')[1]}`,
    ...(o.provider === 'microsoft' ? [`X-HmXmrOriginalRecipient: <${o.originalRecipient}>`] : []),
  ];
  return [
    `From: ${loop.from}`,
    `To: ${o.to}`,
    o.provider === 'microsoft' ? 'Subject: complaint about message from 203.0.113.10' : 'Subject: FW: Quick question',
    `Date: ${date()}`,
    `Message-ID: <${o.messageId ?? newMessageId(loop.host)}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report;${CRLF} boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP 203.0.113.10.',
    'For more information about this format please see http://www.mipassoc.org/arf/.',
    '',
    ...(o.withoutFeedbackPart ? [] : [`--${boundary}`, 'Content-Type: message/feedback-report', '', ...feedbackFields, '']),
    `--${boundary}`,
    o.attach === 'headers' ? 'Content-Type: text/rfc822-headers' : 'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    o.attach === 'headers' ? headersOnly : o.original ? original : `${original}${CRLF}${CRLF}Hi there, a quick question for you.`,
    '',
    `--${boundary}--`,
    '',
  ].join(CRLF);
}

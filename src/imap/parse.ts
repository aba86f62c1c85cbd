/**
 * A raw message from the inbox, parsed (postal-mime) into what
 * app_private.record_inbound_message() takes.
 */
import { createHash } from 'node:crypto';
import PostalMime, { type Address } from 'postal-mime';
import { classify, type Classification } from './classify.ts';
import { messageIds } from './headers.ts';

/** Stored body text is capped; the full message stays on the mail server. */
export const MAX_BODY_CHARS = 100_000;

export interface InboundMail {
  /** Message-ID without brackets; a stable content hash at .invalid when the message has none. */
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  from: string | null;
  to: string | null;
  subject: string | null;
  text: string | null;
  classification: Classification;
}

function firstAddress(addresses: Address | Address[] | undefined): string | null {
  for (const a of Array.isArray(addresses) ? addresses : addresses ? [addresses] : []) {
    const mailbox = a.address ? a : a.group?.[0];
    if (mailbox?.address) return mailbox.address.slice(0, 254);
  }
  return null;
}

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h\d)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export async function parseInbound(raw: Buffer): Promise<InboundMail> {
  const email = await PostalMime.parse(raw);
  const header = (name: string) => email.headers.find((h) => h.key === name)?.value ?? null;
  const from = firstAddress(email.from)?.toLowerCase() ?? null;
  const text = email.text?.trim() || (email.html ? htmlToText(email.html) : '');
  return {
    messageId:
      messageIds(email.messageId)[0] ?? `${createHash('sha256').update(raw).digest('hex').slice(0, 40)}@no-message-id.invalid`,
    inReplyTo: messageIds(email.inReplyTo)[0] ?? null,
    references: messageIds(email.references),
    from,
    to: firstAddress(email.to),
    subject: email.subject?.slice(0, 998) ?? null,
    text: text ? text.slice(0, MAX_BODY_CHARS) : null,
    classification: classify(email, from, header),
  };
}

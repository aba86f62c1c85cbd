/**
 * Replies written on the platform (app_public.send_reply,
 * functions/157-conversations.sql) as a kind of message on the delivery path
 * of deliver.ts: the text and HTML as the member wrote them (the one made
 * from the other when only one was given), the inbox's sender name, and the
 * threading headers stored with the reply (In-Reply-To the answered message,
 * References its chain). No tracking and no List-Unsubscribe: it is one
 * person answering another.
 */
import { z } from 'zod';
import { escapeHtml } from '../tracking/pages.ts';
import { Undeliverable, type MessageKind } from './deliver.ts';
import { htmlToText } from './html-text.ts';

const ReplyRow = z.object({
  from_name: z.string().nullable(),
  subject: z.string(),
  body_text: z.string().nullable(),
  reply_html: z.string().nullable(),
  in_reply_to: z.string().nullable(),
  references_header: z.string().nullable(),
});

/** Plain text as HTML: escaped, paragraphs at blank lines, line breaks kept. */
export function textToHtml(text: string): string {
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((paragraph) => `<p>${escapeHtml(paragraph.trim()).replace(/\r?\n/g, '<br>')}</p>`)
    .join('\n');
}

/** The Message-IDs of a References header, oldest first, without angle brackets. */
export function referenceIds(header: string | null): string[] {
  return [...(header ?? '').matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
}

export const REPLY: MessageKind = {
  claimFunction: 'app_private.claim_reply',
  async compose(query, tenantId, envelope) {
    const [row] = await query('select * from app_private.reply_to_send($1, $2)', [tenantId, envelope.id]);
    if (!row) throw new Undeliverable('This reply has no content on record.');
    const reply = ReplyRow.parse(row);
    const html = reply.reply_html ?? textToHtml(reply.body_text ?? '');
    return {
      fromName: reply.from_name,
      subject: reply.subject,
      html,
      text: reply.body_text ?? htmlToText(html),
      unsubscribeUrl: null,
      inReplyTo: reply.in_reply_to,
      references: referenceIds(reply.references_header),
    };
  },
};

/**
 * Feedback reports (RFC 5965) beyond their Message-ID: the platform's own
 * tracking links in the reported message, which name the message they were
 * made for even when the provider rewrote or dropped its Message-ID.
 *
 * Every campaign email carries a signed message token (src/tracking/tokens.ts)
 * in its List-Unsubscribe header and, when tracking is on, in its open pixel,
 * click and unsubscribe links. The classifier collects the token-shaped
 * strings of the attached original (header or whole message); the poller
 * keeps the first one whose signature is valid and that names the polled
 * inbox's tenant, and passes its message id as `tracked_message_id`.
 */
import type { TrackingTokens } from '../tracking/tokens.ts';
import type { FeedbackReport } from './classify.ts';

/** /u/<token>, /t/o/<token>.gif, /t/c/<token>?… (the routes of src/tracking/routes.ts). */
const TOKEN_IN_LINK = /\/(?:u|t\/o|t\/c)\/([A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{10,})/g;

/**
 * The tracking tokens in an attached original, List-Unsubscribe first, then
 * the rest in order of appearance; at most `max`. Quoted-printable soft line
 * breaks are joined first (a link may be split across lines).
 */
export function trackingTokensIn(listUnsubscribe: string | null | undefined, original: string, max = 5): string[] {
  const found: string[] = [];
  for (const text of [listUnsubscribe ?? '', original.replace(/=\r?\n/g, '')]) {
    for (const match of text.matchAll(TOKEN_IN_LINK)) {
      if (!found.includes(match[1]!)) found.push(match[1]!);
      if (found.length >= max) return found;
    }
  }
  return found;
}

/** The message a report's tracking tokens name, when one is signed with our key and belongs to the inbox's tenant. */
export function trackedMessageId(report: FeedbackReport, tokens: TrackingTokens | undefined, tenantId: string): string | null {
  if (!tokens) return null;
  for (const token of report.tracking_tokens) {
    const ref = tokens.parseMessageToken(token);
    if (ref && ref.tenantId === tenantId) return ref.messageId;
  }
  return null;
}

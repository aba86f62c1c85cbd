/**
 * What the sandbox shows of a caught message: its envelope and headers, its
 * List-Unsubscribe headers, and the receiver-side authentication checks a
 * mailbox provider would run (mailauth: every DKIM signature verified, SPF
 * for the connecting address, DMARC), all through the sandbox's DNS, which
 * publishes what the platform asks each domain to publish.
 */
import { authenticate, type DNSResolver } from 'mailauth';
import PostalMime from 'postal-mime';

export interface Envelope {
  /** MAIL FROM (empty for a bounce, null for a message that was not sent over SMTP). */
  mailFrom: string | null;
  rcptTo: string[];
  /** The SMTP client's address and greeting; null for a message that was not sent over SMTP. */
  remoteAddress: string | null;
  helo: string | null;
}

export interface DkimCheck {
  domain: string | null;
  selector: string | null;
  /** pass, fail, neutral, policy, temperror, permerror. */
  result: string;
  /** Why, when it did not pass. */
  comment: string | null;
  signedHeaders: string[];
}

export interface MessageSummary {
  from: string | null;
  to: string[];
  subject: string | null;
  date: string | null;
  messageId: string | null;
  listUnsubscribe: string | null;
  listUnsubscribePost: string | null;
  dkim: DkimCheck[];
  spf: { result: string; domain: string | null } | null;
  dmarc: { result: string; policy: string | null } | null;
}

export interface MessageContent {
  text: string | null;
  html: string | null;
  headers: Array<{ name: string; value: string }>;
}

const addressOf = (a: { address?: string; name?: string } | undefined) => (a?.address ? (a.name ? `${a.name} <${a.address}>` : a.address) : null);

export async function inspectMessage(raw: Buffer, envelope: Envelope, resolver: DNSResolver): Promise<{ summary: MessageSummary; content: MessageContent }> {
  const parsed = await PostalMime.parse(raw);
  const header = (name: string) => parsed.headers.find((h) => h.key === name)?.value ?? null;
  const auth = await authenticate(raw, {
    resolver,
    ip: envelope.remoteAddress ?? undefined,
    helo: envelope.helo ?? undefined,
    sender: envelope.mailFrom ?? undefined,
    mta: 'sandbox.penguinmails.localhost',
    disableArc: true,
    disableBimi: true,
  });
  const dkim = auth.dkim.results.map((r) => ({
    domain: r.signingDomain ?? null,
    selector: r.selector ?? null,
    result: r.status.result,
    comment: r.status.result === 'pass' ? null : (r.status.comment ?? null),
    signedHeaders: (r.signingHeaders?.keys ?? '').split(':').map((h) => h.trim().toLowerCase()).filter(Boolean),
  }));
  return {
    summary: {
      from: addressOf(parsed.from),
      to: (parsed.to ?? []).map(addressOf).filter((a): a is string => a !== null),
      subject: parsed.subject ?? null,
      date: parsed.date ?? null,
      messageId: parsed.messageId ?? null,
      listUnsubscribe: header('list-unsubscribe'),
      listUnsubscribePost: header('list-unsubscribe-post'),
      dkim,
      spf: envelope.remoteAddress && auth.spf ? { result: auth.spf.status.result, domain: auth.spf.domain ?? null } : null,
      dmarc: auth.dmarc ? { result: auth.dmarc.status.result, policy: auth.dmarc.policy ?? null } : null,
    },
    content: { text: parsed.text ?? null, html: parsed.html ?? null, headers: parsed.headers.map((h) => ({ name: h.originalKey ?? h.key, value: h.value })) },
  };
}

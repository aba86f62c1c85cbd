/**
 * The messages the sandbox caught, in memory, newest first: what came in over
 * SMTP (campaign mail from inboxes pointing at the catcher) and the system
 * emails in the outbox folder (those already there at start-up included). At most `max` are kept; the oldest go first.
 * Each is inspected once, when it arrives (src/sandbox/inspect.ts).
 */
import { randomUUID } from 'node:crypto';
import type { DNSResolver } from 'mailauth';
import { inspectMessage, type Envelope, type MessageContent, type MessageSummary } from './inspect.ts';

export interface CaughtMessage extends MessageSummary {
  id: string;
  receivedAt: string;
  /** smtp: caught by the SMTP server; outbox: a system email written to the outbox folder (`file`). */
  source: 'smtp' | 'outbox';
  file: string | null;
  envelope: Envelope;
  size: number;
}

export interface CaughtStore {
  /** Inspects and keeps a message; resolves with what the listing shows of it. */
  add(raw: Buffer, envelope: Envelope, origin?: { source: 'outbox'; file: string; written?: Date }): Promise<CaughtMessage>;
  /** Newest first. */
  list(): CaughtMessage[];
  get(id: string): { message: CaughtMessage; content: MessageContent; raw: Buffer } | undefined;
  /** Forgets every message; returns how many there were. */
  clear(): number;
}

export function makeCaughtStore({ max, resolver }: { max: number; resolver: DNSResolver }): CaughtStore {
  const entries: Array<{ message: CaughtMessage; content: MessageContent; raw: Buffer }> = [];
  return {
    async add(raw, envelope, origin) {
      const { summary, content } = await inspectMessage(raw, envelope, resolver);
      const message: CaughtMessage = {
        id: randomUUID(),
        receivedAt: (origin?.written ?? new Date()).toISOString(),
        source: origin?.source ?? 'smtp',
        file: origin?.file ?? null,
        envelope,
        size: raw.length,
        ...summary,
      };
      entries.unshift({ message, content, raw });
      // Newest first, also when older outbox files are read in while new mail arrives.
      entries.sort((a, b) => b.message.receivedAt.localeCompare(a.message.receivedAt));
      entries.splice(max);
      return message;
    },
    list: () => entries.map((e) => e.message),
    get: (id) => entries.find((e) => e.message.id === id),
    clear: () => entries.splice(0).length,
  };
}

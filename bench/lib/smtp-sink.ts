/**
 * A local SMTP sink (smtp-server on 127.0.0.1, a free port): accepts every
 * message, counts them with their arrival time and keeps the first few raw
 * messages so their DKIM signatures can be checked.
 */
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  port: number;
  /** Arrival times (performance.now()) of every accepted message. */
  arrivals: number[];
  /** The first `keep` raw messages. */
  samples: Buffer[];
  /** Resolves when `count` messages have arrived, or at the deadline (performance.now()); returns how many did. */
  waitFor(count: number, deadline: number): Promise<number>;
  close(): Promise<void>;
}

export async function startSmtpSink(keep = 5): Promise<SmtpSink> {
  const arrivals: number[] = [];
  const samples: Buffer[] = [];
  let wake: (() => void) | null = null;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    // No DNS here: a reverse lookup of 127.0.0.1 per connection would only add waiting.
    disableReverseLookup: true,
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => {
        if (samples.length < keep) chunks.push(c);
      });
      stream.on('end', () => {
        if (samples.length < keep) samples.push(Buffer.concat(chunks));
        arrivals.push(performance.now());
        wake?.();
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.server.address() as { port: number }).port,
    arrivals,
    samples,
    async waitFor(count, deadline) {
      while (arrivals.length < count && performance.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(250, Math.max(0, deadline - performance.now())));
        });
        wake = null;
      }
      return arrivals.length;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

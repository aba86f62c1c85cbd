/**
 * The development sandbox, so sending can be tried offline with any
 * organisation: a mail catcher (src/sandbox/catcher.ts) inboxes point at, a
 * DNS server publishing every domain's records (src/sandbox/zone.ts), which
 * the worker's domain checks ask instead of the Internet's DNS, and the
 * /sandbox pages listing what was caught, system emails included (those in
 * the outbox folder from earlier runs too).
 *
 * It never exists in production: readEnv refuses SANDBOX=true there, and
 * startSandbox refuses a production configuration whatever it says. The
 * catcher's address is let through the outbound guard by adding exactly that
 * address (a /32) to OUTBOUND_ALLOW_PRIVATE of the configuration the API and
 * worker run with; every other private or loopback address stays refused.
 */
import path from 'node:path';
import pg from 'pg';
import type { Env } from '../config.ts';
import { makeDnsResolver, type DnsResolver } from '../dns/resolver.ts';
import { loggerFor } from '../log/logger.ts';
import type { Route } from '../server/http.ts';
import { CATCHER_HOST, startCatcher } from './catcher.ts';
import type { SandboxInfo } from './page.ts';
import { sandboxRoutes } from './routes.ts';
import { makeCaughtStore, type CaughtStore } from './store.ts';
import { makeSandboxZone } from './zone.ts';
import { readOutbox } from './outbox.ts';
import { startZoneDns } from './zone-dns.ts';

export interface Sandbox {
  info: SandboxInfo;
  store: CaughtStore;
  /** Resolves through the sandbox DNS: the worker's domain checks and blocklist lookups use it. */
  resolver: DnsResolver;
  /** The configuration with the catcher's address added to OUTBOUND_ALLOW_PRIVATE, for the API and the worker. */
  allowCatcher(env: Env): Env;
  /** Keeps a system email written to the outbox, so the sandbox lists it too. */
  catchOutboxFile(written: { raw: Buffer; file: string; to: string }): void;
  routes(): Route[];
  close(): Promise<void>;
}

export class SandboxRefused extends Error {
  override name = 'SandboxRefused';
}

export async function startSandbox(env: Env, ownerUrl: string): Promise<Sandbox> {
  if (env.NODE_ENV === 'production') throw new SandboxRefused('the sandbox is for development only and never runs in production');
  const log = loggerFor('sandbox');
  const pool = new pg.Pool({ connectionString: ownerUrl, max: 2, application_name: 'penguinmails-sandbox' });
  pool.on('error', (e) => log.error({ err: { message: e.message } }, 'idle database connection error'));
  // A connection that breaks during a query (a database restart) fails that query, not the process.
  pool.on('connect', (client) => client.on('error', (e) => log.error({ err: { message: e.message } }, 'database connection error')));
  const opened: Array<{ close(): Promise<void> }> = [{ close: () => pool.end() }];
  const closeAll = async () => {
    for (const item of opened.splice(0).reverse()) await item.close();
  };
  try {
    const dns = await startZoneDns({
      port: env.SANDBOX_DNS_PORT,
      lookup: makeSandboxZone(pool, CATCHER_HOST),
      label: 'sandbox DNS',
      portSetting: 'SANDBOX_DNS_PORT',
      onError: (error, question) => log.error({ question, err: { message: error.message } }, 'sandbox DNS could not answer'),
    });
    opened.push(dns);
    const dnsAddress = `127.0.0.1:${dns.port}`;
    const resolver = makeDnsResolver({ servers: [dnsAddress], timeoutMs: env.DNS_TIMEOUT_MS, tries: env.DNS_TRIES });
    const store = makeCaughtStore({ max: env.SANDBOX_MAX_MESSAGES, resolver: resolver.resolve });
    const catcher = await startCatcher({ port: env.SANDBOX_SMTP_PORT, store, log });
    opened.push(catcher);
    const info: SandboxInfo = { catcher: { host: catcher.host, port: catcher.port }, dns: dnsAddress };
    const noEnvelope = { mailFrom: null, remoteAddress: null, helo: null };
    const catchOutbox = (raw: Buffer, file: string, rcptTo: string[], written?: Date) =>
      store.add(raw, { ...noEnvelope, rcptTo }, { source: 'outbox', file, written }).catch((error: Error) =>
        log.error({ file, err: { message: error.message } }, 'sandbox could not read an outbox email'),
      );
    // System emails of earlier runs, read in the background: the listing shows them as they are read.
    const loadingOutbox = readOutbox(path.join(env.PM_DATA_DIR, 'outbox'), env.SANDBOX_MAX_MESSAGES).then(
      async (files) => {
        for (const f of files) await catchOutbox(f.raw, f.file, [], f.written);
      },
      (error: Error) => log.error({ err: { message: error.message } }, 'sandbox could not read the outbox folder'),
    );
    opened.push({ close: () => loadingOutbox });
    return {
      info,
      store,
      resolver,
      allowCatcher: (given) => ({ ...given, OUTBOUND_ALLOW_PRIVATE: [...given.OUTBOUND_ALLOW_PRIVATE, `${catcher.host}/32`] }),
      catchOutboxFile: ({ raw, file, to }) => void catchOutbox(raw, file, [to]),
      routes: () => sandboxRoutes(store, info),
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

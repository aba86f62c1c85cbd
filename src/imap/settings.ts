/**
 * An inbox's IMAP connection settings (email_accounts.imap_settings) turned
 * into imapflow options. The password never lives in the settings: it comes
 * sealed from app_private.email_account_credentials and is opened here, in
 * the worker, only to log in.
 */
import type { ConnectionOptions } from 'node:tls';
import type { ImapFlowOptions } from 'imapflow';
import { z } from 'zod';
import type { OutboundTarget } from '../net/outbound-guard.ts';

export const ImapSettings = z.object({
  host: z.string().min(1, 'host is empty'),
  port: z.coerce.number().int().min(1).max(65535).optional(),
  /** Implicit TLS (port 993). Without it, STARTTLS is used when the server offers it. */
  secure: z.boolean().optional(),
  /** Refuse to log in over a connection that could not be upgraded with STARTTLS. */
  require_tls: z.boolean().optional(),
  /** Login name; the inbox's address when absent. */
  username: z.string().min(1).optional(),
});
export type ImapSettings = z.infer<typeof ImapSettings>;

export interface ResolvedImapSettings {
  host: string;
  port: number;
  secure: boolean;
  requireTls: boolean;
  username: string;
}

export class ImapSettingsError extends Error {
  override name = 'ImapSettingsError';
}

/** Validates the JSON document; the message names the bad field. */
export function resolveImapSettings(raw: unknown, inboxEmail: string): ResolvedImapSettings {
  const parsed = ImapSettings.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'} ${i.message}`).join('; ');
    throw new ImapSettingsError(`IMAP settings are not valid: ${problems}. Expected {"host", "port", "secure", "username"}.`);
  }
  const s = parsed.data;
  const secure = s.secure ?? (s.port === undefined || s.port === 993);
  return {
    host: s.host,
    port: s.port ?? (secure ? 993 : 143),
    secure,
    requireTls: s.require_tls ?? false,
    username: s.username ?? inboxEmail,
  };
}

export function imapFlowOptions(
  settings: ResolvedImapSettings,
  /** The password, or an OAuth 2.0 access token (XOAUTH2, Google and Microsoft inboxes). */
  login: string | { accessToken: string },
  { tls, timeoutMs, target }: { tls?: ConnectionOptions; timeoutMs: number; target?: OutboundTarget },
): ImapFlowOptions {
  return {
    // The address the outbound guard checked (pinned); the hostname stays the TLS server name.
    host: target?.address ?? settings.host,
    port: settings.port,
    secure: settings.secure,
    doSTARTTLS: settings.secure ? undefined : settings.requireTls ? true : undefined,
    auth: typeof login === 'string' ? { user: settings.username, pass: login } : { user: settings.username, accessToken: login.accessToken },
    tls: target?.servername ? { servername: target.servername, ...tls } : tls,
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: Math.max(timeoutMs * 4, 60_000),
    clientInfo: { name: 'PenguinMails', vendor: 'PenguinMails' },
  };
}

/**
 * Mail the platform itself sends (invitations, password resets): through
 * SYSTEM_SMTP_URL, or, when it is not set (development), into .eml files in
 * the data folder's outbox so nothing is silently dropped. Every message is
 * logged with its recipient, subject and where it went (the SMTP host, or the
 * file); never its body, whose links hold single-use tokens.
 */
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import { loggerFor } from '../log/logger.ts';

/**
 * Text someone typed (a person's or an organisation's name) as a platform
 * email may show it: on one line, without control or text-direction
 * characters, at most 80 characters, and in quotation marks, so it reads as a
 * name a user chose and never as the platform's own words (a name like
 * "Security Team: your account is suspended" stays visibly a quoted name).
 */
export function quoteUserText(value: string): string {
  const clean = value.replace(/[\u0000-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, ' ').replace(/\s+/g, ' ').trim();
  return `“${clean.length > 80 ? `${clean.slice(0, 79)}…` : clean}”`;
}

export interface SystemMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Extra header fields (List-Unsubscribe and List-Unsubscribe-Post of notifications). */
  headers?: Record<string, string>;
}

export interface SystemMailer {
  /** Where mail goes, for start-up messages: "smtp://host:port" or the outbox folder. */
  destination: string;
  send(mail: SystemMail): Promise<{ messageId: string; file?: string }>;
  close(): void;
}

export interface SystemMailerOptions {
  smtpUrl?: string;
  from: string;
  outboxDir: string;
  log?: Logger;
  /** Called with each email written to the outbox (the development sandbox lists them). */
  onWritten?: (written: { raw: Buffer; file: string; to: string }) => void;
}

/** The SMTP URL without its credentials. */
const withoutCredentials = (url: string) => {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
};

export function makeSystemMailer({ smtpUrl, from, outboxDir, log = loggerFor('mail'), onWritten }: SystemMailerOptions): SystemMailer {
  if (smtpUrl) {
    const transport = nodemailer.createTransport(smtpUrl);
    const destination = withoutCredentials(smtpUrl);
    return {
      destination,
      async send(mail) {
        const info = await transport.sendMail({ from, ...mail });
        log.info({ to: mail.to, subject: mail.subject, via: destination, messageId: info.messageId }, `system email to ${mail.to} sent through ${destination}`);
        return { messageId: info.messageId };
      },
      close: () => transport.close(),
    };
  }
  mkdirSync(outboxDir, { recursive: true });
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    destination: path.resolve(outboxDir),
    async send(mail) {
      const info = await transport.sendMail({ from, ...mail });
      const file = path.resolve(outboxDir, `${Date.now()}-${info.messageId.replace(/[^a-z0-9]/gi, '')}.eml`);
      await writeFile(file, info.message as Buffer);
      onWritten?.({ raw: info.message as Buffer, file, to: mail.to });
      log.info({ to: mail.to, subject: mail.subject, file }, `system email to ${mail.to} written to ${file} (SYSTEM_SMTP_URL is not set)`);
      return { messageId: info.messageId, file };
    },
    close: () => transport.close(),
  };
}

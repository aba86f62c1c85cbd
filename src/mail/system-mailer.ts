/**
 * Mail the platform itself sends (invitations, password resets): through
 * SYSTEM_SMTP_URL, or, when it is not set (development), into .eml files in
 * the data folder's outbox so nothing is silently dropped.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';

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
}

export interface SystemMailer {
  send(mail: SystemMail): Promise<{ messageId: string }>;
  close(): void;
}

export function makeSystemMailer({ smtpUrl, from, outboxDir }: { smtpUrl?: string; from: string; outboxDir: string }): SystemMailer {
  if (smtpUrl) {
    const transport = nodemailer.createTransport(smtpUrl);
    return {
      async send(mail) {
        const info = await transport.sendMail({ from, ...mail });
        return { messageId: info.messageId };
      },
      close: () => transport.close(),
    };
  }
  mkdirSync(outboxDir, { recursive: true });
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(mail) {
      const info = await transport.sendMail({ from, ...mail });
      const { writeFile } = await import('node:fs/promises');
      const file = path.join(outboxDir, `${Date.now()}-${info.messageId.replace(/[^a-z0-9]/gi, '')}.eml`);
      await writeFile(file, info.message as Buffer);
      return { messageId: info.messageId };
    },
    close: () => transport.close(),
  };
}

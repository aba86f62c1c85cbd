/**
 * setEmailAccountCredentials(emailAccountId, smtpPassword, imapPassword):
 * the passwords are encrypted here, in the API server, with the application
 * key (AES-256-GCM) and only the ciphertext reaches the database, through
 * app_hidden.set_email_account_credentials (owners and admins of the inbox's
 * organisation; audited). Nothing ever returns a credential: the payload says
 * whether one is stored. Only the worker decrypts, to log in to SMTP/IMAP.
 */
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { access, SafeError, type Step } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type { SecretBox } from '../src/crypto/secrets.ts';

interface CredentialsInput {
  emailAccountId: string;
  smtpPassword?: string | null;
  imapPassword?: string | null;
}

const MAX_PASSWORD_LENGTH = 1024;

function checkPassword(field: string, value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  if (value.length === 0) throw new SafeError(`${field} is empty; leave it out to keep the stored one.`, { code: 'INVALID_INPUT' });
  if (value.length > MAX_PASSWORD_LENGTH) {
    throw new SafeError(`${field} is ${value.length} characters long; at most ${MAX_PASSWORD_LENGTH} are accepted.`, { code: 'INVALID_INPUT' });
  }
  if (/[\r\n\0]/.test(value)) throw new SafeError(`${field} contains a line break or NUL character, which no mail server accepts.`, { code: 'INVALID_INPUT' });
  return value;
}

export function makeEmailAccountCredentialsPlugin(secretBox: SecretBox): GraphileConfig.Plugin {
  return extendSchema((build) => {
    const executor = build.input.pgRegistry.pgExecutors.main!;
    const emailAccounts = build.input.pgRegistry.pgResources.email_accounts!;
    return {
      typeDefs: gql`
        input SetEmailAccountCredentialsInput {
          emailAccountId: UUID!
          """The SMTP password (or app password). Leave it out to keep the stored one."""
          smtpPassword: String
          """The IMAP password, for reply and bounce detection. Leave it out to keep the stored one."""
          imapPassword: String
        }
        type SetEmailAccountCredentialsPayload {
          emailAccount: EmailAccount
          """Whether an SMTP password is stored now (passwords are never returned)."""
          smtpAuthConfigured: Boolean!
          """Whether an IMAP password is stored now (passwords are never returned)."""
          imapAuthConfigured: Boolean!
        }
        extend type Mutation {
          """Stores an inbox's SMTP and/or IMAP password, encrypted; owners and admins only. Passwords can be replaced, never read."""
          setEmailAccountCredentials(input: SetEmailAccountCredentialsInput!): SetEmailAccountCredentialsPayload
        }
      `,
      plans: {
        Mutation: {
          setEmailAccountCredentials(_: unknown, fieldArgs: { getRaw(name: string): Step }) {
            const $input = fieldArgs.getRaw('input') as Step<CredentialsInput>;
            return sideEffectWithPgClient(executor, $input, async (client, input) => {
              const smtp = checkPassword('smtpPassword', input.smtpPassword);
              const imap = checkPassword('imapPassword', input.imapPassword);
              await client.query({
                text: 'select app_hidden.set_email_account_credentials($1, $2, $3)',
                values: [input.emailAccountId, smtp === null ? null : secretBox.encrypt(smtp), imap === null ? null : secretBox.encrypt(imap)],
              });
              const { rows } = await client.query<{ has_smtp: boolean; has_imap: boolean }>({
                text: `select app_public.email_accounts_smtp_auth_configured(ea) as has_smtp, app_public.email_accounts_imap_auth_configured(ea) as has_imap
                       from app_public.email_accounts ea where ea.tenant_id = app_public.current_tenant_id() and ea.id = $1`,
                values: [input.emailAccountId],
              });
              return { emailAccountId: input.emailAccountId, smtpAuthConfigured: rows[0]?.has_smtp ?? false, imapAuthConfigured: rows[0]?.has_imap ?? false };
            });
          },
        },
        SetEmailAccountCredentialsPayload: {
          emailAccount($payload: Step) {
            return emailAccounts.get({ id: access($payload, 'emailAccountId') });
          },
        },
      },
    };
  }, 'EmailAccountCredentialsPlugin');
}

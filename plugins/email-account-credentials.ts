/**
 * setEmailAccountCredentials(emailAccountId, smtpPassword, imapPassword):
 * the passwords are encrypted here, in the API server, with the application
 * key (AES-256-GCM) and only the ciphertext reaches the database, through
 * app_hidden.set_email_account_credentials (owners and admins of the inbox's
 * organisation; audited). Nothing ever returns a credential: the payload says
 * whether one is stored. Only the worker decrypts, to log in to SMTP/IMAP.
 *
 * The write is its own transaction on the API's owner connection, entered as
 * the caller (app_hidden.enter_request resolves their roles afresh), and
 * commits before the payload is read. On Citus a transaction reaches a
 * tenant's shards as one role: a SECURITY DEFINER write followed by the
 * member's read of the payload in the same transaction is refused ("modified
 * in this transaction by a different user"). The mutation has no other effect
 * to keep atomic with it.
 */
import type pg from 'pg';
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { access, SafeError, type Step } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type { SecretBox } from '../src/crypto/secrets.ts';
import { SIGN_IN_FIRST } from '../src/server/errors.ts';
import { withUserSession } from '../src/server/user-session.ts';

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

/** Stores the ciphertexts as the caller, in a transaction of its own; says which passwords are stored now. */
async function storeCredentials(
  ownerPool: pg.Pool,
  caller: { user_id: string; tenant_id: string | null },
  emailAccountId: string,
  smtp: Buffer | null,
  imap: Buffer | null,
): Promise<{ has_smtp: boolean; has_imap: boolean }> {
  // The owner's connection, entered as the caller (no role setting: it stays the owner).
  const settings = { 'app.current_user_id': caller.user_id, 'app.current_tenant_id': caller.tenant_id ?? '' };
  return withUserSession(ownerPool, settings, async (client) => {
    await client.query('select app_hidden.set_email_account_credentials($1, $2, $3)', [emailAccountId, smtp, imap]);
    const { rows: [stored] } = await client.query<{ has_smtp: boolean; has_imap: boolean }>(
      `select smtp_password_encrypted is not null as has_smtp, imap_password_encrypted is not null as has_imap
       from app_private.email_account_credentials where tenant_id = $1 and email_account_id = $2`,
      [caller.tenant_id, emailAccountId],
    );
    return stored ?? { has_smtp: false, has_imap: false };
  });
}

/** ownerPool: the API's owner connections (absent when the schema is only printed). */
export function makeEmailAccountCredentialsPlugin(secretBox: SecretBox, ownerPool?: pg.Pool): GraphileConfig.Plugin {
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
              if (!ownerPool) throw new Error('setEmailAccountCredentials needs the API server\'s owner pool');
              // The caller as the request entered them (src/server/context.ts): settings only, no table read.
              const { rows: [caller] } = await client.query<{ user_id: string | null; tenant_id: string | null }>({
                text: 'select app_public.current_user_id() as user_id, app_public.current_tenant_id() as tenant_id',
              });
              if (!caller?.user_id) throw new SafeError(SIGN_IN_FIRST.message, { code: SIGN_IN_FIRST.code });
              const stored = await storeCredentials(ownerPool, { user_id: caller.user_id, tenant_id: caller.tenant_id }, input.emailAccountId,
                smtp === null ? null : secretBox.encrypt(smtp), imap === null ? null : secretBox.encrypt(imap));
              return { emailAccountId: input.emailAccountId, smtpAuthConfigured: stored.has_smtp, imapAuthConfigured: stored.has_imap };
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

/**
 * startInboxOAuth(provider) and disconnectInboxOAuth(emailAccountId): Google
 * and Microsoft inboxes over OAuth 2.0 (src/oauth/).
 *
 * startInboxOAuth records a connection state for the caller (owners and
 * admins) and returns the provider's authorization URL to send the browser
 * to; the provider sends it back to GET /oauth/callback, which creates or
 * updates the inbox. disconnectInboxOAuth stops the inbox at once, deletes
 * its tokens and revokes the refresh token at the provider where it offers
 * revocation (Google). No token is ever returned.
 *
 * Both write in a transaction of their own on the API's owner connection,
 * entered as the caller (see plugins/email-account-credentials.ts for why).
 */
import type pg from 'pg';
import { sideEffectWithPgClient, type PgClient } from 'postgraphile/@dataplan/pg';
import { access, SafeError, type Step } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type { SecretBox } from '../src/crypto/secrets.ts';
import { ConnectError, providerOf, startConnection } from '../src/oauth/connect.ts';
import type { OAuthConfig, OAuthProviderName } from '../src/oauth/providers.ts';
import { revokeToken } from '../src/oauth/token-client.ts';
import { SIGN_IN_FIRST } from '../src/server/errors.ts';
import { withUserSession } from '../src/server/user-session.ts';

async function callerOf(client: PgClient): Promise<{ userId: string; tenantId: string | null; admin: boolean }> {
  // The caller as the request entered them (src/server/context.ts): settings only, no table read.
  const { rows: [caller] } = await client.query<{ user_id: string | null; tenant_id: string | null; admin: boolean }>({
    text: "select app_public.current_user_id() as user_id, app_public.current_tenant_id() as tenant_id, app_public.has_tenant_role('admin') as admin",
  });
  // An API key needs the inboxes' write scope (functions/052-api-keys.sql); the owner connection below cannot tell a
  // key. (A key acts for no user, so even with the scope it is refused next: connecting is a person's act.)
  await client.query({ text: "select app_hidden.require_api_scope('domains')" });
  if (!caller?.user_id) throw new SafeError(SIGN_IN_FIRST.message, { code: SIGN_IN_FIRST.code });
  return { userId: caller.user_id, tenantId: caller.tenant_id, admin: caller.admin === true };
}

function safe(error: unknown): never {
  if (error instanceof ConnectError) {
    throw new SafeError(error.message, { code: error.code === 'NOT_CONFIGURED' ? 'CONFLICT' : error.code === 'FORBIDDEN' ? 'FORBIDDEN' : 'INVALID_INPUT' });
  }
  throw error;
}

/** ownerPool: the API's owner connections (absent when the schema is only printed); config: absent, no provider can be connected. */
export function makeInboxOAuthPlugin(secretBox: SecretBox, config: OAuthConfig | undefined, ownerPool?: pg.Pool): GraphileConfig.Plugin {
  return extendSchema((build) => {
    const executor = build.input.pgRegistry.pgExecutors.main!;
    const emailAccounts = build.input.pgRegistry.pgResources.email_accounts!;
    return {
      typeDefs: gql`
        """A mail provider whose inboxes connect over OAuth 2.0."""
        enum InboxOAuthProvider {
          """Google Workspace and Gmail."""
          GOOGLE
          """Microsoft 365 / Exchange Online."""
          MICROSOFT
        }
        input StartInboxOAuthInput {
          provider: InboxOAuthProvider!
        }
        type StartInboxOAuthPayload {
          """Send the browser of the person who owns the mailbox here; the provider brings it back to /oauth/callback, which connects the inbox."""
          authorizationUrl: String!
          """Until when the link works (once)."""
          expiresAt: Datetime!
        }
        input DisconnectInboxOAuthInput {
          emailAccountId: UUID!
        }
        type DisconnectInboxOAuthPayload {
          emailAccount: EmailAccount
          """Whether the provider confirmed revoking the platform's access (Google); false where the provider offers no revocation (Microsoft: remove the app in the account's settings)."""
          revokedAtProvider: Boolean!
        }
        extend type Mutation {
          """Starts connecting a Google or Microsoft inbox over OAuth (owners and admins): returns the provider's authorization URL. The inbox is created or updated, for the address the provider names, when the provider sends the browser back; its domain must be one of the organisation's."""
          startInboxOAuth(input: StartInboxOAuthInput!): StartInboxOAuthPayload
          """Disconnects an inbox connected over OAuth (owners and admins): it stops sending at once, its tokens are deleted and revoked at the provider where possible."""
          disconnectInboxOAuth(input: DisconnectInboxOAuthInput!): DisconnectInboxOAuthPayload
        }
      `,
      plans: {
        Mutation: {
          startInboxOAuth(_: unknown, fieldArgs: { getRaw(name: string): Step }) {
            const $input = fieldArgs.getRaw('input') as Step<{ provider: string }>;
            return sideEffectWithPgClient(executor, $input, async (client, input) => {
              const caller = await callerOf(client);
              if (!ownerPool) throw new Error('startInboxOAuth needs the API server\'s owner pool');
              if (!caller.tenantId) throw new SafeError('Act in an organisation to connect its inboxes.', { code: 'FORBIDDEN' });
              // Who may, before whether the server can: a viewer learns nothing of the server's set-up.
              if (!caller.admin) throw new SafeError('Only owners and admins can connect inboxes.', { code: 'FORBIDDEN' });
              if (!config) throw new SafeError('Connecting inboxes over OAuth is not set up on this server.', { code: 'CONFLICT' });
              const provider = input.provider.toLowerCase() as OAuthProviderName;
              return startConnection(ownerPool, config, secretBox, { userId: caller.userId, tenantId: caller.tenantId }, provider).catch(safe);
            });
          },
          disconnectInboxOAuth(_: unknown, fieldArgs: { getRaw(name: string): Step }) {
            const $input = fieldArgs.getRaw('input') as Step<{ emailAccountId: string }>;
            return sideEffectWithPgClient(executor, $input, async (client, input) => {
              const caller = await callerOf(client);
              if (!ownerPool) throw new Error('disconnectInboxOAuth needs the API server\'s owner pool');
              const settings = { 'app.current_user_id': caller.userId, 'app.current_tenant_id': caller.tenantId ?? '' };
              const gone = await withUserSession(ownerPool, settings, async (owner) => {
                const { rows: [row] } = await owner.query<{ provider: string; refresh_token_encrypted: Buffer | null }>(
                  'select provider, refresh_token_encrypted from app_private.disconnect_inbox_oauth($1)', [input.emailAccountId],
                );
                return row;
              });
              let revoked = false;
              // After the commit: the inbox has stopped whatever the provider answers.
              if (gone?.refresh_token_encrypted && config) {
                try {
                  const provider = providerOf(config, gone.provider);
                  revoked = await revokeToken(provider, secretBox.decrypt(gone.refresh_token_encrypted), config.httpTimeoutMs);
                } catch {
                  revoked = false;
                }
              }
              return { emailAccountId: input.emailAccountId, revokedAtProvider: revoked };
            });
          },
        },
        DisconnectInboxOAuthPayload: {
          emailAccount($payload: Step) {
            return emailAccounts.get({ id: access($payload, 'emailAccountId') });
          },
        },
      },
    };
  }, 'InboxOAuthPlugin');
}

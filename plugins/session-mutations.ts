/**
 * The operations that start a session: confirmRegistration, login,
 * switchTenant, acceptInvitation (and register and requestPasswordReset,
 * which only send email and, which like login needs the
 * client's address, counted by SQL for throttles and lockouts). Each runs its SQL function (app_hidden, where every rule
 * lives) and signs the returned claims into a JWT. Login failures are
 * returned by SQL rather than raised, so the failed-attempt counter is
 * committed; they become GraphQL errors here, after the commit.
 */
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { context, lambda, object, SafeError, type FieldArgs, type Step } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type { TokenService } from '../src/auth/jwt.ts';
import { OPEN_SESSION_SQL } from '../src/auth/sessions.ts';
import { CLIENT_MUTATION_ID_INPUT, RESULT_PAYLOAD_FIELDS, resultPayload } from './result-payload.ts';

interface SessionRow {
  role: 'member' | 'staff';
  user_id: string;
  tenant_id: string | null;
  expires_at: string | Date;
  /** Opened here, after the SQL function signed the user in. */
  session_id?: string;
  error_code?: string | null;
  error_message?: string | null;
  /** login of an account with two-factor authentication: no session, this challenge (error_code TWOFA). */
  two_factor_challenge?: string | null;
}

declare global {
  namespace Grafast {
    interface Context {
      /** The client's address (src/server/preset.ts; X-Forwarded-For only with TRUST_PROXY): sign-in lockouts and reset throttles count per client. */
      clientIp?: string | null;
    }
  }
}

interface RegisterInput {
  email: string;
  password: string;
  name?: string | null;
  tenantName: string;
}
interface ConfirmRegistrationInput {
  token: string;
}
interface LoginInput {
  email: string;
  password: string;
  tenantId?: string | null;
}
interface RequestPasswordResetInput {
  clientMutationId?: string | null;
  email?: string | null;
}
interface SwitchTenantInput {
  tenantId: string;
}
interface AcceptInvitationInput {
  token: string;
  password?: string | null;
  name?: string | null;
}

const LOGIN_ERRORS: Record<string, string> = {
  CREDS: 'INVALID_CREDENTIALS',
  LOCKD: 'ACCOUNT_LOCKED',
  DNIED: 'FORBIDDEN',
};

export function makeSessionMutationsPlugin(tokens: TokenService): GraphileConfig.Plugin {
  return extendSchema((build) => {
    const executor = build.input.pgRegistry.pgExecutors.main!;

    /** Runs `select * from <fn>(args)` in the request's transaction (settings applied). */
    const callSession = <T>($input: Step<T>, text: string, values: (input: T) => unknown[]) =>
      sideEffectWithPgClient(executor, $input, async (client, input) => {
        const { rows: [row] } = await client.query<SessionRow>({ text, values: values(input) });
        if (!row || row.error_code) return row ?? null;
        // The session the token names, in the same transaction as the sign-in.
        const { rows: [session] } = await client.query<{ id: string }>({ text: OPEN_SESSION_SQL, values: [row.user_id, row.expires_at] });
        return { ...row, session_id: session!.id };
      });

    const toPayload = ($row: Step<SessionRow | null>) =>
      lambda($row, async (row) => {
        if (!row) throw new SafeError('No session could be started.', { code: 'FORBIDDEN' });
        if (row.error_code === 'TWOFA') {
          // No session yet: verifyTwoFactorLogin exchanges the challenge and a code for one (plugins/two-factor.ts).
          throw new SafeError(row.error_message ?? 'Enter your two-factor code.', { code: 'TWO_FACTOR_REQUIRED', challenge: row.two_factor_challenge });
        }
        if (row.error_code) {
          throw new SafeError(row.error_message ?? 'Sign-in failed.', { code: LOGIN_ERRORS[row.error_code] ?? 'FORBIDDEN' });
        }
        const expiresAt = new Date(row.expires_at);
        return {
          jwtToken: await tokens.sign({ role: row.role, user_id: row.user_id, tenant_id: row.tenant_id, session_id: row.session_id!, expires_at: expiresAt }),
          expiresAt: expiresAt.toISOString(),
          role: row.role,
          userId: row.user_id,
          tenantId: row.tenant_id,
        };
      });

    return {
      typeDefs: gql`
        """A signed session token and what it grants."""
        type Session {
          """Send as \`Authorization: Bearer <jwtToken>\`."""
          jwtToken: String!
          expiresAt: Datetime!
          role: String!
          userId: UUID!
          """The organisation this session acts in (null for staff outside any tenant)."""
          tenantId: UUID
        }
        input RegisterInput {
          email: String!
          password: String!
          name: String
          """Name of the new organisation you will own."""
          tenantName: String!
        }
        input ConfirmRegistrationInput {
          """The token from the confirmation email."""
          token: String!
        }
        """What register answers, whatever the email: the next step is in that inbox."""
        type RegistrationStarted {
          """What to tell the person signing up."""
          message: String!
        }
        input LoginInput {
          email: String!
          password: String!
          """Which of your organisations to sign in to (default: your first)."""
          tenantId: UUID
        }
        input SwitchTenantInput {
          tenantId: UUID!
        }
        input AcceptInvitationInput {
          """The token from the invitation email."""
          token: String!
          """Required for a new account (checked against the organisation's password policy), or to prove an existing one."""
          password: String
          name: String
        }
        """All input for the \`requestPasswordReset\` mutation."""
        input RequestPasswordResetInput {${CLIENT_MUTATION_ID_INPUT}
          email: String
        }
        """The output of our \`requestPasswordReset\` mutation."""
        type RequestPasswordResetPayload {${RESULT_PAYLOAD_FIELDS}
        }
        extend type Mutation {
          """Emails a password reset link (valid one hour) if an account exists. Always returns true; requests are throttled per account and per client, silently."""
          requestPasswordReset(input: RequestPasswordResetInput!): RequestPasswordResetPayload
          """
          Starts a sign-up. The answer is the same whether or not the email has an account: a new address gets a
          confirmation link (valid 24 hours; confirmRegistration creates the account and its organisation on the Free
          plan and signs you in), an address with an account gets a note saying so. Emails are throttled silently.
          """
          register(input: RegisterInput!): RegistrationStarted
          """Completes a sign-up with the token from its confirmation email and signs you in to your new organisation."""
          confirmRegistration(input: ConfirmRegistrationInput!): Session
          """
          Signs in to one of your organisations. Repeated failures lock the account for a while. An account with
          two-factor authentication gets no session but the error TWO_FACTOR_REQUIRED, whose extensions.challenge
          verifyTwoFactorLogin completes with a code.
          """
          login(input: LoginInput!): Session
          """A new session in another of your organisations."""
          switchTenant(input: SwitchTenantInput!): Session
          """Joins the organisation that invited you and signs you in to it."""
          acceptInvitation(input: AcceptInvitationInput!): Session
        }
      `,
      plans: {
        Mutation: {
          register(_: unknown, fieldArgs: FieldArgs) {
            // The client's address comes from the server, never from the input: the SQL throttles per client.
            const $input = object({ input: fieldArgs.getRaw('input') as Step<RegisterInput>, clientIp: context().get('clientIp') });
            const $done = sideEffectWithPgClient(executor, $input, async (client, { input: i, clientIp }) => {
              await client.query({ text: 'select app_hidden.register($1, $2, $3, $4, $5)', values: [i.email, i.password, i.name ?? null, i.tenantName, clientIp ?? null] });
              return true;
            });
            return object({
              message: lambda($done, () => 'Check your inbox: we sent the next step to this address. A confirmation link is valid for 24 hours.'),
            });
          },
          confirmRegistration(_: unknown, fieldArgs: FieldArgs) {
            return toPayload(
              callSession(fieldArgs.getRaw('input') as Step<ConfirmRegistrationInput>, 'select * from app_hidden.confirm_registration($1)', (i) => [i.token]),
            );
          },
          login(_: unknown, fieldArgs: FieldArgs) {
            const $login = object({ input: fieldArgs.getRaw('input') as Step<LoginInput>, clientIp: context().get('clientIp') });
            return toPayload(
              callSession($login, 'select * from app_hidden.login($1, $2, $3, $4)', ({ input: i, clientIp }) => [
                i.email, i.password, i.tenantId ?? null, clientIp ?? null,
              ]),
            );
          },
          requestPasswordReset(_: unknown, fieldArgs: FieldArgs) {
            // The client's address comes from the server, never from the input: the SQL throttles per client.
            const $input = fieldArgs.getRaw('input') as Step<RequestPasswordResetInput>;
            const $result = sideEffectWithPgClient(executor, object({ input: $input, clientIp: context().get('clientIp') }), async (client, { input, clientIp }) => {
              const { rows } = await client.query<{ result: boolean }>({
                text: 'select app_hidden.request_password_reset($1, $2) as result',
                values: [input.email ?? null, clientIp ?? null],
              });
              return rows[0]?.result ?? true;
            });
            return resultPayload($input, $result);
          },
          switchTenant(_: unknown, fieldArgs: FieldArgs) {
            return toPayload(
              callSession(fieldArgs.getRaw('input') as Step<SwitchTenantInput>, 'select * from app_hidden.switch_tenant($1)', (i) => [i.tenantId]),
            );
          },
          acceptInvitation(_: unknown, fieldArgs: FieldArgs) {
            return toPayload(
              callSession(fieldArgs.getRaw('input') as Step<AcceptInvitationInput>, 'select * from app_hidden.accept_invitation($1, $2, $3)', (i) => [
                i.token, i.password ?? null, i.name ?? null,
              ]),
            );
          },
        },
      },
    };
  }, 'SessionMutationsPlugin');
}


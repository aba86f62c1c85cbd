/**
 * Two-factor authentication (TOTP) in the API: startTwoFactorEnrollment,
 * confirmTwoFactor, disableTwoFactor and verifyTwoFactorLogin. The secret is
 * generated and sealed here with the application key (src/crypto/secrets.ts)
 * and codes are computed here (src/auth/totp.ts); every decision (which step
 * may be used, recovery codes, lockouts, challenges) is SQL's
 * (functions/053-two-factor.sql). A wrong code comes back from SQL as a row,
 * so that the failure counter is committed; it becomes a GraphQL error here,
 * after the commit (plugins/refusals.ts).
 */
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { constant, lambda, SafeError, type FieldArgs, type Step } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type { TokenService } from '../src/auth/jwt.ts';
import { OPEN_SESSION_SQL } from '../src/auth/sessions.ts';
import { matchTotpStep, newTotpSecret, otpauthUri } from '../src/auth/totp.ts';
import type { SecretBox } from '../src/crypto/secrets.ts';
import { failIfRefused, type RefusalRow } from './refusals.ts';

export const TOTP_ISSUER = 'PenguinMails';

/** A refused code (error row) → GraphQL error. */
const failIfWrongCode = (row: RefusalRow | undefined) => failIfRefused(row, 'The code is not correct.');

function codeOf(value: unknown): string {
  const code = typeof value === 'string' ? value.trim() : '';
  if (code.length === 0 || code.length > 64) throw new SafeError('Enter the code (six digits, or a recovery code).', { code: 'INVALID_INPUT' });
  return code;
}

/** The step a code matches, given the sealed secret (null: no secret, or no match). */
function stepFor(secretBox: SecretBox, sealed: Buffer | null | undefined, code: string): string | null {
  if (!sealed) return null;
  const step = matchTotpStep(secretBox.decrypt(sealed), code);
  return step === null ? null : step.toString();
}

export function makeTwoFactorPlugin(tokens: TokenService, secretBox: SecretBox): GraphileConfig.Plugin {
  return extendSchema((build) => {
    const executor = build.input.pgRegistry.pgExecutors.main!;
    return {
      typeDefs: gql`
        """A new TOTP secret, shown once: add it to an authenticator app, then confirm with a code (confirmTwoFactor)."""
        type TwoFactorEnrollment {
          """The secret in base 32, for typing into an authenticator app."""
          secret: String!
          """The same secret as an otpauth:// URI (SHA-1, 6 digits, 30 seconds), usually shown as a QR code."""
          otpauthUri: String!
        }
        input ConfirmTwoFactorInput {
          """A current code from the authenticator app."""
          code: String!
        }
        """Two-factor authentication is on. The recovery codes are shown this once."""
        type TwoFactorConfirmed {
          """Ten single-use codes that stand in for the authenticator app at sign-in (or to turn two-factor authentication off)."""
          recoveryCodes: [String!]!
        }
        input DisableTwoFactorInput {
          """A current code from the authenticator app, or a recovery code."""
          code: String!
        }
        type TwoFactorDisabled {
          disabled: Boolean!
        }
        input VerifyTwoFactorLoginInput {
          """The challenge from login's TWO_FACTOR_REQUIRED error (extensions.challenge)."""
          challenge: String!
          """A current code from the authenticator app, or a recovery code."""
          code: String!
        }
        extend type Mutation {
          """
          Starts setting up two-factor authentication for your account: a new secret (replacing one not yet confirmed).
          Refused while two-factor authentication is on.
          """
          startTwoFactorEnrollment: TwoFactorEnrollment
          """Turns two-factor authentication on with a current code of the new secret; returns ten recovery codes, shown once."""
          confirmTwoFactor(input: ConfirmTwoFactorInput!): TwoFactorConfirmed
          """Turns two-factor authentication off with a current code or a recovery code."""
          disableTwoFactor(input: DisableTwoFactorInput!): TwoFactorDisabled
          """
          Completes a sign-in of an account with two-factor authentication: login answers it with the error
          TWO_FACTOR_REQUIRED and a challenge (single use, five minutes), which this exchanges with a code for a session.
          Each code is accepted once; wrong codes lock the second factor like wrong passwords.
          """
          verifyTwoFactorLogin(input: VerifyTwoFactorLoginInput!): Session
        }
      `,
      plans: {
        Mutation: {
          startTwoFactorEnrollment() {
            const $enrollment = sideEffectWithPgClient(executor, constant(null), async (client) => {
              const secret = newTotpSecret();
              const { rows: [row] } = await client.query<{ email: string }>({
                text: 'select app_hidden.start_two_factor_enrollment($1::bytea) as email',
                values: [secretBox.encrypt(secret)],
              });
              return { secret, otpauthUri: otpauthUri(TOTP_ISSUER, row!.email, secret) };
            });
            return $enrollment;
          },
          confirmTwoFactor(_: unknown, fieldArgs: FieldArgs) {
            const $input = fieldArgs.getRaw('input') as Step<{ code: string }>;
            const $row = sideEffectWithPgClient(executor, $input, async (client, input) => {
              const code = codeOf(input.code);
              const { rows: [state] } = await client.query<{ secret_sealed: Buffer }>({ text: 'select * from app_hidden.my_two_factor_secret()' });
              const { rows: [row] } = await client.query<RefusalRow & { recovery_codes: string[] | null }>({
                text: 'select * from app_hidden.confirm_two_factor($1::bigint)',
                values: [stepFor(secretBox, state?.secret_sealed, code)],
              });
              return row!;
            });
            return lambda($row, (row) => {
              failIfWrongCode(row);
              return { recoveryCodes: row.recovery_codes ?? [] };
            });
          },
          disableTwoFactor(_: unknown, fieldArgs: FieldArgs) {
            const $input = fieldArgs.getRaw('input') as Step<{ code: string }>;
            const $row = sideEffectWithPgClient(executor, $input, async (client, input) => {
              const code = codeOf(input.code);
              const { rows: [state] } = await client.query<{ secret_sealed: Buffer }>({ text: 'select * from app_hidden.my_two_factor_secret()' });
              const { rows: [row] } = await client.query<RefusalRow>({
                text: 'select * from app_hidden.disable_two_factor($1::bigint, $2)',
                values: [stepFor(secretBox, state?.secret_sealed, code), code],
              });
              return row!;
            });
            return lambda($row, (row) => {
              failIfWrongCode(row);
              return { disabled: true };
            });
          },
          verifyTwoFactorLogin(_: unknown, fieldArgs: FieldArgs) {
            const $input = fieldArgs.getRaw('input') as Step<{ challenge: string; code: string }>;
            const $row = sideEffectWithPgClient(executor, $input, async (client, input) => {
              const code = codeOf(input.code);
              const { rows: [state] } = await client.query<{ sealed: Buffer | null }>({
                text: 'select app_hidden.two_factor_challenge_secret($1) as sealed',
                values: [input.challenge],
              });
              const { rows: [row] } = await client.query<RefusalRow & { role: 'member' | 'staff'; user_id: string; tenant_id: string | null; expires_at: Date }>({
                text: 'select * from app_hidden.verify_two_factor_login($1, $2::bigint, $3)',
                values: [input.challenge, stepFor(secretBox, state?.sealed, code), code],
              });
              if (!row || row.error_code) return { ...row!, session_id: null };
              // The session the token names, in the same transaction as the sign-in.
              const { rows: [session] } = await client.query<{ id: string }>({ text: OPEN_SESSION_SQL, values: [row.user_id, row.expires_at] });
              return { ...row, session_id: session!.id };
            });
            return lambda($row, async (row) => {
              failIfWrongCode(row);
              const expiresAt = new Date(row.expires_at);
              return {
                jwtToken: await tokens.sign({ role: row.role, user_id: row.user_id, tenant_id: row.tenant_id, session_id: row.session_id!, expires_at: expiresAt }),
                expiresAt: expiresAt.toISOString(),
                role: row.role,
                userId: row.user_id,
                tenantId: row.tenant_id,
              };
            });
          },
        },
      },
    };
  }, 'TwoFactorPlugin');
}

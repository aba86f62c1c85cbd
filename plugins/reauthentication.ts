/**
 * The account operations a signed-in user confirms with their password:
 * changePassword and deleteMyAccount. Every rule is SQL's
 * (app_hidden.change_password, app_hidden.delete_my_account); a wrong password
 * comes back as a row, not an error, so that SQL's count of wrong passwords
 * (app_private.confirm_password) is committed, and becomes a GraphQL error
 * here (INVALID_CREDENTIALS, then ACCOUNT_LOCKED). The payloads keep the shape
 * PostGraphile gives a function's mutation (plugins/result-payload.ts).
 */
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { lambda, type FieldArgs, type Step } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import { failIfRefused, type RefusalRow } from './refusals.ts';
import { CLIENT_MUTATION_ID_INPUT, RESULT_PAYLOAD_FIELDS, resultPayload } from './result-payload.ts';

interface Confirmed {
  clientMutationId?: string | null;
}

export const ReauthenticationPlugin: GraphileConfig.Plugin = extendSchema((build) => {
  const executor = build.input.pgRegistry.pgExecutors.main!;

  /** Runs `text` (a function returning one refusal row) in the request's transaction; the payload, or the refusal as an error. */
  const confirmedCall = <T extends Confirmed>(fieldArgs: FieldArgs, text: string, values: (input: T) => unknown[]) => {
    const $input = fieldArgs.getRaw('input') as Step<T>;
    const $row = sideEffectWithPgClient(executor, $input, async (client, input) => {
      const { rows: [row] } = await client.query<RefusalRow>({ text, values: values(input) });
      return row;
    });
    const $result = lambda($row, (row) => {
      failIfRefused(row, 'Incorrect password.');
      return true;
    });
    return resultPayload($input, $result);
  };

  return {
    typeDefs: gql`
      """All input for the \`changePassword\` mutation."""
      input ChangePasswordInput {${CLIENT_MUTATION_ID_INPUT}
        oldPassword: String!
        newPassword: String!
      }
      """The output of our \`changePassword\` mutation."""
      type ChangePasswordPayload {${RESULT_PAYLOAD_FIELDS}
      }
      """All input for the \`deleteMyAccount\` mutation."""
      input DeleteMyAccountInput {${CLIENT_MUTATION_ID_INPUT}
        password: String!
      }
      """The output of our \`deleteMyAccount\` mutation."""
      type DeleteMyAccountPayload {${RESULT_PAYLOAD_FIELDS}
      }
      extend type Mutation {
        """
        Changes your password after checking the current one, against the strictest policy of your organisations;
        your other sessions end. Wrong current passwords are counted: after your organisation's max_login_attempts
        the check is locked for its lockout_minutes (ACCOUNT_LOCKED).
        """
        changePassword(input: ChangePasswordInput!): ChangePasswordPayload
        """
        Deletes your account (confirm with your password): your memberships end, every session is signed out, and
        your name and email address are erased. Refused while you are the only owner of an open organisation.
        Wrong passwords are counted as for changePassword.
        """
        deleteMyAccount(input: DeleteMyAccountInput!): DeleteMyAccountPayload
      }
    `,
    plans: {
      Mutation: {
        changePassword(_: unknown, fieldArgs: FieldArgs) {
          return confirmedCall<Confirmed & { oldPassword: string; newPassword: string }>(fieldArgs, 'select * from app_hidden.change_password($1, $2)', (i) => [
            i.oldPassword,
            i.newPassword,
          ]);
        },
        deleteMyAccount(_: unknown, fieldArgs: FieldArgs) {
          return confirmedCall<Confirmed & { password: string }>(fieldArgs, 'select * from app_hidden.delete_my_account($1)', (i) => [i.password]);
        },
      },
    },
  };
}, 'ReauthenticationPlugin');

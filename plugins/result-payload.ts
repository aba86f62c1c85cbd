/**
 * Mutations written in a plugin that keep the shape PostGraphile gives a SQL
 * function's mutation: an input with clientMutationId, and a payload of
 * clientMutationId, query and result. Used by plugins/session-mutations.ts
 * (requestPasswordReset) and plugins/reauthentication.ts.
 */
import { lambda, object, rootValue, type Step } from 'postgraphile/grafast';

/** The input's clientMutationId field, for a gql`` input type. */
export const CLIENT_MUTATION_ID_INPUT = `
  """
  An arbitrary string value with no semantic meaning. Will be included in the
  payload verbatim. May be used to track mutations by the client.
  """
  clientMutationId: String`;

/** The payload's fields, for a gql`` output type. */
export const RESULT_PAYLOAD_FIELDS = `
  """
  The exact same \`clientMutationId\` that was provided in the mutation input,
  unchanged and unused. May be used by a client to track mutations.
  """
  clientMutationId: String
  """
  Our root query field type. Allows us to run any query from our mutation payload.
  """
  query: Query
  result: Boolean`;

/** The payload: the result, the input's clientMutationId, and the root query. */
export function resultPayload($input: Step<{ clientMutationId?: string | null }>, $result: Step<boolean>) {
  return object({ result: $result, clientMutationId: lambda($input, (i) => i.clientMutationId ?? null), query: rootValue() });
}

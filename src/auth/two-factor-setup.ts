/**
 * Which GraphQL operations set up two-factor authentication and nothing
 * else. A member of an organisation that requires two-factor authentication
 * and has none is refused every request in it (app_hidden.enter_request,
 * functions/001-request-context.sql), except these: the API marks them with
 * the setting app.two_factor_setup, and the database then runs them with no
 * role in the tenant, so they reach none of its data whatever they select.
 */
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'postgraphile/graphql';

/** Root fields such a request may select: enrol, see who and where you are, switch organisation, sign out. */
const SETUP_FIELDS: Record<string, ReadonlySet<string>> = {
  mutation: new Set(['startTwoFactorEnrollment', 'confirmTwoFactor', 'switchTenant', 'logout', 'logoutEverywhere']),
  query: new Set(['currentUser', 'myMemberships', '__typename']),
};

export function isTwoFactorSetupOperation(document: DocumentNode, operationName?: string | null): boolean {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  const allowed = operation && SETUP_FIELDS[operation.operation];
  if (!operation || !allowed) return false;
  // Plain fields only: a fragment at the root is not looked into.
  return operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && allowed.has(s.name.value));
}

/**
 * Which GraphQL operations only set up an account to meet an organisation's
 * policy (two-factor authentication, a confirmed email) and do nothing else.
 * A member whose account lacks what their organisation requires is refused
 * every request in it (app_hidden.enter_request,
 * functions/001-request-context.sql), except these: the API marks them with
 * the setting app.account_setup, and the database then runs them with no
 * role in the tenant, so they reach none of its data whatever they select.
 */
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'postgraphile/graphql';

/** Root fields such a request may select: set up, see who and where you are, switch organisation, sign out. */
const SETUP_FIELDS: Record<string, ReadonlySet<string>> = {
  mutation: new Set([
    'startTwoFactorEnrollment', 'confirmTwoFactor', 'requestEmailVerification', 'verifyEmail',
    'switchTenant', 'logout', 'logoutEverywhere',
  ]),
  query: new Set(['currentUser', 'myMemberships', '__typename']),
};

export function isAccountSetupOperation(document: DocumentNode, operationName?: string | null): boolean {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  const allowed = operation && SETUP_FIELDS[operation.operation];
  if (!operation || !allowed) return false;
  // Plain fields only: a fragment at the root is not looked into.
  return operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && allowed.has(s.name.value));
}

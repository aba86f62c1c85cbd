/**
 * An operation's cost, counted before anything runs, and a limit on it
 * (MAX_QUERY_COST): every field selected costs 1, and what a connection or
 * list field selects below it counts once per row it may return (`first` or
 * `last` when given as a literal, else the largest page, MAX_PAGE_SIZE).
 * Aliases are separate fields, so `a: leads … b: leads …` costs twice; fragments
 * count where they are spread. Over the limit the request is refused with
 * QUERY_TOO_COSTLY naming both numbers.
 *
 * Also: the anonymous auth operations (login, register, requestPasswordReset,
 * acceptInvitation) are attempts, so each alias of one counts against the
 * request budget (RATE_LIMIT_PER_MINUTE): a single request cannot carry a
 * hundred password guesses past it.
 */
import 'graphile-config';
import 'postgraphile';
import 'postgraphile/grafserv';
import type { IncomingMessage } from 'node:http';
import { SafeError } from 'postgraphile/grafast';
import {
  getNamedType,
  GraphQLError,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  Kind,
  parse,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLOutputType,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'postgraphile/graphql';

export const AUTH_OPERATIONS: ReadonlySet<string> = new Set([
  'login', 'register', 'requestPasswordReset', 'acceptInvitation',
  'verifyTwoFactorLogin', 'confirmTwoFactor', 'disableTwoFactor',
]);

const returnsList = (type: GraphQLOutputType): boolean => isListType(isNonNullType(type) ? type.ofType : type);

export function queryCostRule(maxCost: number, maxPageSize: number): ValidationRule {
  return (context: ValidationContext) => {
    const schema = context.getSchema();
    const fragments = new Map(
      context.getDocument().definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
    );
    /** The cost of a selection set on a type; `seen` stops fragment cycles (validation reports them). */
    const costOf = (selectionSet: SelectionSetNode, parent: GraphQLCompositeType, seen: ReadonlySet<string>): number => {
      let total = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value.startsWith('__')) continue;
          total += 1;
          const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[selection.name.value] : undefined;
          if (!field || !selection.selectionSet) continue;
          const child = getNamedType(field.type);
          if (!isObjectType(child) && !isInterfaceType(child) && !isUnionType(child)) continue;
          const sizeArg = selection.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'last');
          const literal = sizeArg?.value.kind === Kind.INT ? Number(sizeArg.value.value) : null;
          // A connection's rows are counted on the connection, not again on its nodes or edges.
          const isPage = (/Connection$/.test(child.name) || returnsList(field.type)) && !/Connection$/.test(parent.name);
          const rows = isPage ? Math.max(1, Math.min(literal ?? maxPageSize, maxPageSize)) : 1;
          total += rows * costOf(selection.selectionSet, child as GraphQLCompositeType, seen);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
          total += costOf(selection.selectionSet, (on ?? parent) as GraphQLCompositeType, seen);
        } else {
          const name = selection.name.value;
          const fragment: FragmentDefinitionNode | undefined = fragments.get(name);
          if (!fragment || seen.has(name)) continue;
          const on = schema.getType(fragment.typeCondition.name.value) ?? parent;
          total += costOf(fragment.selectionSet, on as GraphQLCompositeType, new Set([...seen, name]));
        }
        if (total > maxCost) return total; // enough to refuse ("at least"); counting the rest could take long
      }
      return total;
    };
    return {
      OperationDefinition(operation) {
        const root = operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
        if (!root) return;
        const cost = costOf(operation.selectionSet, root, new Set());
        if (cost > maxCost) {
          context.reportError(
            new GraphQLError(
              `This ${operation.operation} costs at least ${cost}; the limit is ${maxCost} (MAX_QUERY_COST). Every field counts 1, and what a list selects counts once per row it may return (its first/last, else ${maxPageSize}); ask for fewer rows, fields or aliases.`,
              { nodes: [operation], extensions: { code: 'QUERY_TOO_COSTLY' } },
            ),
          );
        }
      },
    };
  };
}

/** How many auth operations (aliases included) the chosen operation of a document selects at its top level. */
export function authAttempts(query: string, operationName: string | null): number {
  let document;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    return 0;
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation || operation.operation !== 'mutation') return 0;
  return operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD && AUTH_OPERATIONS.has(s.name.value)).length;
}

export interface QueryCostOptions {
  maxCost: number;
  maxPageSize: number;
  /**
   * Counts `extra` more requests of this HTTP request's client against the
   * request budget; returns the seconds to wait when it is spent, else null.
   */
  chargeExtra?: (req: IncomingMessage, extra: number) => number | null;
}

export function makeQueryCostPlugin({ maxCost, maxPageSize, chargeExtra }: QueryCostOptions): GraphileConfig.Plugin {
  return {
    name: 'QueryCostPlugin',
    description: `Refuses operations costing more than ${maxCost}; auth operations count once per alias against the request budget.`,
    version: '1.0.0',
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(queryCostRule(maxCost, maxPageSize));
          return next();
        },
        processGraphQLRequestBody(next, event) {
          const req = event.request?.requestContext?.node?.req;
          const { query, operationName } = event.body;
          if (chargeExtra && req && typeof query === 'string') {
            const attempts = authAttempts(query, typeof operationName === 'string' ? operationName : null);
            if (attempts > 1) {
              const wait = chargeExtra(req, attempts - 1);
              if (wait !== null) {
                throw new SafeError(`Too many requests: this one carries ${attempts} sign-in or account operations, each counting as one request. Retry in ${wait} s.`, {
                  code: 'RATE_LIMITED',
                  statusCode: 429,
                });
              }
            }
          }
          return next();
        },
      },
    },
  };
}

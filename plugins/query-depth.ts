/**
 * Rejects documents nested deeper than `maxDepth` during validation (before
 * any planning or SQL), so one request cannot fan out across every relation.
 */
import 'graphile-config';
import 'postgraphile';
import { GraphQLError, Kind, type ASTNode, type ValidationContext, type ValidationRule } from 'postgraphile/graphql';

export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map(
      context.getDocument().definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
    );
    const depthOf = (node: ASTNode, depth: number, seen: Set<string>): number => {
      if (!('selectionSet' in node) || !node.selectionSet) return depth;
      let max = depth;
      for (const selection of node.selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value.startsWith('__')) continue;
          max = Math.max(max, depthOf(selection, depth + 1, seen));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthOf(selection, depth, seen));
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (fragment && !seen.has(name)) max = Math.max(max, depthOf(fragment, depth, new Set([...seen, name])));
        }
      }
      return max;
    };
    return {
      OperationDefinition(operation) {
        const depth = depthOf(operation, 0, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`This query is nested ${depth} levels deep; the maximum is ${maxDepth}.`, {
              nodes: [operation],
              extensions: { code: 'QUERY_TOO_COMPLEX' },
            }),
          );
        }
      },
    };
  };
}

export function makeQueryDepthPlugin(maxDepth: number): GraphileConfig.Plugin {
  return {
    name: 'QueryDepthPlugin',
    description: `Rejects queries nested more than ${maxDepth} levels.`,
    version: '1.0.0',
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(depthLimitRule(maxDepth));
          return next();
        },
      },
    },
  };
}

/**
 * Records the GraphQL operation name of a request in its scope
 * (src/log/scope.ts), for the request log line and the per-operation
 * metrics: the body's operationName, else the name of the document's only
 * operation, else none (logged and counted as "anonymous").
 */
import 'graphile-config';
import 'postgraphile';
import 'postgraphile/grafserv';
import { currentScope } from '../src/log/scope.ts';

/** The name of the first named operation of a document, without parsing it. */
export function operationNameOf(body: { operationName?: unknown; query?: unknown }): string | undefined {
  if (typeof body.operationName === 'string' && body.operationName) return body.operationName;
  if (typeof body.query !== 'string') return undefined;
  return /^\s*(?:#[^\n]*\n\s*)*(?:query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(body.query)?.[1];
}

export const OperationNamePlugin: GraphileConfig.Plugin = {
  name: 'OperationNamePlugin',
  description: "Puts the request's GraphQL operation name in its scope, for logs and metrics.",
  version: '1.0.0',
  grafserv: {
    middleware: {
      processGraphQLRequestBody(next, event) {
        const scope = currentScope();
        if (scope) scope.operationName = operationNameOf(event.body as { operationName?: unknown; query?: unknown });
        return next();
      },
    },
  },
};

/**
 * Documents that never reach execution still get a stable code:
 * GRAPHQL_PARSE_FAILED for syntax errors, GRAPHQL_VALIDATION_FAILED for
 * anything the validation rules reject (unknown fields, wrong argument
 * types…), and INTROSPECTION_DISABLED for `__schema`/`__type` when
 * introspection is off (production). grafserv answers these without calling
 * maskError, so the codes are attached here: every validation rule reports
 * through a context that adds the code, and the query is parsed once up
 * front (remembering recent good ones) so a syntax error can carry its code.
 */
import 'graphile-config';
import 'postgraphile';
import 'postgraphile/grafserv';
import { SafeError } from 'postgraphile/grafast';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  Source,
  type ValidationContext,
  type ValidationRule,
} from 'postgraphile/graphql';

/**
 * graphql-js's hints that name schema members ("Did you mean "currentUser"?"):
 * without introspection they would hand the schema out piece by piece.
 */
const SUGGESTION = / ?Did you mean [^?]*\?/;
export const withoutSuggestions = (message: string): string => message.replace(new RegExp(SUGGESTION, 'g'), '').trim();

/** The same rule, reporting its errors with `code` unless they carry one already (and without suggestions when `hideSuggestions`). */
export function withErrorCode(rule: ValidationRule, code: string, hideSuggestions = false): ValidationRule {
  return (context: ValidationContext) => {
    const coded = Object.create(context) as ValidationContext;
    coded.reportError = (error: GraphQLError) =>
      context.reportError(
        error.extensions?.code && !(hideSuggestions && SUGGESTION.test(error.message))
          ? error
          : new GraphQLError(hideSuggestions ? withoutSuggestions(error.message) : error.message, {
              nodes: error.nodes,
              source: error.source,
              positions: error.positions,
              path: error.path,
              originalError: error.originalError,
              extensions: { ...error.extensions, code: error.extensions?.code ?? code },
            }),
      );
    return rule(coded);
  };
}

const RECENT_LIMIT = 1000;

export function makeValidationCodesPlugin({ introspection }: { introspection: boolean }): GraphileConfig.Plugin {
  const parsedRecently = new Set<string>();
  const assertParses = (query: string) => {
    if (parsedRecently.has(query)) return;
    try {
      parse(new Source(query, 'GraphQL request'));
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      const where = error.locations?.[0] ? ` (line ${error.locations[0].line}, column ${error.locations[0].column})` : '';
      throw new SafeError(`${error.message}${where}`, { code: 'GRAPHQL_PARSE_FAILED', statusCode: 400 });
    }
    if (parsedRecently.size >= RECENT_LIMIT) parsedRecently.delete(parsedRecently.values().next().value!);
    parsedRecently.add(query);
  };

  return {
    name: 'ValidationCodesPlugin',
    description: 'Stable codes on parse and validation errors; optional introspection ban.',
    version: '1.0.0',
    grafserv: {
      middleware: {
        setPreset(next, event) {
          if (!introspection) event.validationRules.push(withErrorCode(NoSchemaIntrospectionCustomRule, 'INTROSPECTION_DISABLED'));
          // Without introspection, no "Did you mean …" either (graphql-js has no switch for it in validate() as grafserv calls it).
          event.validationRules = event.validationRules.map((rule) => withErrorCode(rule, 'GRAPHQL_VALIDATION_FAILED', !introspection));
          return next();
        },
        processGraphQLRequestBody(next, event) {
          const query = (event.body as { query?: unknown }).query;
          if (typeof query === 'string') assertParses(query);
          return next();
        },
      },
    },
  };
}

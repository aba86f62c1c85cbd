/**
 * Every connection is paginated: without `first`/`last` a page holds
 * `defaultPageSize` rows, and asking for more than `maxPageSize` is an
 * INVALID_INPUT error. One client cannot read a million rows in one request.
 */
import 'graphile-config';
import 'postgraphile';
import { lambda, SafeError } from 'postgraphile/grafast';

export function makePageSizePlugin({ defaultPageSize, maxPageSize }: { defaultPageSize: number; maxPageSize: number }): GraphileConfig.Plugin {
  const check = (name: string) => (raw: unknown): number | null | undefined => {
    const value = raw as number | null | undefined;
    if (value != null && (value < 0 || value > maxPageSize)) {
      throw new SafeError(`\`${name}\` must be between 0 and ${maxPageSize}; got ${value}.`, { code: 'INVALID_INPUT' });
    }
    return value;
  };
  const checkFirst = check('first');
  const checkLast = check('last');
  const resolveFirst = ([first, last]: readonly [unknown, unknown]) =>
    checkFirst(first) ?? (last == null ? defaultPageSize : undefined);

  return {
    name: 'PageSizePlugin',
    description: 'Default and maximum page size for every connection.',
    version: '1.0.0',
    after: ['PgFirstLastBeforeAfterArgsPlugin'],
    schema: {
      hooks: {
        GraphQLObjectType_fields_field_args(args, _build, context) {
          if (!context.scope.isPgFieldConnection || !args.first) return args;
          // `first` is applied by the field plan below, together with its default.
          args.first = { ...args.first, applyPlan: undefined };
          if (args.last) {
            args.last = {
              ...args.last,
              applyPlan(_: unknown, $connection: any, arg: any) {
                $connection.setLast(lambda(arg.getRaw(), checkLast, true));
              },
            };
          }
          return args;
        },
        GraphQLObjectType_fields_field(field, _build, context) {
          if (!context.scope.isPgFieldConnection || !field.plan || !field.args?.first) return field;
          const plan = field.plan;
          field.plan = function (this: unknown, $parent: any, fieldArgs: any, info: any) {
            const $connection = (plan as any).call(this, $parent, fieldArgs, info);
            if ($connection && typeof $connection.setFirst === 'function') {
              $connection.setFirst(lambda([fieldArgs.getRaw('first'), fieldArgs.getRaw('last')], resolveFirst, true));
            }
            return $connection;
          } as typeof field.plan;
          return field;
        },
      },
    },
  };
}

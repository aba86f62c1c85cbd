/**
 * Every connection is paginated: without `first`/`last` a page holds
 * `defaultPageSize` rows, and asking for more than `maxPageSize` (or a
 * negative number) is an INVALID_INPUT error on that field. One client cannot
 * read a million rows in one request.
 *
 * graphile-build runs the field hook before the argument hook, so the field
 * plan is wrapped for every connection field and decides at planning time
 * whether the field really has pagination arguments; the argument hook
 * removes the stock `first`/`last` appliers, whose job the wrapper takes over.
 *
 * Where the default goes matters. grafast's ConnectionStep only fetches a
 * page when something reads it (`nodes`, `edges`, `pageInfo`); `totalCount`,
 * `aggregates` and `groupedAggregates` run on a clone of the collection
 * without pagination. But `ConnectionStep.setFirst()` marks the page as
 * needed, so calling it for the default made every aggregate-only query also
 * fetch a page of rows nobody read (docs/performance.md, finding 4). So:
 *
 * - when the client gave `first` or `last`, they go through the connection
 *   as PostGraphile's own appliers do, checked against the limits (an error
 *   on the field even if only `totalCount` was asked for);
 * - when it gave neither, the default is set on the collection step itself
 *   (the PgSelectStep: where the rows are selected). It caps the page
 *   whenever one is fetched, and when none is, nothing is fetched at all.
 */
import 'graphile-config';
import 'postgraphile';
import { constant, ConstantStep, lambda, SafeError, type FieldArgs, type FieldInfo, type Step } from 'postgraphile/grafast';

export interface PageSizeOptions {
  defaultPageSize: number;
  maxPageSize: number;
}

/** What a connection step offers for pagination (grafast's ConnectionStep). */
interface Paginated {
  setFirst(step: Step<number | null>): void;
  setLast(step: Step<number | null>): void;
  getSubplan?(): unknown;
}

/** A collection step that applies its own pagination (PgSelectStep, PgUnionAllStep). */
interface FullyPaginated {
  paginationSupport: { full?: boolean };
  setFirst(step: Step<number | null>): unknown;
}

const isPaginated = (step: unknown): step is Paginated =>
  typeof (step as Paginated | null)?.setFirst === 'function' && typeof (step as Paginated).setLast === 'function';

const isFullyPaginated = (step: unknown): step is FullyPaginated =>
  (step as FullyPaginated | null)?.paginationSupport?.full === true && typeof (step as FullyPaginated).setFirst === 'function';

/** The argument is not in the document (or is a literal null). */
const absent = ($arg: Step): boolean => $arg instanceof ConstantStep && $arg.data == null;

export function makePageSizePlugin({ defaultPageSize, maxPageSize }: PageSizeOptions): GraphileConfig.Plugin {
  const check = (name: string, value: unknown): number | null => {
    if (value == null) return null;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > maxPageSize) {
      throw new SafeError(`\`${name}\` must be a whole number between 0 and ${maxPageSize}; got ${String(value)}.`, {
        code: 'INVALID_INPUT',
      });
    }
    return value;
  };
  /** The page size to apply: `first`, or the default unless paginating backwards with `last`. */
  const firstOf = ([first, last]: readonly unknown[]): number | null =>
    check('first', first) ?? (check('last', last) == null ? defaultPageSize : null);
  const lastOf = (last: unknown): number | null => check('last', last);

  return {
    name: 'PageSizePlugin',
    description: 'Default and maximum page size for every connection.',
    version: '1.0.0',
    after: ['PgFirstLastBeforeAfterArgsPlugin'],
    schema: {
      hooks: {
        GraphQLObjectType_fields_field(field, _build, context) {
          if (!context.scope.isPgFieldConnection || typeof field.plan !== 'function') return field;
          const plan = field.plan;
          field.plan = function (this: unknown, $parent: Step, fieldArgs: FieldArgs, info: FieldInfo) {
            const $connection: unknown = plan.call(this, $parent, fieldArgs, info);
            const argNames = new Set(info.field.args.map((a) => a.name));
            if (argNames.has('first') && isPaginated($connection)) {
              const $first = fieldArgs.getRaw('first');
              const $last = argNames.has('last') ? fieldArgs.getRaw('last') : constant(null);
              const $collection = $connection.getSubplan?.();
              if (absent($first) && absent($last) && isFullyPaginated($collection)) {
                // Only the default: a limit on the rows, without asking for them.
                $collection.setFirst(constant(defaultPageSize));
              } else {
                $connection.setFirst(lambda([$first, $last], firstOf));
                if (argNames.has('last')) $connection.setLast(lambda($last, lastOf));
              }
            }
            return $connection;
          } as typeof field.plan;
          return field;
        },
        GraphQLObjectType_fields_field_args(args, _build, context) {
          if (!context.scope.isPgFieldConnection || !args.first) return args;
          // Applied by the field plan above, with the default and the limits.
          args.first = { ...args.first, applyPlan: undefined };
          if (args.last) args.last = { ...args.last, applyPlan: undefined };
          return args;
        },
      },
    },
  };
}

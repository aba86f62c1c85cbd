/**
 * An update or delete that reaches no row must say so. Out of the box an
 * update of a row the caller cannot see returns a null payload without an
 * error, and a delete fails with an internal-looking message. This plugin
 * turns both into a clear error with a stable code, telling apart
 *   - NOT_FOUND: no such row in your organisation (including other tenants'
 *     rows, which RLS hides), and
 *   - FORBIDDEN: you can see the row, but your role may not change it.
 * The extra lookup runs only when nothing was changed, as the caller (RLS
 * applies), and nothing is written either way.
 */
import 'graphile-config';
import 'postgraphile';
import { sqlValueWithCodec, withPgClient, type PgCodecWithAttributes, type PgResource } from 'postgraphile/@dataplan/pg';
import {
  list,
  object,
  SafeError,
  trap,
  TRAP_ERROR_OR_INHIBITED,
  TRAP_INHIBITED,
  type FieldArgs,
  type FieldInfo,
  type Step,
} from 'postgraphile/grafast';
import { getNamedType, isInputObjectType } from 'postgraphile/graphql';
import { sql } from 'postgraphile/pg-sql2';

/** "CampaignSequenceStep" → "campaign sequence step". */
const words = (typeName: string) => typeName.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();

const NOTHING_DELETED = /^No values were deleted in collection/;

export const MutationGuardsPlugin: GraphileConfig.Plugin = {
  name: 'MutationGuardsPlugin',
  description: 'Updates and deletes that reach no row fail with NOT_FOUND or FORBIDDEN.',
  version: '1.0.0',
  after: ['PgMutationUpdateDeletePlugin'],
  schema: {
    hooks: {
      GraphQLObjectType_fields_field(field, build, context) {
        const { scope } = context;
        const isUpdate = Boolean(scope.isPgUpdateMutation);
        if ((!isUpdate && !scope.isPgDeleteMutation) || typeof field.plan !== 'function') return field;
        const resource = scope.pgFieldResource as PgResource | undefined;
        if (!resource?.codec.attributes) return field;
        const codec = resource.codec as PgCodecWithAttributes;
        const attributes = codec.attributes;
        const executor = resource.executor;
        const typeName = build.inflection.tableType(resource.codec);
        const entity = words(typeName);
        const verb = isUpdate ? 'change' : 'delete';
        const plan = field.plan;

        /** The steps naming the row the mutation targets, by attribute. */
        const targetSpec = (fieldArgs: FieldArgs, info: FieldInfo): Record<string, Step> | null => {
          const input = getNamedType(info.field.args.find((a) => a.name === 'input')?.type);
          if (!isInputObjectType(input)) return null;
          const keyFields = new Set(Object.keys(input.getFields()));
          const unique = resource.uniques.find((u) =>
            u.attributes.every((attributeName) => keyFields.has(build.inflection.attribute({ attributeName, codec }))),
          );
          if (!unique) return null;
          return Object.fromEntries(
            unique.attributes.map((attributeName) => [
              attributeName,
              fieldArgs.getRaw(['input', build.inflection.attribute({ attributeName, codec })]),
            ]),
          );
        };

        field.plan = function (this: unknown, $root: Step, fieldArgs: FieldArgs, info: FieldInfo) {
          // The key steps first: steps planned after the mutation (a side effect) would inherit its error.
          const spec = targetSpec(fieldArgs, info);
          const $payload = plan.call(this, $root, fieldArgs, info) as Step & { getStepForKey(key: string): Step };
          const $result = $payload.getStepForKey('result');
          if (!spec) return $payload;
          const names = Object.keys(spec);
          // A plain step, not a side effect: side effects implicitly wait on the mutation and would inherit its error.
          const $checked = withPgClient(
            executor,
            list([
              trap($result, TRAP_ERROR_OR_INHIBITED, { valueForInhibited: 'NULL' }),
              // A key that matched nothing: look that up too.
              ...names.map((n) => trap(spec[n]!, TRAP_INHIBITED, { valueForInhibited: 'NULL' })),
            ]),
            async (client, [result, ...values]) => {
              if (result instanceof Error) {
                if (!NOTHING_DELETED.test(result.message)) throw result;
              } else if (result != null) {
                return true;
              }
              // Nothing was changed: is the row there for this caller at all?
              const where = names.map((name, i) => sql`t.${sql.identifier(name)} = ${sqlValueWithCodec(values[i], attributes[name]!.codec)}`);
              const query = sql.compile(sql`select 1 from ${resource.from as ReturnType<typeof sql>} as t where ${sql.join(where, ' and ')}`);
              const { rows } = values.some((v) => v == null) ? { rows: [] } : await client.query(query);
              if (rows.length > 0) {
                throw new SafeError(`Your role in this organisation does not allow you to ${verb} this ${entity}.`, { code: 'FORBIDDEN' });
              }
              throw new SafeError(`There is no ${entity} with this id in your organisation.`, { code: 'NOT_FOUND' });
            },
          );
          // `checked` first: when both fail (a delete that found nothing), its clearer error is the one reported.
          return object({ checked: $checked, result: $result });
        } as typeof field.plan;
        return field;
      },
    },
  },
};

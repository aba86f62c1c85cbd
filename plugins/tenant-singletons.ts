/**
 * Tables with one row per tenant (their primary key is tenant_id alone:
 * tenant_config, tenant_policies) are the caller's organisation's settings.
 * Out of the box their lookup and update take the tenant id
 * (`tenantConfig(tenantId:)`, `updateTenantConfig(input: { tenantId, patch })`);
 * since no input of the API names a tenant (it comes from the token), this
 * plugin removes that argument and targets the request's tenant instead:
 * `tenantConfig` and `updateTenantConfig(input: { patch })`. RLS still
 * decides what the caller may read and change; an update that changes
 * nothing says why (FORBIDDEN for a role that may not change the settings).
 */
import 'graphile-config';
import 'postgraphile';
import { pgUpdateSingle, type PgCodecWithAttributes, type PgResource } from 'postgraphile/@dataplan/pg';
import { context, lambda, object, SafeError, trap, TRAP_ERROR_OR_INHIBITED, type FieldArgs, type Step } from 'postgraphile/grafast';

/** A table whose primary key is its tenant_id alone. */
function isTenantSingleton(resource: PgResource | undefined): resource is PgResource & { codec: PgCodecWithAttributes } {
  return Boolean(
    resource?.codec.attributes &&
      resource.uniques.some((u) => u.isPrimary && u.attributes.length === 1 && u.attributes[0] === 'tenant_id'),
  );
}

/** "TenantPolicy" → "tenant policy". */
const words = (typeName: string) => typeName.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();

/** The request's tenant (set by the server's context from the verified token). */
const currentTenant = () => context().get('currentTenantId') as Step<string | null>;

export const TenantSingletonsPlugin: GraphileConfig.Plugin = {
  name: 'TenantSingletonsPlugin',
  description: 'One-row-per-tenant tables are read and updated without a tenant id: the request\'s tenant is used.',
  version: '1.0.0',
  after: ['PgRowByUniquePlugin', 'PgMutationUpdateDeletePlugin', 'MutationGuardsPlugin'],
  schema: {
    hooks: {
      GraphQLInputObjectType_fields(fields, build, hookContext) {
        const { scope } = hookContext;
        const resource = scope.pgResource as PgResource | undefined;
        if (!scope.isPgUpdateByKeysInputType || !isTenantSingleton(resource)) return fields;
        delete fields[build.inflection.attribute({ attributeName: 'tenant_id', codec: resource.codec })];
        return fields;
      },
      GraphQLObjectType_fields_field(field, build, hookContext) {
        const { scope } = hookContext;
        const resource = scope.pgFieldResource as PgResource | undefined;
        if (!isTenantSingleton(resource)) return field;
        const tenantArg = build.inflection.attribute({ attributeName: 'tenant_id', codec: resource.codec });
        const entity = words(build.inflection.tableType(resource.codec));
        if (scope.isPgRowByUniqueConstraintField) {
          if (field.args) delete field.args[tenantArg];
          field.description = `Your organisation's ${entity}.`;
          field.plan = () => resource.get({ tenant_id: currentTenant() });
          return field;
        }
        if (scope.isPgUpdateMutation) {
          field.description = `Updates your organisation's ${entity} with a patch.`;
          field.plan = (_$root: Step, fieldArgs: FieldArgs) => {
            const $update = pgUpdateSingle(resource, { tenant_id: currentTenant() });
            fieldArgs.apply($update);
            // RLS hid the row from this update: the role may read the settings but not change them.
            const $checked = lambda(trap($update, TRAP_ERROR_OR_INHIBITED, { valueForInhibited: 'NULL' }), (result) => {
              if (result instanceof Error) throw result;
              if (result == null) {
                throw new SafeError(`Your role in this organisation does not allow you to change its ${entity}.`, { code: 'FORBIDDEN' });
              }
              return true;
            });
            return object({ checked: $checked, result: $update });
          };
        }
        return field;
      },
    },
  },
};

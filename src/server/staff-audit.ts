/**
 * Every operation a staff member runs inside a tenant through an access
 * session is audited, reads included: before the operation runs, the API
 * records it (its type, name and every `Type.field` it selects) in the
 * tenant's audit_log and in platform_audit_log, in a transaction of its own
 * on the owner's pool (app_private.record_staff_operation decides whether the
 * request is such an access; a member acting in their own tenant records
 * nothing). If the record cannot be written the operation does not run.
 */
import type pg from 'pg';
import {
  getNamedType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'postgraphile/graphql';
import type { PgSettings } from './context.ts';

/** At most this many `Type.field` entries per record (a huge query is still recorded, truncated). */
const MAX_FIELDS = 500;

export interface OperationDescription {
  /** query, mutation or subscription; for HTTP routes, "http". */
  type: string;
  /** The operation's name, or the route ("POST /imports/leads"). */
  name: string | null;
  /** Every field selected, as `Type.field` (`Query.leads`, `Lead.email`), sorted. */
  fields: string[];
  truncated?: boolean;
}

/** What a GraphQL operation touches, for the audit record. */
export function describeOperation(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): OperationDescription {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return { type: 'unknown', name: operationName ?? null, fields: [] };
  // Fragments used by the operation are visited through the document.
  const fields = new Set<string>();
  const typeInfo = new TypeInfo(schema);
  const wanted = new Set<unknown>([operation, ...document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)]);
  for (const definition of document.definitions) {
    if (!wanted.has(definition)) continue;
    visit(
      definition,
      visitWithTypeInfo(typeInfo, {
        Field(node) {
          const parent = typeInfo.getParentType();
          if (parent && !node.name.value.startsWith('__')) fields.add(`${getNamedType(parent).name}.${node.name.value}`);
        },
      }),
    );
  }
  const sorted = [...fields].sort();
  return {
    type: operation.operation,
    name: operation.name?.value ?? null,
    fields: sorted.slice(0, MAX_FIELDS),
    ...(sorted.length > MAX_FIELDS ? { truncated: true } : {}),
  };
}

/**
 * Records the operation when these request settings are a staff token acting
 * in a tenant. Throws (and the operation must not run) when it cannot.
 */
export async function recordStaffOperation(pool: pg.Pool | undefined, settings: PgSettings, describe: () => OperationDescription): Promise<void> {
  const tenantId = settings['app.current_tenant_id'];
  if (settings.role !== 'penguinmails_staff' || !tenantId) return;
  if (!pool) throw new Error('Staff operations are audited through the owner pool, which this server was not given.');
  await pool.query('select app_private.record_staff_operation($1::uuid, $2::uuid, $3::jsonb, $4)', [
    settings['app.current_user_id'],
    tenantId,
    JSON.stringify(describe()),
    settings['app.request_id'] ?? '',
  ]);
}

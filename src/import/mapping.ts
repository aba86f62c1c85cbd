/**
 * Which CSV column fills which lead field. An explicit mapping (CSV header →
 * field or custom.<key>) wins; otherwise a header is recognised by its
 * normalised name ("First Name" → first_name, "E-mail" → email, …), and a
 * header matching one of the tenant's custom field keys fills that custom
 * field. Other columns are unmapped: reported with the import
 * (unmappedColumns), and dropped, or, with keepUnmapped, kept as custom
 * fields under their normalised header ("Lead Score" → custom.lead_score).
 * The importable fields themselves are decided in SQL
 * (app_hidden.lead_import_fields()).
 */

/** "First Name" → "first_name". */
export function normaliseHeader(header: string): string {
  return header
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** Common spellings of the lead fields in exported spreadsheets. */
const ALIASES: Record<string, string> = {
  e_mail: 'email',
  email_address: 'email',
  mail: 'email',
  full_name: 'name',
  firstname: 'first_name',
  given_name: 'first_name',
  lastname: 'last_name',
  surname: 'last_name',
  family_name: 'last_name',
  company_name: 'company',
  organisation: 'company',
  organization: 'company',
  job_title: 'title',
  position: 'title',
  phone_number: 'phone',
  telephone: 'phone',
  url: 'website',
  web_site: 'website',
  homepage: 'website',
  time_zone: 'timezone',
  tz: 'timezone',
};

export type Target = { kind: 'field'; field: string } | { kind: 'custom'; key: string };

export interface ColumnPlan {
  /** For each CSV column (by position), where its value goes; null = ignored. */
  targets: Array<Target | null>;
  /** The headers of the columns no mapping, lead field or custom field definition claimed (kept as custom fields with keepUnmapped). */
  unmapped: string[];
  /** The lead fields, in the staging table's column order, that some column fills. */
  fields: string[];
}

export class MappingError extends Error {
  override name = 'MappingError';
}

export function planColumns(
  headers: string[],
  {
    mapping = {},
    importableFields,
    customFieldKeys,
    keepUnmapped = false,
    requireOneOf,
  }: {
    mapping?: Record<string, string>;
    importableFields: string[];
    customFieldKeys: string[];
    keepUnmapped?: boolean;
    /** The file must fill one of these fields (a suppression list: email or domain); default: email. */
    requireOneOf?: string[];
  },
): ColumnPlan {
  const known = new Set(Object.keys(mapping));
  for (const header of known) {
    if (!headers.includes(header)) {
      throw new MappingError(`The mapping names a column "${header}" that the file does not have; its columns are: ${headers.join(', ')}.`);
    }
  }
  const custom = new Set(customFieldKeys);
  const fields = new Set(importableFields);
  const targets = headers.map((header): Target | null => {
    const explicit = mapping[header];
    if (explicit) {
      return explicit.startsWith('custom.') ? { kind: 'custom', key: explicit.slice('custom.'.length) } : { kind: 'field', field: explicit };
    }
    const name = normaliseHeader(header);
    const field = fields.has(name) ? name : ALIASES[name];
    if (field && fields.has(field)) return { kind: 'field', field };
    if (custom.has(name)) return { kind: 'custom', key: name };
    return null;
  });
  const unmapped = headers.filter((_, i) => targets[i] === null);
  if (keepUnmapped) {
    const taken = new Set(targets.flatMap((t) => (t?.kind === 'custom' ? [t.key] : [])));
    headers.forEach((header, i) => {
      if (targets[i] !== null) return;
      const key = customKeyFor(header, i);
      // Two headers that normalise alike: the first one keeps the key, the other is dropped (and reported).
      if (taken.has(key)) return;
      taken.add(key);
      targets[i] = { kind: 'custom', key };
    });
  }
  const seen = new Map<string, string>();
  targets.forEach((t, i) => {
    if (t?.kind !== 'field') return;
    const previous = seen.get(t.field);
    if (previous !== undefined) {
      throw new MappingError(`Both "${previous}" and "${headers[i]}" would fill ${t.field}; map one of them elsewhere.`);
    }
    seen.set(t.field, headers[i]!);
  });
  if (requireOneOf) {
    // A suppression list (app_hidden.suppression_import_fields()): an email column, a domain column, or both.
    if (!requireOneOf.some((f) => seen.has(f))) {
      throw new MappingError(
        `The file has no email or domain column (columns: ${headers.join(', ') || 'none'}). Name one "email" or "domain", or map it, e.g. mapping={"${headers[0] ?? 'Address'}":"email"}.`,
      );
    }
  } else if (!seen.has('email')) {
    throw new MappingError(
      `The file has no email column (columns: ${headers.join(', ') || 'none'}). Name one "email" or map it, e.g. mapping={"${headers[0] ?? 'E-mail'}":"email"}.`,
    );
  }
  return { targets, unmapped, fields: importableFields.filter((f) => seen.has(f)) };
}

/** The custom field key an unmapped column is kept under: its normalised header, made a valid key (a letter first, 63 characters at most). */
export function customKeyFor(header: string, position: number): string {
  const name = normaliseHeader(header);
  if (!name) return `column_${position + 1}`;
  return (/^[a-z]/.test(name) ? name : `column_${name}`).slice(0, 63).replace(/_+$/, '');
}

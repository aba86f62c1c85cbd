set local lock_timeout = '5s';

--------------------------------------------------------------------------------
-- CSV imports report the columns they could not place, and can keep them.
-- Both columns have defaults, so existing imports read as "nothing unmapped,
-- dropped" (what happened to them).
--------------------------------------------------------------------------------

alter table app_public.lead_imports
  add column if not exists keep_unmapped boolean not null default false,
  add column if not exists unmapped_columns text[] not null default '{}';

comment on column app_public.lead_imports.keep_unmapped is
  'Keep CSV columns that match no lead field, mapping or custom field definition as custom fields, under their normalised header ("Lead Score" becomes lead_score); off: drop them.';
comment on column app_public.lead_imports.unmapped_columns is
  'The CSV columns that matched no lead field, mapping or custom field definition: kept as custom fields when keepUnmapped is on, dropped otherwise.';

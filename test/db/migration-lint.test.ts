/**
 * `npm run lint:migrations` (scripts/lint-migrations.ts) is part of `npm test`:
 * it must pass on the repository's migrations and refuse one that breaks the
 * rules of docs/CONVENTIONS.md, or it proves nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function lint(...files: string[]) {
  return spawnSync(process.execPath, ['scripts/lint-migrations.ts', ...files], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
}

test('the migrations after the baseline pass', () => {
  const result = lint();
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/pass squawk/);
});

test('a migration that would lock a live table is refused, with the rule named', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'penguinmails-lint-'));
  const file = path.join(dir, '000099-unsafe.sql');
  writeFileSync(file, [
    'alter table app_public.leads add constraint leads_email_lower check (email = lower(email));',
    'create index leads_name_idx on app_public.leads (tenant_id, name);',
    '',
  ].join('\n'));
  const result = lint(file);
  expect(result.status).toBe(1);
  for (const rule of ['require-lock-timeout', 'require-statement-timeout', 'constraint-missing-not-valid', 'require-concurrent-index-creation']) {
    expect(result.stdout + result.stderr).toContain(rule);
  }
});

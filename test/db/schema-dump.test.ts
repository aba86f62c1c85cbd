/**
 * schema.sql is the current schema: the test database (built from
 * migrations/, functions/ and policies/) dumped the way `npm run
 * schema:export` dumps it must match the committed file line for line.
 * Dumping needs pg_dump 15 against a PostgreSQL 15 server, so the check runs
 * in the PostgreSQL 15 pass of `npm test` (`npm run test:pg15`) and is
 * reported skipped elsewhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dumpSchema, filterDump, pgDumpPath, SCHEMA_DUMP_FILE } from '../../src/db/schema-dump.ts';
import { baseTestUrls, closeDb } from '../helpers/db.ts';
import { withDatabase } from '../helpers/test-database.ts';

afterAll(closeDb);

// pg_dump 15 cannot dump a newer server: the comparison runs in the PostgreSQL 15 pass.
const canDump = process.env.PM_TEST_SERVER_MAJOR === '15' && existsSync(pgDumpPath());

test('the dump filter keeps objects and drops the noise of one run', () => {
  const raw = [
    '--', '-- PostgreSQL database dump', '--', '\\restrict AbC123', 'SET statement_timeout = 0;',
    "SELECT pg_catalog.set_config('search_path', '', false);", '',
    '--', '-- Name: leads; Type: TABLE; Schema: app_public; Owner: -', '--', '', 'CREATE TABLE app_public.leads (', '    id uuid', ');', '',
    '--', '-- Name: messages_y2026m03; Type: TABLE; Schema: app_public; Owner: -', '--', '', 'CREATE TABLE app_public.messages_y2026m03 (', ');', '',
    '--', '-- Name: messages_y2026m03_pkey; Type: CONSTRAINT; Schema: app_public; Owner: -', '--', '', 'ALTER TABLE ONLY app_public.messages_y2026m03 ADD CONSTRAINT x;', '',
    '\\unrestrict AbC123', '',
  ].join('\n');
  const out = filterDump(raw);
  expect(out).toContain('CREATE TABLE app_public.leads (\n    id uuid\n);');
  expect(out).not.toMatch(/messages_y2026m03|restrict|^SET |set_config|Owner:/m);
});

(canDump ? test : test.skip)('schema.sql matches the schema the migrations, functions/ and policies/ build', () => {
  const live = dumpSchema(withDatabase(baseTestUrls().root!, 'penguinmails_test'));
  const committed = readFileSync(SCHEMA_DUMP_FILE, 'utf8');
  if (live !== committed) {
    const a = committed.split('\n');
    const b = live.split('\n');
    const onlyCommitted = a.filter((l) => !b.includes(l)).slice(0, 20);
    const onlyLive = b.filter((l) => !a.includes(l)).slice(0, 20);
    throw new Error(
      `schema.sql is out of date: run \`npm run schema:export\` and commit it.\n` +
        `Only in schema.sql:\n${onlyCommitted.join('\n')}\nOnly in the built schema:\n${onlyLive.join('\n')}`,
    );
  }
});

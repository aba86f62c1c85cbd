/**
 * The schema as published: nothing secret is reachable through it, and the
 * committed schema.graphql is exactly the live schema (run
 * `npm run schema:export` after changing the database or the plugins).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  lexicographicSortSchema,
  printSchema,
  type GraphQLSchema,
} from 'postgraphile/graphql';
import type { PgResource } from 'postgraphile/@dataplan/pg';
import { gather } from 'postgraphile/graphile-build';
import { exportSchemaSDL } from '../../src/server/schema-export.ts';
import { startTestApi, type TestApi, IN_PROCESS_SETUP_TIMEOUT_MS } from '../helpers/api.ts';
import { liveSchema, serverPreset } from './schema-walker.ts';

/** Names that would betray a secret: hashes, credentials, tokens, keys. */
const SECRET_WORDS = /password|passwd|secret|credential|private.?key|api.?key|token|hash|salt|encrypted|cipher/i;
/** An API key's metadata (the ApiKey type, apiKeyId) is not its secret: the word is left out, what follows it is still checked (apiKeySecret). */
const SECRET = { test: (name: string) => SECRET_WORDS.test(name.replace(/api_?key/gi, '')) };
/** Types that can carry a secret's value (a flag like hasSmtpPassword or a policy like passwordMinLength cannot). */
const CARRIES_TEXT = (typeName: string) => !['Boolean', 'Int', 'Float', 'BigInt', 'BigFloat', 'Datetime', 'Date'].includes(typeName);
/** The one token the API hands out on purpose: the session it just signed. */
const ALLOWED_OUTPUTS = new Set([
  'Session.jwtToken',
  // An API key's secret, shown once by the mutation that issues it (functions/052-api-keys.sql).
  'CreateApiKeyRecord.secret',
  'RotateApiKeyRecord.secret',
  // A webhook's signing secret, returned once by the mutation that makes it (plugins/webhook-subscriptions.ts).
  'AddWebhookSubscriptionPayload.secret',
  'RotateWebhookSecretPayload.secret',
  // A new TOTP secret, shown once to the user enrolling it (plugins/two-factor.ts).
  'TwoFactorEnrollment.secret',
]);
/** Inputs that carry a secret *to* the database (sign-up, sign-in, resets, inbox passwords, confirming an account's deletion), never back. */
const SECRET_INPUTS = /^(RegisterInput|ConfirmRegistrationInput|LoginInput|AcceptInvitationInput|ResetPasswordInput|ChangePasswordInput|SetEmailAccountCredentialsInput|VerifyEmailInput|DeleteMyAccountInput)\./;

let t: TestApi;
let schema: GraphQLSchema;
beforeAll(async () => {
  // In this process: the schema walker reads the server's own preset (PostGraphile's registry and inflection).
  t = await startTestApi({}, undefined, undefined, { inProcess: true });
  schema = await liveSchema(t);
}, IN_PROCESS_SETUP_TIMEOUT_MS);
afterAll(() => t?.close());

test('no output field can carry a password, hash, credential, token, secret or private key; such inputs only flow in', () => {
  const findings: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        const name = `${type.name}.${field.name}`;
        const returns = getNamedType(field.type).name;
        // (A mutation's name is not data; what it returns is checked as its payload type.)
        if (type.name === 'Mutation') continue;
        if (SECRET.test(field.name) && CARRIES_TEXT(returns) && !ALLOWED_OUTPUTS.has(name)) findings.push(`field ${name}: ${returns}`);
        if (SECRET.test(returns) && !ALLOWED_OUTPUTS.has(name) && !/Payload$/.test(returns)) findings.push(`field ${name} returns ${returns}`);
      }
    }
    if (isEnumType(type)) {
      for (const value of type.getValues()) if (SECRET.test(value.name) && !/_(ASC|DESC)$/.test(value.name)) findings.push(`enum ${type.name}.${value.name}`);
    }
    if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        const name = `${type.name}.${field.name}`;
        if (SECRET.test(field.name) && CARRIES_TEXT(getNamedType(field.type).name) && !SECRET_INPUTS.test(name)) findings.push(`input ${name}`);
      }
    }
  }
  expect(findings).toEqual([]);
  // And the session token really is the only one: it comes from the session mutations.
  expect(Object.values(schema.getMutationType()!.getFields()).filter((f) => getNamedType(f.type).name === 'Session').map((f) => f.name).sort()).toEqual(
    ['acceptInvitation', 'confirmRegistration', 'login', 'switchTenant', 'verifyTwoFactorLogin'],
  );
});

test('everything in the schema comes from app_public; no secret table or function is reachable', async () => {
  const input = await gather(serverPreset(t));
  const resources = Object.values(input.pgRegistry.pgResources as Record<string, PgResource>);
  const origins = resources.map((r) => (r.extensions?.pg as { schemaName?: string; name?: string } | undefined) ?? {});
  expect(origins.filter((o) => o.schemaName).length).toBeGreaterThan(60);
  expect(origins.filter((o) => o.schemaName && o.schemaName !== 'app_public').map((o) => `${o.schemaName}.${o.name}`)).toEqual([]);
  for (const name of ['userSecrets', 'UserSecret', 'emailAccountCredentials', 'EmailAccountCredential', 'domainDkimKeys', 'DomainDkimKey', 'invitationTokens', 'passwordResetTokens', 'systemSecrets', 'stripeEvents']) {
    expect([name, schema.getType(name) ?? schema.getQueryType()!.getFields()[name] ?? null]).toEqual([name, null]);
  }
  // Documentation comes from COMMENTs: the main types are described.
  for (const typeName of ['Lead', 'Campaign', 'Tenant', 'LeadImport', 'Message']) {
    expect([typeName, (schema.getType(typeName)?.description ?? '').length > 20]).toEqual([typeName, true]);
  }
});

test('the committed schema.graphql is the live schema (npm run schema:export regenerates it)', async () => {
  const committed = readFileSync(path.join(process.cwd(), 'schema.graphql'), 'utf8');
  const live = await exportSchemaSDL(t.urls);
  // Same printer as the export, so a difference is a real drift, not formatting.
  expect(printSchema(lexicographicSortSchema(schema)).length).toBeGreaterThan(1000);
  if (committed !== live) {
    const a = committed.split('\n');
    const b = live.split('\n');
    const firstDifference = a.findIndex((line, i) => line !== b[i]);
    throw new Error(
      `schema.graphql is out of date (first difference at line ${firstDifference + 1}: committed "${a[firstDifference]}" vs live "${b[firstDifference]}"). Run \`npm run schema:export\` and commit the result.`,
    );
  }
});

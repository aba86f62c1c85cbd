/**
 * The operation cost limit (MAX_QUERY_COST) over HTTP: fields, aliases,
 * fragments and list sizes counted before execution; and auth operations
 * counting one request per alias against RATE_LIMIT_PER_MINUTE.
 */
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { ownedTenant, type Member } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';
import { uniqueEmail } from '../helpers/unique.ts';

let t: TestApi;
let owner: Member;
beforeAll(async () => {
  t = await startTestApi({ MAX_QUERY_COST: '500', MAX_PAGE_SIZE: '100', RATE_LIMIT_PER_MINUTE: '10' });
  owner = await ownedTenant(t, 'cost');
});
afterAll(() => t?.close());

const tooCostly = (text: string) => expect(JSON.parse(text).errors[0]).toEqual({
  message: expect.stringMatching(/^This (query|mutation) costs at least \d+; the limit is 500 \(MAX_QUERY_COST\)\./),
  locations: expect.any(Array),
  extensions: { code: 'QUERY_TOO_COSTLY' },
});

test('a page of rows costs its fields once per row; within the limit it runs', async () => {
  // 1 (leads) + 10 rows × (1 nodes + 2 fields) = 31
  const result = await t.gql(`{ leads(first: 10) { nodes { rowId email } } }`, {}, owner.token);
  expect(result.errors).toBeUndefined();
});

test('aliases count one by one: twenty copies of a cheap page go over the limit, and nothing runs', async () => {
  const aliases = Array.from({ length: 20 }, (_, i) => `l${i}: leads(first: 10) { nodes { rowId email } }`).join(' ');
  const result = await t.gql(`{ ${aliases} }`, {}, owner.token);
  expect(result.status).toBe(400);
  tooCostly(result.text);
  // 17 copies (17 × 31 = 527) are enough to know it is over: counting stops there.
  expect(JSON.parse(result.text).errors[0].message).toMatch(/costs at least 527;/);
});

test('a page size given by a variable counts as the largest page; fragments count where spread', async () => {
  const byVariable = await t.gql(`query($n: Int) { leads(first: $n) { nodes { rowId email firstName lastName company } } }`, { n: 1 }, owner.token);
  tooCostly(byVariable.text);
  const fragments = await t.gql(
    `fragment F on Lead { rowId email firstName lastName company status } { a: leads(first: 40) { nodes { ...F } } b: leads(first: 40) { nodes { ...F } } }`,
    {},
    owner.token,
  );
  tooCostly(fragments.text);
  // Nested lists multiply.
  const nested = await t.gql(`{ campaigns(first: 20) { nodes { rowId campaignSequenceSteps(first: 10) { nodes { rowId stepOrder stepType } } } } }`, {}, owner.token);
  tooCostly(nested.text);
});

test('each alias of an auth operation counts against the request budget: a request with many sign-in attempts is refused before any runs', async () => {
  const email = uniqueEmail('cost-guess');
  const guesses = Array.from({ length: 12 }, (_, i) => `g${i}: login(input: { email: "${email}", password: "guess number ${i}" }) { jwtToken }`).join(' ');
  const response = await t.gql(`mutation { ${guesses} }`);
  expect(response.status).toBe(429);
  expect(response.errors?.[0]).toMatchObject({
    message: expect.stringMatching(/^Too many requests: this one carries 12 sign-in or account operations, each counting as one request\. Retry in \d+ s\.$/),
    extensions: { code: 'RATE_LIMITED' },
  });
  expect(await t.owner.query(sql`select 1 from app_public.users where email = ${email}`)).toEqual([]);
  // The budget of this client is spent now.
  expect((await t.gql(`mutation { login(input: { email: "${email}", password: "x" }) { jwtToken } }`)).status).toBe(429);
});

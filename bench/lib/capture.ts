/**
 * The SQL behind one GraphQL request: the API child records every statement
 * its pg clients send while a capture is on; we run the request alone, so
 * what it recorded is exactly that request's transaction.
 */
import type { ApiChild } from './context.ts';
import { graphql, type GraphQLRequest } from './http-load.ts';
import { isRequestSetup, requestSettings, type PgSettings, type Statement } from './sql.ts';

export interface Captured {
  statements: Statement[];
  /** The response body, byte for byte. */
  text: string;
}

/** Connection set-up @dataplan/pg sends once per new connection (our anchor pools do the same on connect). */
const CONNECTION_SETUP = /^set jit_optimize_above_cost/;

export async function captureStatements(api: ApiChild, token: string, request: GraphQLRequest): Promise<Captured> {
  await api.request('capture-start');
  const answer = await graphql(api.url, token, request).catch((error: Error) => error);
  const recorded = await api.request<Statement[]>('capture-stop');
  if (answer instanceof Error) throw answer;
  const { text } = answer;
  const statements = recorded.filter((s) => !CONNECTION_SETUP.test(s.text));
  if (statements[0]?.text !== 'begin' || !statements[1] || !isRequestSetup(statements[1]) || statements.at(-1)?.text !== 'commit') {
    throw new Error(`Unexpected statements for one GraphQL request: ${statements.map((s) => s.text.slice(0, 40)).join(' | ')}`);
  }
  return { statements, text };
}

/** The request's data statement (the first after the settings and the request's entry, before the commit). */
export function mainStatement(statements: Statement[]): Statement {
  const main = statements.find((s) => !['begin', 'commit'].includes(s.text) && !isRequestSetup(s));
  if (!main) throw new Error('The captured request ran no data statement.');
  return main;
}

/** The captured request as another member: its settings and entry replaced by theirs. */
export function asMember(statements: Statement[], settings: PgSettings): Statement[] {
  const first = statements.findIndex(isRequestSetup);
  return [...statements.slice(0, first), ...requestSettings(settings), ...statements.slice(first).filter((s) => !isRequestSetup(s))];
}

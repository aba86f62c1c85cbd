/**
 * A failure the person running PenguinMails can fix (a taken port, a data
 * folder in use, a database that is not ready): the CLIs print its message as
 * one line instead of a stack trace (src/cli/usage.ts).
 */
export class UserFacingError extends Error {
  override name = 'UserFacingError';
}

/**
 * A failure at start that a person can act on: the message names the cause and the fix. The logger writes it as
 * one line without a stack (the stack would only point at the code that noticed the problem).
 */
export class StartupError extends Error {
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${problem}. Fix: ${fix}`);
    this.name = 'StartupError';
  }
}

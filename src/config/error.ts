// The one error a configuration that cannot be read or is invalid throws, and how a system error
// reading one of its files reads in that error's one line.

/** A configuration that cannot be read or is invalid. The message is one line: `file:line:col: where: what`. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** "ENOENT: no such file or directory" from a Node system error, without the ", open 'path'" tail. */
export function systemReason(err: unknown): string {
  const message = (err as Error).message;
  return /^(E[A-Z]+: [^,]+)/.exec(message)?.[1] ?? message;
}

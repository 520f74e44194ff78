// The one error a configuration that cannot be read or is invalid throws.

/** A configuration that cannot be read or is invalid. The message is one line: `file:line:col: where: what`. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

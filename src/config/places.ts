// Where lb.yaml wrote the values that are checked only after parsing, against the world outside
// the file: the TLS certificate and key (read from disk) and each server's address (looked up in
// DNS). The loader returns this side table beside the Config, so that such a problem, found
// later, still names its line.

import { ConfigError } from './error.js';

/** A value's position in the file, and its dotted path in the config ("listen.tls.key"). */
export interface Place {
  file: string;
  /** 1-based, as editors count. */
  line: number;
  col: number;
  path: string;
}

export class Places {
  /** Each listener's `tls` certs and keys, by its position in `listen` (and in `certs`); no entry for a listener without TLS. */
  readonly tls: { cert: Place; key: Place }[][] = [];
  /** Each server's address by its name as written ("localhost:8081"), where it is first written. */
  readonly servers = new Map<string, Place>();

  /** Notes where server `name` is written; a server that several pools list keeps its first place. */
  addServer(name: string, place: Place): void {
    if (!this.servers.has(name)) this.servers.set(name, place);
  }
}

/** The error for a value found wrong after parsing: `file:line:col: path: message`, as the reader's own. */
export function errorAt(place: Place, message: string): ConfigError {
  return new ConfigError(`${place.file}:${place.line}:${place.col}: ${place.path}: ${message}`);
}

/** `file:line`, for a warning about the value (a name that does not resolve is not a mistake in the file). */
export function lineOf(place: Place): string {
  return `${place.file}:${place.line}`;
}

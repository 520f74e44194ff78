// A small leveled logger. Messages (start, listeners, health changes, reloads, warnings, errors)
// go to stderr, as `<ISO time> LEVEL message` or, with log.format: json, one JSON object per
// line; stdout holds access lines only, so that it can be piped to a log shipper as it is. Access
// lines, one per request, are batched: collected in a string and written once per event-loop turn.

/** The levels, least severe first; a logger at one level writes that level and every later one. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How lines are written: human text, or one JSON object per line (log.format). */
export type LogFormat = 'text' | 'json';

/** Where lines go: anything with a `write(text)`, such as process.stdout or a test's collector. */
export interface LogOutput {
  write(chunk: string): unknown;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };
const LABEL: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', silent: '' };

export class Logger {
  /** Lines written so far in the current batch of access lines, each ending in "\n"; "" = none. */
  #pending = '';
  #flushTimer: NodeJS.Immediate | null = null;
  /** The last millisecond formatted, and its ISO string: one toISOString() per millisecond at most. */
  #stampMs = NaN;
  #stamp = '';

  /**
   * @param level the least severe level written; "silent" writes nothing.
   * @param out where access lines go (default stdout), and nothing else.
   * @param err where every other message goes, whatever its level (default stderr).
   * @param now the clock, in ms since the epoch (tests pass a fixed one).
   */
  constructor(
    readonly level: LogLevel,
    readonly out: LogOutput = process.stdout,
    readonly err: LogOutput = process.stderr,
    readonly now: () => number = Date.now,
  ) {}

  /**
   * How messages are written: set from log.format at start and on every reload (the access
   * lines' own format is access-log.ts's, from the same setting).
   */
  format: LogFormat = 'text';

  /**
   * The most characters one batch of access lines may hold. Unbounded for one process. The
   * workers of a cluster share one stdout: a pipe writes at most PIPE_BUF (4096) bytes at once
   * without interleaving another writer's bytes, so each of them keeps its batches under that
   * (access lines are ASCII: a character is a byte).
   */
  maxBatch = Infinity;

  /** A cluster worker's pid, which its messages name ("worker <pid>: ", or a "worker" field); 0 = none. */
  worker = 0;

  /** Whether a line at `level` would be written (use it to skip building an expensive message). */
  enabled(level: LogLevel): boolean {
    return level !== 'silent' && RANK[level] >= RANK[this.level];
  }

  debug(msg: string): void {
    if (this.enabled('debug')) this.#message('debug', msg);
  }

  info(msg: string): void {
    if (this.enabled('info')) this.#message('info', msg);
  }

  warn(msg: string): void {
    if (this.enabled('warn')) this.#message('warn', msg);
  }

  error(msg: string): void {
    if (this.enabled('error')) this.#message('error', msg);
  }

  /**
   * One access line, as access-log.ts formatted it (written at info level, to `out`). Called once
   * per proxied request, so it only appends to the pending batch; the batch is written at the end
   * of this event-loop turn, in one write().
   */
  accessLine(line: string): void {
    if (!this.enabled('info')) return;
    if (this.#pending.length + line.length >= this.maxBatch) this.flush();
    this.#pending += `${line}\n`;
    if (this.#flushTimer === null) this.#flushTimer = setImmediate(this.#flushBatch);
  }

  /** Writes the pending access lines now (at shutdown, before exit). */
  flush(): void {
    if (this.#flushTimer !== null) {
      clearImmediate(this.#flushTimer);
      this.#flushTimer = null;
    }
    if (this.#pending === '') return;
    const batch = this.#pending;
    this.#pending = '';
    this.out.write(batch);
  }

  #flushBatch = (): void => {
    this.#flushTimer = null;
    this.flush();
  };

  /** A message to `err`, in the format in force. */
  #message(level: LogLevel, msg: string): void {
    const time = this.#timestamp();
    if (this.format === 'json') {
      const line = this.worker === 0 ? { time, level, msg } : { time, level, worker: this.worker, msg };
      this.err.write(`${JSON.stringify(line)}\n`);
    } else {
      this.err.write(`${time} ${LABEL[level]} ${this.worker === 0 ? '' : `worker ${this.worker}: `}${msg}\n`);
    }
  }

  #timestamp(): string {
    const ms = this.now();
    if (ms !== this.#stampMs) {
      this.#stampMs = ms;
      this.#stamp = new Date(ms).toISOString();
    }
    return this.#stamp;
  }
}

/** What ProcessWarnings needs of `process`. */
export interface WarningSource {
  on(event: 'warning', listener: (warning: Error) => void): unknown;
  removeAllListeners(event: 'warning'): unknown;
}

/**
 * Whether Node's own handler would leave `warning` unprinted, given the node options: all of them
 * with --no-warnings, deprecations with --no-deprecation, and each code or type that
 * --disable-warning names. Node still emits those; only its handler, which ProcessWarnings
 * replaces, reads the options.
 */
export function silencedBy(options: readonly string[]): (warning: Error & { code?: string }) => boolean {
  let all = false;
  const off = new Set<string>();
  options.forEach((option, i) => {
    if (option === '--no-warnings') all = true;
    else if (option === '--no-deprecation') off.add('DeprecationWarning');
    else if (option.startsWith('--disable-warning=')) off.add(option.slice('--disable-warning='.length));
    else if (option === '--disable-warning' && i + 1 < options.length) off.add(options[i + 1]!);
  });
  return (warning) => all || off.has(warning.name) || (warning.code !== undefined && off.has(warning.code));
}

/** The node options in force: the command line's, then those of NODE_OPTIONS (`env`), split at whitespace. */
export function nodeOptions(execArgv: readonly string[], env: string | undefined): string[] {
  return [...execArgv, ...(env ?? '').split(/\s+/).filter((o) => o !== '')];
}

/**
 * Node's own warnings (a deprecation, an experimental feature) as log lines, so that they too are
 * in log.format and obey the log level: Node's handler, which prints them as text on stderr
 * whatever the format, is taken off (what its options silence stays silent). Those that come
 * before there is a log wait for it.
 */
export class ProcessWarnings {
  #logger: Logger | null = null;
  readonly #held: Error[] = [];

  constructor(source: WarningSource, silenced = silencedBy(nodeOptions(process.execArgv, process.env['NODE_OPTIONS']))) {
    source.removeAllListeners('warning');
    source.on('warning', (warning) => {
      if (silenced(warning)) return;
      if (this.#logger === null) this.#held.push(warning);
      else this.#log(warning);
    });
  }

  /** Logs every warning to `logger` from now on, those held first. */
  logTo(logger: Logger): void {
    this.#logger = logger;
    for (const warning of this.#held.splice(0)) this.#log(warning);
  }

  #log(warning: Error & { code?: string }): void {
    this.#logger!.warn(`${warning.name}${warning.code === undefined ? '' : ` ${warning.code}`}: ${warning.message}`);
  }
}

// A small leveled logger writing human lines (`<ISO time> LEVEL message`). Access lines, one per
// proxied request, are batched: collected in a string and written once per event-loop turn.

/** The levels, least severe first; a logger at one level writes that level and every later one. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where lines go: anything with a `write(text)`, such as process.stdout or a test's collector. */
export interface LogOutput {
  write(chunk: string): unknown;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

export class Logger {
  /** Lines written so far in the current batch of access lines, each ending in "\n"; "" = none. */
  #pending = '';
  #flushTimer: NodeJS.Immediate | null = null;
  /** The last millisecond formatted, and its ISO string: one toISOString() per millisecond at most. */
  #stampMs = NaN;
  #stamp = '';

  /**
   * @param level the least severe level written; "silent" writes nothing.
   * @param out where debug, info and access lines go (default stdout).
   * @param err where warn and error lines go (default stderr).
   * @param now the clock, in ms since the epoch (tests pass a fixed one).
   */
  constructor(
    readonly level: LogLevel,
    readonly out: LogOutput = process.stdout,
    readonly err: LogOutput = process.stderr,
    readonly now: () => number = Date.now,
  ) {}

  /**
   * The most characters one batch of access lines may hold. Unbounded for one process. The
   * workers of a cluster share one stdout: a pipe writes at most PIPE_BUF (4096) bytes at once
   * without interleaving another writer's bytes, so each of them keeps its batches under that
   * (access lines are ASCII: a character is a byte).
   */
  maxBatch = Infinity;

  /** Written before every message but access lines: a cluster worker's "worker <pid>: ". */
  prefix = '';

  /** Whether a line at `level` would be written (use it to skip building an expensive message). */
  enabled(level: LogLevel): boolean {
    return level !== 'silent' && RANK[level] >= RANK[this.level];
  }

  debug(msg: string): void {
    if (this.enabled('debug')) this.#writeOut(`${this.#timestamp()} DEBUG ${this.prefix}${msg}\n`);
  }

  info(msg: string): void {
    if (this.enabled('info')) this.#writeOut(`${this.#timestamp()} INFO ${this.prefix}${msg}\n`);
  }

  warn(msg: string): void {
    if (this.enabled('warn')) this.err.write(`${this.#timestamp()} WARN ${this.prefix}${msg}\n`);
  }

  error(msg: string): void {
    if (this.enabled('error')) this.err.write(`${this.#timestamp()} ERROR ${this.prefix}${msg}\n`);
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

  /** Other lines to `out` go after the access lines already pending, so that `out` stays in order. */
  #writeOut(line: string): void {
    this.flush();
    this.out.write(line);
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

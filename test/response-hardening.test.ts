// Response-side hardening, end to end: every case of the bad-response corpus
// (helpers/bad-responses.ts) sent by a raw backend through the real proxy, whole, split in two at
// every offset and byte by byte, each piece read by the balancer before the next is sent. For
// each way: what the client gets (a clean 502, the response, or a cut where that is all that is
// left), that after anything ambiguous the backend connection is closed and the next request
// reaches the backend on a new one, and that the client's next request is answered.

import dc from 'node:diagnostics_channel';
import type net from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { HttpError } from '../src/errors.js';
import { ChunkedScanner } from '../src/http/chunked.js';
import { ResponseParser } from '../src/http/response-parser.js';
import { BAD_RESPONSES, type BadResponse } from './helpers/bad-responses.js';
import { Harness, proxyTest, q, request, waitEvent, waitFor, within, WAIT_MS, type RawClient } from './helpers/net.js';

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const BODY = 'hello';

// ---------------------------------------------------------------------------------------------
// Seeing what the balancer has read. Pieces written back to back may be read as one; each piece
// is sent only once the balancer's end of the connection has read everything before it. Its
// sockets to backends are found through the net.client.socket channel, which names every socket
// net.connect() makes in this process (the balancer runs in it; its health checks, in their
// thread, do not show here).

const connects = new Set<net.Socket>();
const onConnect = (message: unknown): void => {
  connects.add((message as { socket: net.Socket }).socket);
};
dc.subscribe('net.client.socket', onConnect);
t.teardown(() => dc.unsubscribe('net.client.socket', onConnect));

const balancerSides = new WeakMap<net.Socket, net.Socket>();

/** The balancer's end of the connection whose backend end is `socket` (open: a request just came on it). */
function balancerSide(socket: net.Socket): net.Socket {
  let side = balancerSides.get(socket);
  if (side !== undefined) return side;
  for (const s of connects) {
    if (s.destroyed) connects.delete(s);
    else if (s.localPort === socket.remotePort && s.remotePort === socket.localPort) side = s;
  }
  if (side === undefined) throw new Error(`no balancer socket from port ${socket.remotePort}`);
  balancerSides.set(socket, side);
  return side;
}

/** Resolves once `side` has read `n` bytes in all, or is closed; a turn of the event loop between looks. */
async function readBy(side: net.Socket, n: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (let i = 0; side.bytesRead < n && !side.destroyed; i++) {
    if (Date.now() > deadline || i > 1_000_000) throw new Error(`the balancer read ${side.bytesRead} of ${n} bytes`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

// ---------------------------------------------------------------------------------------------
// The backend: answers a request for a planned target with the plan's pieces, anything else with
// OK. It notes which connection each request came on, and how many body bytes each carried.

/** Runs once the balancer has read the first piece of a response; `more`: pieces follow. */
type AfterFirst = ((socket: net.Socket, more: boolean) => Promise<void>) | null;

interface Plan {
  /** Sends the pieces on `socket`, where the request came. */
  start(socket: net.Socket): void;
  /** Settles once every piece was read, or the balancer closed the connection first. */
  done: Promise<void>;
}

const plans = new Map<string, Plan>();
/** The backend connection each request (by target) came on. */
const arrivals = new Map<string, net.Socket>();
/** Request body bytes received on each backend connection. */
const bodyBytes = new WeakMap<net.Socket, number>();

function serve(socket: net.Socket): void {
  // Small pieces one after another: without this, each waits for the ACK of the one before.
  socket.setNoDelay(true);
  let pending = Buffer.alloc(0);
  let bodyLeft = 0;
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    // Bounded: every turn takes a head or body bytes from what is pending.
    for (let turn = 0; turn < 100 && pending.length > 0; turn++) {
      if (bodyLeft > 0) {
        const n = Math.min(bodyLeft, pending.length);
        bodyLeft -= n;
        bodyBytes.set(socket, (bodyBytes.get(socket) ?? 0) + n);
        pending = pending.subarray(n);
        continue;
      }
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = pending.toString('latin1', 0, end);
      pending = pending.subarray(end + 4);
      const target = head.split(' ')[1]!;
      bodyLeft = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      arrivals.set(target, socket);
      const plan = plans.get(target);
      if (plan === undefined) socket.write(OK);
      else plan.start(socket);
    }
  });
}

/** Answers the request for `target` with `pieces`, each once the balancer read the one before. */
function plan(target: string, pieces: Buffer[], afterFirst: AfterFirst): Plan {
  let start!: (socket: net.Socket) => void;
  const done = new Promise<net.Socket>((resolve) => (start = resolve)).then((socket) => sendPieces(socket, pieces, afterFirst));
  const p: Plan = { start, done };
  plans.set(target, p);
  return p;
}

async function sendPieces(socket: net.Socket, pieces: Buffer[], afterFirst: AfterFirst): Promise<void> {
  const side = balancerSide(socket);
  for (let i = 0; i < pieces.length && !side.destroyed; i++) {
    socket.write(pieces[i]!);
    await readBy(side, socket.bytesWritten);
    if (i === 0 && afterFirst !== null) await afterFirst(socket, pieces.length > 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Ways to send a response, and what each should come to.

/** Whole, split in two at every offset, byte by byte. */
function ways(bytes: Buffer): { how: string; pieces: Buffer[] }[] {
  const out = [{ how: 'whole', pieces: [bytes] }];
  for (let k = 1; k < bytes.length; k++) out.push({ how: `split at ${k}`, pieces: [bytes.subarray(0, k), bytes.subarray(k)] });
  const single: Buffer[] = [];
  for (let k = 0; k < bytes.length; k++) single.push(bytes.subarray(k, k + 1));
  out.push({ how: 'byte by byte', pieces: single });
  return out;
}

/** Where the final head starts and ends in the response, and where its chunked body turns bad (-1: nowhere), as the balancer's parser finds them. */
function framing(c: BadResponse): Framing {
  const input = Buffer.from(c.response, 'latin1');
  const parser = new ResponseParser();
  parser.requestWasHead = c.request === 'HEAD';
  let at = 0;
  for (let k = 0; k < c.heads.length; k++) {
    const head = parser.execute(input, at);
    if (head === null || head instanceof HttpError) return { headStart: -1, headEnd: -1, badAt: -1 };
    at += parser.consumed;
  }
  const headStart = at - parser.consumed;
  if (c.chunked === undefined || c.chunked === 'end') return { headStart, headEnd: at, badAt: -1 };
  const found = new ChunkedScanner().scan(input, at, input.length);
  return { headStart, headEnd: at, badAt: found instanceof HttpError ? at + found.offset : -1 };
}

interface Framing {
  headStart: number;
  headEnd: number;
  badAt: number;
}

interface Outcome {
  /** Interim statuses, then the final one; 'cut' when the connection ended inside the response's body. */
  statuses: (number | 'cut')[];
  body: string;
  /** The response's Connection field. */
  connection: string | undefined;
  /** Whether the client connection ended after it, and what came that was not read (not looked at after a cut, which may end in the middle of a chunk-size line). */
  clientClosed: boolean;
  leftover: string;
  /** Whether the next request reached the backend on the connection that carried this response. */
  reused: boolean;
  /** Whether the backend saw that connection closed (waited for when it is not reused). */
  backendClosed: boolean;
  /** The body of the answer to the client's next request. */
  next: string;
}

function expected(c: BadResponse, pieces: Buffer[], where: Framing): Outcome {
  const pieceOf = (offset: number): number => {
    let end = 0;
    for (let i = 0; i < pieces.length; i++) if (offset < (end += pieces[i]!.length)) return i;
    return -1;
  };
  // The read in which the final head came: it goes out to the client with that read's body bytes.
  const headRead = pieceOf(where.headEnd - 1);
  const interim = c.interim ?? [];
  const base = { leftover: '', reused: false, backendClosed: true, next: 'ok' };
  if (c.client === 502) {
    if (where.badAt >= 0 && pieceOf(where.badAt) !== headRead) {
      return { ...base, statuses: [...interim, 'cut'], body: '', connection: undefined, clientClosed: true };
    }
    return { ...base, statuses: [...interim, 502], body: c.request === 'HEAD' ? '' : 'Bad Gateway', connection: undefined, clientClosed: false };
  }
  // The POST's body goes after the first read: a final head that began in it is an early answer
  // (the backend connection is not reused); one that came whole in it went to the client before
  // its body (the client connection closes after it).
  const answeredEarly = c.request === 'POST' && pieceOf(where.headStart) === 0;
  const headFirst = c.request === 'POST' && headRead === 0;
  const reused = c.reuse && !answeredEarly;
  return {
    ...base,
    statuses: [...interim, c.client.status],
    body: c.client.body,
    connection: headFirst ? 'close' : undefined,
    clientClosed: headFirst,
    reused,
    backendClosed: !reused,
  };
}

// ---------------------------------------------------------------------------------------------

const root = new Harness(t);
const backend = await root.rawBackend(serve);
const proxy = await root.proxy(`
healthcheck: { interval: 1m }
servers: [${q(backend)}]
`, { level: 'warn' });

for (const [index, c] of BAD_RESPONSES.entries()) {
  proxyTest(t, c.name, async (t, h) => {
    const bytes = Buffer.from(c.response, 'latin1');
    const where = framing(c);
    let client: RawClient | null = null;
    let failed: { how: string; got: Outcome | string; want: Outcome } | null = null;
    let count = 0;
    for (const { how, pieces } of ways(bytes)) {
      const want = expected(c, pieces, where);
      if (client === null || client.ended) {
        client?.destroy();
        client = await h.client(proxy);
        client.socket.setNoDelay(true); // the POST's body goes as soon as it is written (see serve)
      }
      let got: Outcome | string;
      try {
        got = await sendCase(h, c, `/${index}/${how.replace(/ /g, '-')}`, pieces, client);
      } catch (err) {
        got = (err as Error).message;
      }
      count++;
      if (!isDeepStrictEqual(got, want)) {
        failed = { how, got, want };
        break; // one way shows it; the others would only repeat it (or wait out their timeouts)
      }
    }
    if (failed === null) t.pass(`all ${count} ways`);
    else t.strictSame(failed.got, failed.want, `sent ${failed.how}`);
  }, { proxy });
}

/** Sends `c`'s request for `target` on `client`, the response in `pieces`, then a next request; what came of it. */
async function sendCase(h: Harness, c: BadResponse, target: string, pieces: Buffer[], client: RawClient): Promise<Outcome> {
  const next = target.replace(/^\//, '/next/');
  // The POST's body goes once the balancer has read the first piece, and reaches the backend
  // before the next piece when the balancer forwards it.
  const afterFirst: AfterFirst =
    c.request === 'POST'
      ? async (socket: net.Socket, more: boolean) => {
          // (The connection may have carried a body before.)
          const before = bodyBytes.get(socket) ?? 0;
          await client.write(BODY).catch(() => {}); // the balancer may have closed the client connection
          if (more) await waitFor('the body at the backend', () => (bodyBytes.get(socket) ?? 0) >= before + BODY.length || socket.destroyed);
        }
      : null;
  const { done } = plan(target, pieces, afterFirst);
  try {
    await client.write(request(c.request, target, { host: 'x', headers: c.request === 'POST' ? [['Content-Length', String(BODY.length)]] : [] }));
    const statuses: (number | 'cut')[] = [];
    let body = '';
    let connection: string | undefined;
    try {
      const { interim, final } = await client.readFinal({ head: c.request === 'HEAD' });
      statuses.push(...interim.map((r) => r.status), final.status);
      body = final.text();
      connection = final.header('connection');
    } catch (err) {
      // The head came (the reader got to the body) and the connection ended inside the body.
      if (!client.ended || !/closed inside a chunked body|closed \d+ bytes before the end/.test((err as Error).message)) throw err;
      statuses.push('cut');
    }
    await within(done, 'the backend to send its pieces');
    const cut = statuses.includes('cut');
    const clientClosed = connection === 'close' || cut || client.ended;
    const rest = clientClosed ? await client.waitEnd() : client.takeAll();
    const leftover = cut ? '' : rest.toString('latin1');
    const socket = arrivals.get(target)!;
    // The next request: on this client connection while it lasts, else on a new one.
    let asker = client;
    if (clientClosed) {
      client.destroy();
      asker = await h.client(proxy);
    }
    const answer = await asker.get(next, 'x');
    if (asker !== client) asker.destroy();
    const reused = arrivals.get(next) === socket;
    const backendClosed = reused ? socket.destroyed : socket.closed || (await waitEvent(socket, 'close', 'the balancer to close the backend connection').then(() => true));
    return { statuses, body, connection, clientClosed, leftover, reused, backendClosed, next: answer.text() };
  } finally {
    plans.delete(target);
  }
}

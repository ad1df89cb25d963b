/**
 * The wire between two trapvisor processes (live migration, replication): each message is a frame
 * of a 4-byte big-endian length and a JSON body. The receiving side answers with its own frames:
 * { type: 'ack', ... } when it has taken a message that wants an answer, { type: 'refused', error }
 * when it will take nothing more.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { UserError } from './errors.js';
import { ExitCode } from './exit-codes.js';

/** The largest frame either side accepts (a whole 1 GiB guest's pages would not fit in one anyway). */
export const MAX_FRAME = 256 << 20;

/** Splits a byte stream into frames; throws on an oversized length or a body that is not JSON. */
export class FrameReader {
  private buffer = Buffer.alloc(0);

  push(chunk: Buffer): unknown[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: unknown[] = [];
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length > MAX_FRAME) throw new Error(`frame of ${length} bytes is larger than ${MAX_FRAME}`);
      if (this.buffer.length < 4 + length) break;
      const text = this.buffer.subarray(4, 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(4 + length);
      try {
        out.push(JSON.parse(text));
      } catch {
        throw new Error('a frame is not JSON');
      }
    }
    return out;
  }

  /** Bytes of a frame begun but not complete (what a connection that drops mid-frame leaves). */
  get partial(): number {
    return this.buffer.length;
  }
}

export function frame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/**
 * The sending side over a connected socket: `send` resolves once the message is written, or, for
 * a message `wantsAck` selects, once the peer's 'ack' for it arrives (acks come in order). A
 * 'refused', an error or the connection closing rejects every send waiting and every later one.
 */
export function ackingSocketChannel<M>(socket: Socket, wantsAck: (message: M) => boolean, peer: string): { send(message: M): Promise<void> } {
  let broken: Error | null = null;
  const waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const reader = new FrameReader();
  const fail = (e: Error) => {
    broken ??= e;
    for (const w of waiting.splice(0)) w.reject(broken);
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error(`the ${peer} closed the connection`)));
  socket.on('data', (chunk) => {
    try {
      for (const m of reader.push(chunk)) {
        const msg = m as { type?: string; error?: string };
        if (msg.type === 'ack') waiting.shift()?.resolve();
        else if (msg.type === 'refused') fail(new Error(`the ${peer} refused: ${msg.error}`));
      }
    } catch (e) { fail(e as Error); }
  });
  return {
    send: (message) => new Promise<void>((resolve, reject) => {
      if (broken) { reject(broken); return; }
      const acked = wantsAck(message);
      if (acked) waiting.push({ resolve, reject });
      socket.write(frame(message), (err) => {
        if (err) { fail(err); reject(err); return; }
        if (!acked) resolve();
      });
    }),
  };
}

/** The receiving side will take nothing more on `socket`: tells the sender why, then drops the connection. */
export function refuse(socket: Socket, error: string): void {
  socket.write(frame({ type: 'refused', error }), () => socket.destroy());
}

/** HOST:PORT (or PORT, on 127.0.0.1) as given to `flag`. */
export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d+)$/.exec(text);
  if (!m) throw new UserError(`${flag} ${text}: expected HOST:PORT`, ExitCode.USAGE);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new UserError(`${flag} ${text}: port out of range`, ExitCode.USAGE);
  return { host: m[1] || '127.0.0.1', port };
}

/** A socket connected to `target`; rejects with the reason it could not connect. */
export function connectTo(target: { host: string; port: number }): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = connect(target.port, target.host, () => resolve(s));
    s.once('error', (e) => reject(new Error(`cannot connect to ${target.host}:${target.port}: ${e.message}`)));
  });
}

/** A server listening on host:port (a usage error when it cannot). */
export async function listenOn(port: number, host: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new UserError(`cannot listen on ${host}:${port}: ${e.message}`, ExitCode.USAGE)));
    server.listen(port, host, () => resolve());
  });
  return server;
}

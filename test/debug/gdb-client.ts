/** GDB's side of the remote protocol, for the tests: a client of one GdbSession, and the real gdb against a server. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import { checksum, closeGdbServer, GdbSession, startGdbServer } from '../../hypervisor/debug/gdb-server.js';
import type { Session } from './session.js';

export const frame = (s: string): string => `$${s}#${checksum(s)}`;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A GdbSession with a helper that sends one packet and waits for its reply's body. */
export function client(s: Pick<Session, 'dbg' | 'cli'>) {
  const sent: string[] = [];
  const gdb = new GdbSession(s.dbg, s.cli, (x) => sent.push(x));
  const replies = (): string[] => sent.filter((x) => x.startsWith('$')).map((x) => x.slice(1, -3));
  const ask = async (p: string): Promise<string> => {
    sent.length = 0;
    gdb.receive(frame(p));
    for (let i = 0; i < 5000 && replies().length === 0; i++) await sleep(1);
    return replies().join('');
  };
  return { gdb, sent, replies, ask };
}

export const hasGdb = spawnSync('gdb', ['--version']).status === 0;

/** Runs the real gdb in batch mode against a server on `s`; `during` may act while it runs. */
export async function realGdb(s: Pick<Session, 'dbg' | 'cli'>, commands: (port: number) => string[], during?: (gdb: ChildProcess) => Promise<void>): Promise<string> {
  const server: Server = await startGdbServer(s.dbg, s.cli, 0, () => {});
  const port = (server.address() as AddressInfo).port;
  try {
    const p = spawn('gdb', ['-nx', '-batch', ...commands(port).flatMap((c) => ['-ex', c])]);
    let text = '';
    p.stdout.on('data', (d) => { text += d; });
    p.stderr.on('data', (d) => { text += d; });
    const done = new Promise<void>((resolve) => p.on('close', () => resolve()));
    if (during) await during(p);
    await done;
    return text;
  } finally {
    closeGdbServer(server);
  }
}

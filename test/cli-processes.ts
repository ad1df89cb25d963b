/**
 * Helpers for tests that run trapvisor as separate processes talking over TCP on loopback
 * (migration, replication): a free port, a CLI process whose output is collected, and the
 * output of a command run in this process.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', 'dist', 'trapvisor.mjs');

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `trapvisor ARGS...`: `ready` resolves once stderr has said `readyWhen`, `exited` with the exit code. */
export function startCli(args: string[], readyWhen?: string) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d.toString('latin1'); });
  const ready = new Promise<void>((resolve) => child.stderr.on('data', (d) => { stderr += d.toString(); if (readyWhen && stderr.includes(readyWhen)) resolve(); }));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { ready, exited, out: () => stdout, err: () => stderr };
}

/** A BootIo for running a CLI command in this process, with what it wrote. */
export function captureIo() {
  const o = { stdout: '', stderr: '' };
  return { o, io: { stdout: (b: Uint8Array) => { o.stdout += Buffer.from(b).toString('latin1'); }, stderr: (t: string) => { o.stderr += t; }, stdin: null } };
}

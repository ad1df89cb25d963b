/** `trapvisor debug` run in the test's process (runDebug), with everything it prints captured. */
import { PassThrough } from 'node:stream';
import { runDebug, type DebugIo, type DebugOptions } from '../../hypervisor/cli/debug.js';

export interface Captured { code: number; stdout: string; stderr: string; console: string }

/** A DebugIo that keeps stdout, stderr and the guests' console; no terminal, stdin empty unless `extra` gives one. */
export function io(extra: Partial<DebugIo> = {}): { io: DebugIo; out: Omit<Captured, 'code'> } {
  const out = { stdout: '', stderr: '', console: '' };
  return {
    out,
    io: {
      stdout: (t) => { out.stdout += t; }, stderr: (t) => { out.stderr += t; },
      console: (_vm, b) => { out.console += Buffer.from(b).toString('latin1'); },
      stdin: new PassThrough(), prompt: new PassThrough(), tty: false, onInterrupt: () => () => {},
      ...extra,
    },
  };
}

/** runDebug on `images` (16 MiB per VM unless `opts` says otherwise) and what it printed. */
export async function debug(images: string[], opts: Partial<DebugOptions>, extra: Partial<DebugIo> = {}): Promise<Captured> {
  const c = io(extra);
  const code = await runDebug(images, { ex: [], mem: '16M', include: [], ...opts }, c.io);
  return { code, ...c.out };
}

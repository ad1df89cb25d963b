/**
 * Boots a guest image on the bare machine and collects its serial output, for the guest tests.
 * Also reads the kernel's final report (guests/kernel/kernel.asm) out of its output.
 */
import { BareMachine, type MachineStop } from '../../emulator/machine/bare-machine.js';
import { buildBootInfo, MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot } from '../../hypervisor/loader/multiboot.js';
import { assembleGuest, GUEST_IMAGES, type GuestImage } from '../../scripts/guest-images.js';

export type Engine = 'blocks' | 'interpret';
export const ENGINES: readonly Engine[] = ['blocks', 'interpret'];

export interface GuestRun {
  serial: string;
  stop: MachineStop;
  /** Instructions retired (idle time skipped while halted not counted). */
  instructions: number;
  machine: BareMachine;
}

const RAM = 16 << 20;

export function bootBare(binary: Uint8Array, engine: Engine, budget = 40_000_000, ram = RAM): GuestRun {
  let serial = '';
  const machine = new BareMachine({ ramSize: ram, engine, serialOut: (b) => { serial += String.fromCharCode(b); } });
  const image = parseMultiboot(binary);
  const info = buildBootInfo(image, ram, '');
  machine.bootProtected(image.segments, image.entry, MULTIBOOT_BOOTLOADER_MAGIC, info.address, info.writes);
  const stop = machine.run(budget);
  return { serial, stop, instructions: machine.cpu.icount, machine };
}

const built = new Map<string, Uint8Array>();

/** The image as scripts/build-guests.ts builds it (assembled once per test file). */
export function guestBinary(image: string): Uint8Array {
  let b = built.get(image);
  if (!b) {
    const guest: GuestImage | undefined = GUEST_IMAGES.find((g) => g.image === image);
    if (!guest) throw new Error(`no guest image ${image}`);
    b = assembleGuest(guest).binary;
    built.set(image, b);
  }
  return b;
}

export interface KernelReport {
  mode: string;
  /** The report's lines, without the mode line: what FV and PV must agree on. */
  lines: string[];
  tasks: Map<string, string>;
  verdict: string;
}

/** The block between "== report ==" and "== end of report ==", or null when there is none. */
export function parseReport(serial: string): KernelReport | null {
  const m = /\n== report ==\n([\s\S]*?)\n== end of report ==\n/.exec(serial);
  if (!m) return null;
  const all = m[1]!.split('\n');
  const mode = all.find((l) => l.startsWith('mode: '))?.slice(6) ?? '';
  const lines = all.filter((l) => !l.startsWith('mode: '));
  const tasks = new Map<string, string>();
  for (const l of lines) {
    const t = /^task \d+ (\w+): (.*)$/.exec(l);
    if (t) tasks.set(t[1]!, t[2]!);
  }
  const verdict = lines.find((l) => l.startsWith('verdict: '))?.slice(9) ?? '';
  return { mode, lines, tasks, verdict };
}

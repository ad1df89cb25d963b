/** Debugger sessions over the real guest images and test guests, for the tests. */
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { assemble, type AssembleResult } from '../../assembler/index.js';
import { BareMachine } from '../../emulator/machine/bare-machine.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import { buildBootInfo, MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot } from '../../hypervisor/loader/multiboot.js';
import { CommandInterpreter } from '../../hypervisor/debug/commands.js';
import { Debugger } from '../../hypervisor/debug/debugger.js';
import { Symbols } from '../../hypervisor/debug/symbols.js';
import { assembleGuest, GUEST_IMAGES, ROOT } from '../../scripts/guest-images.js';

/** A shipped guest by its image path (guests/hello/fv.img), or any .asm by its path from the repository root. */
function build(image: string): AssembleResult {
  const guest = GUEST_IMAGES.find((g) => g.image === image);
  if (guest) return assembleGuest(guest);
  const path = join(ROOT, image);
  return assemble(readFileSync(path, 'utf8'), { fileName: relative(process.cwd(), path), includePaths: [dirname(path), join(ROOT, 'guests', 'lib')] });
}

export interface Session {
  dbg: Debugger;
  cli: CommandInterpreter;
  run: (cmd: string) => string[];
  /** The console of VM `vm` (the only one by default). */
  console: (vm?: number) => string;
}

/** One guest on the bare machine or under the hypervisor; several images make several VMs. */
export function session(images: string | string[], mode: 'bare' | 'vm', engine: 'blocks' | 'interpret' = 'blocks'): Session {
  const list = Array.isArray(images) ? images : [images];
  const built = list.map(build);
  const symbols = built.map((b) => new Symbols(b.symbols));
  const out = list.map(() => '');
  let dbg: Debugger;
  if (mode === 'bare') {
    const ram = 16 << 20;
    const machine = new BareMachine({ ramSize: ram, engine, serialOut: (b) => { out[0] += String.fromCharCode(b); } });
    const mb = parseMultiboot(built[0]!.binary);
    const info = buildBootInfo(mb, ram, '');
    machine.bootProtected(mb.segments, mb.entry, MULTIBOOT_BOOTLOADER_MAGIC, info.address, info.writes);
    dbg = new Debugger({ bare: machine }, symbols);
  } else {
    const hv = new Hypervisor({ ramSize: list.length * (18 << 20) + (16 << 20), engine });
    built.forEach((b, i) => {
      const vm = hv.createVm({ name: i === 0 ? 'guest' : `guest${i}`, memory: 16 << 20, console: (bytes) => { out[i] += Buffer.from(bytes).toString('latin1'); } });
      hv.bootMultiboot(vm, b.binary);
    });
    dbg = new Debugger({ hv }, symbols);
  }
  const cli = new CommandInterpreter(dbg);
  return { dbg, cli, run: (cmd) => cli.execute(cmd).lines, console: (vm = 0) => out[vm]! };
}

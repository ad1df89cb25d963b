/** Debugger sessions over the real guest images, for the tests. */
import { BareMachine } from '../../emulator/machine/bare-machine.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import { buildBootInfo, MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot } from '../../hypervisor/loader/multiboot.js';
import { CommandInterpreter } from '../../hypervisor/debug/commands.js';
import { Debugger } from '../../hypervisor/debug/debugger.js';
import { Symbols } from '../../hypervisor/debug/symbols.js';
import { assembleGuest, GUEST_IMAGES } from '../../scripts/guest-images.js';

export function session(image: string, mode: 'bare' | 'vm', engine: 'blocks' | 'interpret' = 'blocks'): { dbg: Debugger; cli: CommandInterpreter; run: (cmd: string) => string[]; console: () => string } {
  const guest = GUEST_IMAGES.find((g) => g.image === image)!;
  const asm = assembleGuest(guest);
  const symbols = new Symbols(asm.symbols);
  let out = '';
  let dbg: Debugger;
  if (mode === 'bare') {
    const ram = 16 << 20;
    const machine = new BareMachine({ ramSize: ram, engine, serialOut: (b) => { out += String.fromCharCode(b); } });
    const mb = parseMultiboot(asm.binary);
    const info = buildBootInfo(mb, ram, '');
    machine.bootProtected(mb.segments, mb.entry, MULTIBOOT_BOOTLOADER_MAGIC, info.address, info.writes);
    dbg = new Debugger({ bare: machine }, symbols);
  } else {
    const hv = new Hypervisor({ ramSize: 48 << 20, engine });
    const vm = hv.createVm({ name: 'guest', memory: 16 << 20, console: (b) => { out += Buffer.from(b).toString('latin1'); } });
    hv.bootMultiboot(vm, asm.binary);
    dbg = new Debugger({ hv }, symbols);
  }
  const cli = new CommandInterpreter(dbg);
  return { dbg, cli, run: (cmd) => cli.execute(cmd).lines, console: () => out };
}

/**
 * The guest images the project ships, each assembled with trapvisor's own assembler from a source
 * under guests/: the multitasking kernel built two ways from one source tree (full-virtualized and
 * paravirtualized, chosen by the PV define), the smallest hello guests, and the hostile guests. Used by
 * scripts/build-guests.ts (`npm run guests`) and by the tests, which assemble the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble, type AssembleResult } from '../assembler/index.js';

/** The repository root: the nearest directory above this module holding guests/lib (this file may run bundled). */
export const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'guests', 'lib')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
const LIB = join(ROOT, 'guests', 'lib');

export interface GuestImage {
  /** Output, relative to the repository root. */
  readonly image: string;
  /** Source, relative to the repository root. */
  readonly source: string;
  /** -D NAME=VALUE for the build. */
  readonly defines: Readonly<Record<string, string>>;
  readonly what: string;
}

/** A hostile guest (guests/hostile/NAME.asm) built with one choice of its -D define, as NAME-SUFFIX.img. */
function hostile(name: string, what: string, variant?: { define: string; value: string; suffix: string }): GuestImage {
  return {
    image: `guests/hostile/${name}${variant ? `-${variant.suffix}` : ''}.img`,
    source: `guests/hostile/${name}.asm`,
    defines: variant ? { [variant.define]: variant.value } : {},
    what,
  };
}

/**
 * Guests that try to break out of their VM or break the host, each with every variant its source
 * offers (test/hypervisor/hostile.test.ts runs each beside guests/hostile/neighbour.img).
 */
export const HOSTILE_IMAGES: readonly GuestImage[] = [
  hostile('memory', 'fills all of its memory, then stores the first dword past the end'),
  hostile('memory', '... then a dword straddling the end of memory', { define: 'BEYOND', value: '1', suffix: 'straddle' }),
  hostile('memory', '... then the last dword below 4 GiB', { define: 'BEYOND', value: '2', suffix: 'top' }),
  hostile('memory', '... then a dword straddling the end of the MMIO UART page', { define: 'BEYOND', value: '3', suffix: 'mmio-straddle' }),
  hostile('memory', '... then an ADD (read-modify-write) on the MMIO UART', { define: 'BEYOND', value: '4', suffix: 'mmio-add' }),
  hostile('memory', '... then REP STOSD over the MMIO UART page and past it', { define: 'BEYOND', value: '5', suffix: 'mmio-stos' }),
  hostile('pagetables', 'page tables pointing outside its memory; a store through a PTE past the end'),
  hostile('pagetables', '... a load through a PDE whose page table is past the end', { define: 'FINAL', value: '1', suffix: 'pde' }),
  hostile('pagetables', '... CR3 pointing outside memory', { define: 'FINAL', value: '2', suffix: 'cr3' }),
  hostile('pagetables', '... a 4 MiB page at 3 GiB', { define: 'FINAL', value: '3', suffix: 'pse' }),
  hostile('pagetables', '... REP INSB into a page past the end', { define: 'FINAL', value: '4', suffix: 'insb' }),
  hostile('vmx', 'every VMX instruction, CR4.VMXE and the VMX MSRs (self-checking)'),
  hostile('hypercalls', 'hypercalls with wild pointers, lengths and numbers, MULTICALL abuse, ring 3 (self-checking)'),
  hostile('loop', 'CLI; JMP $ forever'),
  hostile('loop', 'CLI; HLT forever', { define: 'HALT', value: '1', suffix: 'halt' }),
  hostile('triple', 'a triple fault'),
  hostile('ports', 'IN and OUT of every size on every port, REP INS/OUTS, but COM1 and isa-debug-exit'),
  hostile('ports', 'OUT to every port, COM1 included, then isa-debug-exit: its own power-off', { define: 'EVERY', value: '1', suffix: 'every' }),
  hostile('random', 'random bytes as code in ring 3, 500 rounds, every exception recovered from'),
  hostile('random', '... in ring 0: it may break anything of its own', { define: 'RING0', value: '1', suffix: 'ring0' }),
  hostile('smc', 'self-modifying code: changed after it ran, by the guest and by the hypervisor (self-checking)'),
  hostile('storm', 'interrupt storm: the PIT at its fastest periodic rate, every IRQ unmasked'),
  hostile('storm', '... a level-triggered IRQ that is never serviced', { define: 'STORM', value: '1', suffix: 'screaming' }),
  hostile('storm', '... both PICs reprogrammed at random meanwhile', { define: 'STORM', value: '2', suffix: 'pic' }),
  hostile('storm', '... INT n through every vector meanwhile', { define: 'STORM', value: '3', suffix: 'int' }),
  hostile('storm', '... a PV timer every 1 ns and events re-sent by their handler', { define: 'STORM', value: '4', suffix: 'pv' }),
];

export const GUEST_IMAGES: readonly GuestImage[] = [
  { image: 'guests/fv/kernel.img', source: 'guests/kernel/kernel.asm', defines: {}, what: 'multitasking kernel, full-virtualized (UART, PIT, PIC, HLT)' },
  { image: 'guests/pv/kernel.img', source: 'guests/kernel/kernel.asm', defines: { PV: '1' }, what: 'multitasking kernel, paravirtualized (hypercalls)' },
  { image: 'guests/hello/fv.img', source: 'guests/hello/fv.asm', defines: {}, what: 'hello world on the UART' },
  { image: 'guests/hello/pv.img', source: 'guests/hello/pv.asm', defines: {}, what: 'hello world by CONSOLE_WRITE' },
  { image: 'guests/hostile/neighbour.img', source: 'guests/hostile/neighbour.asm', defines: {}, what: 'the well-behaved guest the hostile ones run beside' },
  ...HOSTILE_IMAGES,
];

/** Assembles one image (its source's directory, then guests/lib, on the include path). */
export function assembleGuest(guest: GuestImage): AssembleResult {
  const path = join(ROOT, guest.source);
  return assemble(readFileSync(path, 'utf8'), {
    fileName: relative(process.cwd(), path) || path,
    includePaths: [dirname(path), LIB],
    defines: guest.defines,
  });
}

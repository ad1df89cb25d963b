/**
 * The guest images the project ships, each assembled with trapvisor's own assembler from a source
 * under guests/: the multitasking kernel built two ways from one source tree (full-virtualized and
 * paravirtualized, chosen by the PV define) and the smallest hello guests. Used by
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

export const GUEST_IMAGES: readonly GuestImage[] = [
  { image: 'guests/fv/kernel.img', source: 'guests/kernel/kernel.asm', defines: {}, what: 'multitasking kernel, full-virtualized (UART, PIT, PIC, HLT)' },
  { image: 'guests/pv/kernel.img', source: 'guests/kernel/kernel.asm', defines: { PV: '1' }, what: 'multitasking kernel, paravirtualized (hypercalls)' },
  { image: 'guests/hello/fv.img', source: 'guests/hello/fv.asm', defines: {}, what: 'hello world on the UART' },
  { image: 'guests/hello/pv.img', source: 'guests/hello/pv.asm', defines: {}, what: 'hello world by CONSOLE_WRITE' },
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

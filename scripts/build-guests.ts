/**
 * `npm run guests`: assembles every guest image (scripts/guest-images.ts) with trapvisor's
 * assembler and writes it with its symbol file (IMAGE.sym, for `trapvisor disasm --symbols`).
 * Assembly errors are printed as file:line:column and fail the build; nothing is half-written.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AssemblyError, formatDiagnostic } from '../assembler/index.js';
import { assembleGuest, GUEST_IMAGES, ROOT } from './guest-images.js';

function writeAtomically(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

let failed = false;
const width = Math.max(...GUEST_IMAGES.map((g) => g.image.length)) + 1;
for (const guest of GUEST_IMAGES) {
  try {
    const r = assembleGuest(guest);
    for (const w of r.warnings) console.error(formatDiagnostic(w));
    const out = join(ROOT, guest.image);
    mkdirSync(dirname(out), { recursive: true });
    writeAtomically(out, r.binary);
    writeAtomically(out.replace(/\.img$/, '.sym'), JSON.stringify(r.symbols, null, 1) + '\n');
    console.log(`${guest.image.padEnd(width)} ${String(r.binary.length).padStart(6)} bytes  ${guest.what}`);
  } catch (e) {
    if (!(e instanceof AssemblyError)) throw e;
    for (const d of e.diagnostics) console.error(formatDiagnostic(d));
    console.error(`${guest.image}: assembly of ${guest.source} failed`);
    failed = true;
  }
}
if (failed) process.exit(1);

// Regenerates every golden file of the assembler tests with real NASM (npm run golden):
//  - test/golden/corpus/*.asm + .bin: generated from the instruction table (generate-corpus.ts);
//  - test/golden/tricky/*.bin (+ .lst): NASM's output for the hand-written cases, assembled from
//    their own directory with -I inc/ so that NASM (which searches the current directory) and
//    trapvisor (which searches the including file's directory) find the same files.
// Review the diff, then commit. The tests never need NASM.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

try {
  execFileSync('nasm', ['-v'], { stdio: 'ignore' });
} catch {
  console.error('golden: nasm is not installed (the committed golden files are unchanged)');
  process.exit(1);
}
execFileSync(process.execPath, ['scripts/run-ts.mjs', 'test/golden/generate-corpus.ts'], { stdio: 'inherit' });

const tricky = 'test/golden/tricky';
for (const f of readdirSync(tricky).filter((n) => n.endsWith('.asm')).sort()) {
  const base = f.slice(0, -4);
  execFileSync('nasm', ['-f', 'bin', '-I', 'inc/', f, '-o', `${base}.bin`, '-l', `${base}.lst`], { cwd: tricky, stdio: 'inherit' });
  console.log(`${join(tricky, base)}.bin`);
}

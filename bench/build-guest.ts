/** Builds a guest source into an image, for the benchmarks. */
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function buildGuest(source: string, defines: Record<string, string>): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'tv-guest-'));
  try {
    const out = join(dir, 'g.bin');
    execFileSync('nasm', ['-f', 'bin', '-I', 'guests/lib/', ...Object.entries(defines).map(([k, v]) => `-D${k}=${v}`), source, '-o', out]);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

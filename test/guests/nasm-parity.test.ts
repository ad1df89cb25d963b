/**
 * Every guest image assembles with NASM to the same bytes as with trapvisor's assembler (skipped
 * when `nasm` is not installed).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assembleGuest, GUEST_IMAGES, ROOT } from '../../scripts/guest-images.js';

const haveNasm = spawnSync('nasm', ['-v']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'tv-guests-nasm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!haveNasm)('guest images: NASM parity', () => {
  for (const guest of GUEST_IMAGES) {
    it(`${guest.image} is byte-identical to NASM's`, () => {
      const out = join(dir, guest.image.replace(/\//g, '_'));
      const source = join(ROOT, guest.source);
      const defines = Object.entries(guest.defines).map(([k, v]) => `-D${k}=${v}`);
      execFileSync('nasm', ['-f', 'bin', '-I', join(ROOT, 'guests', 'lib') + '/', '-I', dirname(source) + '/', ...defines, '-o', out, source]);
      expect(Buffer.from(assembleGuest(guest).binary).equals(readFileSync(out))).toBe(true);
    });
  }
});

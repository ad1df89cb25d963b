/**
 * Small programs assembled with the project's assembler and run through both execution tiers:
 * the families working together as a guest would use them.
 */
import { describe, expect, it } from 'vitest';
import { asm, DATA_BASE, runCode } from './harness.js';

const PROGRAM = `
  mov esi, src
  mov edi, ${DATA_BASE}
  mov ecx, 4
  cld
  rep movsd               ; copy 16 bytes
  mov esi, ${DATA_BASE}
  xor ebx, ebx
next:
  lodsb                   ; sum the bytes, rotating the checksum
  rol ebx, 3
  add bl, al
  cmp esi, ${DATA_BASE + 16}
  jb next
  mov edx, ebx
  shrd edx, ebx, 16       ; swap halves
  bt edx, 5
  setc ah
  mov al, 0x19
  add al, 0x28
  daa                     ; 0x47 in BCD
  bsr ecx, edx
  hlt
src: db "trapvisor rocks!"
`;

function reference(): { ebx: number; edx: number } {
  let ebx = 0;
  for (const ch of 'trapvisor rocks!') {
    ebx = ((ebx << 3) | (ebx >>> 29)) >>> 0;
    ebx = ((ebx & ~0xff) | ((ebx + ch.charCodeAt(0)) & 0xff)) >>> 0;
  }
  return { ebx, edx: ((ebx >>> 16) | (ebx << 16)) >>> 0 };
}

describe('assembled programs', () => {
  for (const engine of ['interpret', 'blocks'] as const) {
    it(`copies, checksums and adjusts (${engine})`, async () => {
      const bytes = await asm(PROGRAM);
      const { m, out } = runCode(bytes, undefined, engine);
      expect(out.exception).toBeNull();
      const c = m.cpu, want = reference();
      expect(c.r[3]! >>> 0).toBe(want.ebx);
      expect(c.r[2]! >>> 0).toBe(want.edx);
      expect(c.r8[1]).toBe((want.edx >>> 5) & 1);
      expect(c.r8[0]).toBe(0x47);
      expect(c.r[1]).toBe(31 - Math.clz32(want.edx));
    });
  }
});

/**
 * Regression test for a CPU emulator bug the guest kernel hit: the same physical code run at two
 * linear addresses (an alias mapping, as a kernel maps one page both for itself and for ring 3).
 *
 * The compiled-block tier keys its cache by physical address, but a block embeds the EIPs it was
 * compiled for. The dispatcher checked a cached block's EIP and CS base; block chaining
 * (Cpu.lookupBlock) did not, so after the first alias had run, a chained jump into the second
 * alias ran the first alias's block and continued at the other mapping's addresses (fixed in
 * 4c69cc4). Both engines must see the alias address.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { ROOT } from '../../scripts/guest-images.js';
import { bootBare, type Engine } from './boot-guest.js';

// `where` returns its own linear address; the page holding it is also mapped 4 MiB higher.
const SOURCE = `bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%define ALIAS 0x400000
start:  mov esp, 0x90000
        mov edi, 0x200000                ; page directory
        mov dword [edi], 0x201000 | 3    ; 0-4 MiB: identity
        mov dword [edi + 4], 0x202000 | 3; 4-8 MiB: the alias
        mov ebx, 0x201000
        xor ecx, ecx
.map:   mov eax, ecx
        shl eax, 12
        or eax, 3
        mov [ebx + ecx * 4], eax
        inc ecx
        cmp ecx, 1024
        jb .map
        mov eax, where
        and eax, ~0xfff
        or eax, 3
        mov [0x202000 + ((where - 0x100000) >> 12) * 4 + (0x100000 >> 12) * 4], eax
        mov eax, 0x200000
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov ecx, 3
.again: call where                      ; run it at its own address (compiled there)...
        mov esi, eax
        mov eax, where + ALIAS
        call eax                        ; ...then through the alias
        mov edi, eax
        loop .again
        mov eax, where + ALIAS
        cmp edi, eax                    ; 'where' says where it ran
        setne al
        out 0xf4, al                    ; status 1: right, 3: wrong
        hlt
        align 4096
where:  xor edx, edx
.loop:  inc edx                         ; a block entered by chaining from the one above
        cmp edx, 5
        jb .loop
        call .here
.here:  pop eax
        sub eax, .here - where
        ret
        MULTIBOOT_END
`;

function run(engine: Engine) {
  const bin = assemble(SOURCE, { fileName: 'code-alias.asm', includePaths: [join(ROOT, 'guests', 'lib')] }).binary;
  return bootBare(bin, engine, 100_000);
}

describe('code run at two linear addresses of one physical page', () => {
  for (const engine of ['interpret', 'blocks'] as const) {
    it(`the alias call sees the alias address (${engine})`, () => {
      expect(run(engine).stop).toEqual({ kind: 'exit', status: 1 });
    });
  }
});

/**
 * The guest library's kernel pieces (guests/lib/kernel/) in a small identity-mapped FV test
 * kernel: kprintf's conversions, exception_print, the descriptors and the paging helpers.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { ROOT } from '../../scripts/guest-images.js';
import { bootBare, ENGINES } from './boot-guest.js';

function kernel(body: string, data = ''): Uint8Array {
  const source = `bits 32
%define KERNEL_VMA 0
%define KERNEL_MAP_BYTES 0x400000
%define FRAME_FIRST 0x200000
%define FRAME_LIMIT 0x210000
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "kernel/descriptors.inc"
%include "kernel/paging.inc"
%include "kernel/print.inc"
%include "kernel/format.inc"
%include "kernel/exceptions.inc"
%include "kernel/console.inc"
start:  mov esp, 0x90000
        call descriptors_init
        call console_init
${body}
        xor eax, eax
        jmp machine_exit
isr_unhandled:
        call exception_print
        PRINTF \`\\n\`
        mov eax, 3
        jmp machine_exit
${data}
        MULTIBOOT_END
        section .bss align=4096
boot_pd:  resb 4096
boot_pts: resb 4096
`;
  return assemble(source, { fileName: 'library-test.asm', includePaths: [join(ROOT, 'guests', 'lib')] }).binary;
}

describe('guest library', () => {
  for (const engine of ENGINES) {
    it(`kprintf formats %x %d %u %s %c %% with widths (${engine})`, () => {
      const run = bootBare(kernel(`
        PRINTF \`[%x] [%08x] [%d] [%d] [%5d] [%05u] [%u] [%s] [%c] [%%] [%q]\\n\`, 0xbeef, 0xbeef, 0, -42, 42, 7, 0xffffffff, name, 'Z'
        PRINTF \`no arguments\\n\`
        PRINTF \`%s=%x\\n\`, name, 0`, `name: db 'trapvisor', 0`), engine);
      expect(run.stop).toEqual({ kind: 'exit', status: 1 });
      expect(run.serial).toBe('[beef] [0000beef] [0] [-42] [   42] [00007] [4294967295] [trapvisor] [Z] [%] [q]\nno arguments\ntrapvisor=0\n');
    });
  }

  it('kprintf truncates at its buffer and preserves registers and flags', () => {
    const run = bootBare(kernel(`
        mov eax, 0x11111111
        mov ebx, 0x22222222
        mov ecx, 0x33333333
        mov edx, 0x44444444
        mov esi, 0x55555555
        mov edi, 0x66666666
        mov ebp, 0x77777777
        stc
        PRINTF \`%s\`, long
        jnc .bad
        cmp eax, 0x11111111
        jne .bad
        cmp ebx, 0x22222222
        jne .bad
        cmp ecx, 0x33333333
        jne .bad
        cmp edx, 0x44444444
        jne .bad
        cmp esi, 0x55555555
        jne .bad
        cmp edi, 0x66666666
        jne .bad
        cmp ebp, 0x77777777
        jne .bad
        PRINTF \`|kept\\n\`
        jmp .done
.bad:   PRINTF \`|clobbered\\n\`
.done:`, `long: times 600 db 'x'
        db 0`), 'blocks');
    expect(run.serial).toBe('x'.repeat(512) + '|kept\n');
  });

  it('exception_print names the vector, error code, CS:EIP and CR2', () => {
    const run = bootBare(kernel(`
        mov eax, cr0
        or eax, 0x80000000
        mov ebx, 0x40000000
        mov cr2, ebx
        ud2`), 'blocks');
    expect(run.stop).toEqual({ kind: 'exit', status: 7 });
    expect(run.serial).toMatch(/^exception 6 \(#UD invalid opcode\) error 0x00000000 at 0008:001[0-9a-f]{5}, CR2 0x40000000\n$/);
  });

  it('paging: frame_alloc, address_space_new, map_page and pte_lookup', () => {
    const run = bootBare(kernel(`
        PAGING_ENABLE_HIGHER_HALF       ; KERNEL_VMA 0: an identity map with paging on
        call frame_alloc
        mov ebx, eax
        call address_space_new
        mov edx, eax
        mov edi, 0x12345000
        lea eax, [ebx + (PTE_P | PTE_W | PTE_U)]
        call map_page
        call pte_lookup
        PRINTF \`frame %x, pd %x, pte %x, frames %u\\n\`, ebx, edx, eax, dword [frames_used]
        mov edi, 0x23456000
        call pte_lookup
        PRINTF \`unmapped %x\\n\`, eax
        mov eax, edx
        mov cr3, eax
        mov dword [0x12345ffc], 0xcafe
        PRINTF \`through the new map %x\\n\`, dword [ebx + 0xffc]`), 'blocks');
    expect(run.stop).toEqual({ kind: 'exit', status: 1 });
    expect(run.serial).toBe('frame 200000, pd 201000, pte 200007, frames 3\nunmapped 0\nthrough the new map cafe\n');
  });
});

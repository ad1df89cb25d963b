/**
 * If-converted forward branches in compiled blocks: results, retired-instruction counts and fault
 * reporting must equal the interpreter's, on both paths of the branch and with a fault inside the
 * conditionally executed code.
 */
import { describe, expect, it } from 'vitest';
import { asm, runCode, type Machine } from './harness.js';

const PROGRAM = `
        mov ecx, 200
        xor eax, eax
        xor edx, edx
top:    test ecx, 3
        jnz skip                 ; a short forward Jcc over straight-line code
        add eax, ecx
        mov [0x20000 + ecx*4], eax
        inc edx
skip:   mov ebx, ecx
        shl ebx, 12
        mov esi, [ebx + 0x100000]  ; a different page on every iteration
        dec ecx
        jnz top
        mov ebx, [0x5000]        ; reaches here only without a fault
`;

function state(m: Machine): unknown {
  const c = m.cpu;
  return { r: [...c.r], eip: c.eip, icount: c.icount, flags: c.eflags, mem: c.mem.read32(0x20000 + 4 * 4) };
}

describe('compiled blocks with if-converted branches', () => {
  it('match the interpreter on both paths', async () => {
    const code = await asm(PROGRAM);
    const a = runCode(code, undefined, 'interpret');
    const b = runCode(code, undefined, 'blocks');
    expect(b.out).toEqual(a.out);
    expect(state(b.m)).toEqual(state(a.m));
    expect(a.m.cpu.r[2]).toBe(50); // taken 150 times, fell through 50 times
  });

  it('report a fault inside the skipped code exactly as the interpreter does', async () => {
    const code = await asm(PROGRAM);
    // Unmap the page read after the merge point when ECX = 199: that iteration skipped the
    // conditional code, so the block must not count the three skipped instructions as retired.
    const setup = (m: Machine): void => { m.enablePaging(); m.setPte(0x100000 + 199 * 4096, 0); };
    const a = runCode(code, setup, 'interpret');
    const b = runCode(code, setup, 'blocks');
    expect(a.out.exception?.vector).toBe(14);
    expect(a.m.cpu.r[1]).toBe(199);
    expect(b.out).toEqual(a.out);
    expect(state(b.m)).toEqual(state(a.m));
  });
});

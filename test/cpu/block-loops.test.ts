/**
 * Blocks that loop on themselves (a Jcc back to the block's first instruction): the compiled
 * function goes round inside itself, and must still stop exactly where the dispatcher would have
 * stopped it: at the run's budget, when an interrupt is pending with IF set, when a store changed
 * the loop's own code, and at a fault in the middle of the hundredth iteration.
 */
import { describe, expect, it } from 'vitest';
import { asm, CODE_BASE, Machine, runCode } from './harness.js';

const LOOP = `
        mov ecx, 300
        xor eax, eax
        xor edx, edx
top:    add eax, ecx
        inc edx
        mov [0x30000], edx
        mov esi, [0x40000 + edx*4]
        rol eax, 3
        dec ecx
        jnz top
`;

function state(m: Machine): unknown {
  const c = m.cpu;
  return { r: [...c.r], eip: c.eip, icount: c.icount, flags: c.eflags, counter: c.mem.read32(0x30000) };
}

/** `code` (then HLT) in a fresh machine, run for `budget` instructions; `unmapped`: with paging, that page not present. */
function runFor(code: readonly number[], engine: 'interpret' | 'blocks', budget: number, unmapped?: number): Machine {
  const m = new Machine({ engine });
  if (unmapped !== undefined) { m.enablePaging(); m.setPte(unmapped, 0); }
  m.poke(CODE_BASE, [...code, 0xf4]);
  m.cpu.run(budget);
  return m;
}

/** The generated source of every compiled block. */
function blockSources(m: Machine): string[] {
  const cache = (m.cpu as unknown as { blockCache: Map<number, { source: string }> }).blockCache;
  return [...cache.values()].map((b) => b.source);
}

function loopBlockSources(m: Machine): string[] {
  return blockSources(m).filter((s) => s.includes('for (;;)'));
}

/** The code of each instruction whose mnemonic matches `mnemonic`: what follows its "// address: MNEMONIC" line. */
function instructionCode(source: string, mnemonic: RegExp): string[] {
  const head = /^\/\/ [0-9a-f]+: /;
  return source.split(/\n(?=\/\/ [0-9a-f]+: )/).filter((p) => head.test(p) && mnemonic.test(p.replace(head, '')));
}

describe('compiled blocks that loop on themselves', () => {
  it('go round inside one function and end as the interpreter ends', async () => {
    const code = await asm(LOOP);
    const a = runCode(code, undefined, 'interpret');
    const b = runCode(code, undefined, 'blocks');
    expect(loopBlockSources(b.m)).toHaveLength(1);
    expect(b.out).toEqual(a.out);
    expect(state(b.m)).toEqual(state(a.m));
    expect(b.m.cpu.mem.read32(0x30000)).toBe(300);
  });

  it('compile MOV with a bare address (moffs, A0-A3) inline, faults included', async () => {
    const code = await asm(`
        mov ecx, 200
top:    mov eax, [0x30000]
        add eax, ecx
        mov [0x30000], eax
        mov al, [0x30004]
        inc eax
        mov [0x30004], al
        mov ax, [0x30008]
        mov [0x3000a], ax
        mov [0x31000 + 0x1000 * 8], eax   ; the page a second run leaves unmapped
        dec ecx
        jnz top`);
    const a = runCode(code, undefined, 'interpret');
    const b = runCode(code, undefined, 'blocks');
    const loops = loopBlockSources(b.m);
    expect(loops).toHaveLength(1);
    expect(loops[0]).not.toContain('X['); // no executor call: every instruction inline
    expect(b.out).toEqual(a.out);
    expect(state(b.m)).toEqual(state(a.m));
    expect(b.m.cpu.mem.read32(0x30000)).toBe((200 * 201) / 2);
    // A store that faults in the middle of an iteration stops where the interpreter stops.
    for (const budget of [50, 1000]) {
      const x = runFor(code, 'interpret', budget, 0x39000), y = runFor(code, 'blocks', budget, 0x39000);
      expect(state(y)).toEqual(state(x));
    }
  });

  it('compile INC and DEC of memory inline: CF kept, Jcc fused, a faulting store changes no flag', async () => {
    const code = await asm(`
        mov dword [0x30000], 150
        xor ebx, ebx
top:    stc
        inc dword [0x30004]
        adc ebx, 0                  ; CF survives the INC
        inc byte [0x30008]          ; wraps every 256
        xor eax, eax                ; all flags again: the INC's record is not needed, its store is
        dec word [0x3000a]
        dec dword [0x30000]
        jnz top
        clc
        dec dword [0x39000]         ; a read-only page in the second run: #PF, flags untouched`);
    const a = runCode(code, undefined, 'interpret');
    const b = runCode(code, undefined, 'blocks');
    const loops = loopBlockSources(b.m);
    expect(loops).toHaveLength(1);
    // Each instruction's code follows its "// address: MNEMONIC" line: no INC or DEC calls an executor.
    const parts = instructionCode(loops[0]!, /^(INC|DEC)/);
    expect(parts).toHaveLength(4);
    for (const p of parts) expect(p).not.toContain('X[');
    expect(b.out).toEqual(a.out);
    expect(state(b.m)).toEqual(state(a.m));
    expect(b.m.cpu.r[3]).toBe(150);
    for (const m of [a.m, b.m]) {
      expect(m.cpu.mem.read32(0x30004)).toBe(150);
      expect(m.cpu.mem.read8(0x30008)).toBe(150);
      expect(m.cpu.mem.read16(0x3000a)).toBe(0x10000 - 150);
    }
    // Read-only: the DEC reads, then its store faults. Flags and memory stay as before it.
    const readOnly = (engine: 'interpret' | 'blocks'): Machine => {
      const m = new Machine({ engine });
      m.enablePaging();
      m.setPte(0x39000, 0x5); // present, user, not writable
      m.cpu.mmu.cr0 |= 0x10000; // WP: supervisor writes honour it
      m.poke(CODE_BASE, [...code, 0xf4]);
      m.cpu.run(100_000);
      return m;
    };
    const x = readOnly('interpret'), y = readOnly('blocks');
    expect(state(y)).toEqual(state(x));
    expect(y.cpu.mmu.cr2 >>> 0).toBe(0x39000);
  });

  it('compile SETcc and CMOVcc of registers inline, for every condition after every kind of producer', async () => {
    const CCS = ['o', 'no', 'b', 'ae', 'z', 'nz', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
    // Producers: SUB (CMP), ADD, LOGIC (TEST), INC (CF kept), SHL: each fuses differently.
    const producers = ['cmp eax, ebx', 'add eax, ebx', 'test eax, ebx', 'inc eax', 'shl eax, 3'];
    const body = producers.flatMap((p) => CCS.map((cc) => `        mov eax, [esi]\n        mov ebx, [esi + 4]\n        ${p}\n        set${cc} cl\n        mov edx, -1\n        cmov${cc} edx, edi\n        add ebp, ecx\n        rol ebp, 1\n        add ebp, edx`));
    const code = await asm(`
        mov esi, 0x30000
        mov edi, 0x5a5a5a5a
        xor ebp, ebp
        mov ecx, 0
top:
${body.join('\n')}
        add esi, 8
        cmp esi, 0x30000 + 8 * 12
        jb top`);
    const pairs = [[0, 0], [1, 2], [2, 1], [-1, 1], [0x7fffffff, -1], [0x80000000, 1], [5, 5], [-5, 3], [0x40000000, 0x40000000], [3, -3], [0xff, 0x100], [-1, -1]];
    const setup = (m: Machine): void => pairs.forEach(([x, y], k) => { m.cpu.mem.write32(0x30000 + 8 * k, x!); m.cpu.mem.write32(0x30004 + 8 * k, y!); });
    const a = runCode(code, setup, 'interpret');
    const b = runCode(code, setup, 'blocks');
    expect(b.out).toEqual(a.out);
    expect(state(b.m)).toEqual(state(a.m));
    expect(b.m.cpu.r[5]).not.toBe(0);
    const parts = instructionCode(blockSources(b.m).join('\n'), /^(SET|CMOV)/);
    expect(parts.length).toBeGreaterThanOrEqual(2 * CCS.length * producers.length);
    for (const p of parts) expect(p).not.toContain('X[');
  });

  it('compile 32-bit MUL, IMUL, DIV and IDIV inline; a divide error mid-loop is where the interpreter has it', async () => {
    const code = await asm(`
        mov esi, 1000
        mov edi, 0x12345
        xor ebp, ebp
top:    mov eax, esi
        mul edi                     ; EDX:EAX
        add ebp, eax
        adc ebp, edx
        mov eax, esi
        imul dword [0x30000]        ; a negative factor, from memory
        xor ebp, eax
        mov eax, ebp
        xor edx, edx
        div edi
        add ebp, edx
        cmp esi, 700
        jne keep
        mov dword [0x30004], 0      ; from here the divisor is 0 (the second run only)
keep:   mov eax, ebp
        cdq
        idiv dword [0x30008]        ; a memory operand
        mov ecx, [0x30004]
        mov eax, esi
        cdq
        idiv ecx                    ; #DE once the divisor is 0: a register operand, mid-block
        sub ebp, eax
        dec esi
        jnz top`);
    // The first run: the store that zeroes the divisor goes to a page of its own (0x30004 is patched
    // to 0x31004 in the MOV's displacement), so no #DE.
    const at = (bytes: number[]): number => bytes.findIndex((_, k) => bytes[k] === 0x04 && bytes[k + 1] === 0x00 && bytes[k + 2] === 0x03 && bytes[k + 3] === 0x00 && bytes[k + 4] === 0x00);
    const safe = [...code];
    expect(at(safe)).toBeGreaterThan(0);
    safe[at(safe) + 1] = 0x10; // [0x30004] of `mov dword [0x30004], 0` -> [0x31004]
    const setup = (m: Machine): void => { m.cpu.mem.write32(0x30000, -7); m.cpu.mem.write32(0x30004, 13); m.cpu.mem.write32(0x30008, 11); };
    const a = runCode(safe, setup, 'interpret'), b = runCode(safe, setup, 'blocks');
    expect(b.out).toEqual(a.out);
    expect(state(b.m)).toEqual(state(a.m));
    expect(b.out.exception).toBeNull();
    const sources = blockSources(b.m).join('\n');
    expect(sources).toContain('R.mul32(');
    expect(sources).toContain('R.div32(');
    // The second run zeroes the divisor at ESI = 700, mid-loop: both tiers take #DE at the same IDIV.
    const x = runCode(code, setup, 'interpret'), y = runCode(code, setup, 'blocks');
    expect(y.out.exception?.vector).toBe(0);
    expect(y.out).toEqual(x.out);
    expect(state(y.m)).toEqual(state(x.m));
    expect(y.m.cpu.r[6]).toBe(700);
  });

  it('stop exactly at the budget, wherever it falls in an iteration', async () => {
    const code = await asm(LOOP);
    for (const budget of [1, 4, 5, 11, 17, 100, 601, 1234, 1803]) {
      const a = runFor(code, 'interpret', budget), b = runFor(code, 'blocks', budget);
      expect(b.cpu.icount).toBe(budget);
      expect(state(b)).toEqual(state(a));
    }
  });

  it('take a pending interrupt at the end of the iteration that raised it', async () => {
    // An interrupt line that goes up once the loop has stored 100 (vector 5: the harness's stub
    // halts and reports it with the EIP it interrupted).
    const code = await asm(`sti\n${LOOP}`);
    const { m, out } = runCode(code, (m) => {
      m.cpu.intr = {
        hasPendingInterrupt: () => m.cpu.mem.read32(0x30000) >= 100,
        acknowledge: () => { m.cpu.mem.write32(0x30000, 0); return 5; },
      };
    }, 'blocks');
    expect(loopBlockSources(m)).toHaveLength(1);
    expect(out.exception?.vector).toBe(5);
    const top = (await asm(`sti\nmov ecx, 300\nxor eax, eax\nxor edx, edx`)).length;
    expect(out.exception?.eip).toBe(CODE_BASE + top); // the loop's first instruction: iteration 101 had not begun
    expect(m.cpu.r[2]).toBe(100); // EDX: 100 iterations ran, not one more
    expect(m.cpu.r[1]).toBe(200); // ECX
  });

  it('leave the loop when a store changes the loop itself, and run the new code', async () => {
    // At the 50th iteration the loop patches the immediate of its own ADD from 1 to 7.
    const code = await asm(`
        mov ecx, 100
        xor eax, eax
        xor edx, edx
top:    inc edx
        cmp edx, 50
        jne skip
        mov byte [patch + 2], 7
skip:
patch:  add eax, byte 1
        dec ecx
        jnz top
`);
    const a = runCode(code, undefined, 'interpret');
    const b = runCode(code, undefined, 'blocks');
    expect(state(b.m)).toEqual(state(a.m));
    expect(b.m.cpu.r[0]).toBe(49 * 1 + 51 * 7);
  });

  it('report a fault in the middle of the hundredth iteration as the interpreter does', async () => {
    const code = await asm(`
        mov ecx, 300
        xor eax, eax
        xor edx, edx
top:    inc edx
        mov ebx, edx
        shl ebx, 12
        mov esi, [ebx + 0x100000]  ; a page of its own per iteration
        add eax, esi
        dec ecx
        jnz top
`);
    const setup = (m: Machine): void => { m.enablePaging(); m.setPte(0x100000 + 100 * 4096, 0); };
    const a = runCode(code, setup, 'interpret');
    const b = runCode(code, setup, 'blocks');
    expect(loopBlockSources(b.m)).toHaveLength(1);
    expect(a.out.exception?.vector).toBe(14);
    expect(a.m.cpu.r[2]).toBe(100);
    expect(b.out).toEqual(a.out);
    expect(state(b.m)).toEqual(state(a.m));
  });
});

describe('flag records a compiled block leaves out', () => {
  // Register-only flag writers in a row: only the last record before anything could see it is
  // written, and INC/DEC take the CF they keep from the previous writer's operands. Whatever stops
  // the block (its end, the budget, a fault) must find the EFLAGS the interpreter has there.
  const CHAIN = `
        mov eax, 0x80000000
        mov ebx, 0x80000001
        mov ecx, 5
        mov edx, 0xfffffff0
        xor ebp, ebp
        add eax, ebx             ; CF = 1
        inc ecx                  ; keeps ADD's CF
        adc ebp, ebp             ; EBP collects each kept CF
        sub edx, ecx             ; no borrow
        dec ebx                  ; keeps SUB's CF
        adc ebp, ebp
        cmp ecx, edx             ; borrow: CF = 1
        inc eax                  ; keeps CMP's CF
        adc ebp, ebp
        shl edx, 1               ; CF = bit 31 of EDX
        dec ecx                  ; keeps SHL's CF
        adc ebp, ebp
        xor esi, esi             ; CF = 0
        dec esi                  ; SF, PF, AF set: flags no earlier state has
        adc ebp, ebp
        mov edi, [0x200000]      ; a fault here must see DEC's flags (and XOR's CF)
        add eax, 1
`;
  it('end, stop at any budget and fault with the interpreter\'s EFLAGS', async () => {
    const code = await asm(CHAIN);
    for (let budget = 1; budget <= 23; budget++) {
      for (const fault of [false, true]) {
        const unmapped = fault ? 0x200000 : undefined;
        const a = runFor(code, 'interpret', budget, unmapped), b = runFor(code, 'blocks', budget, unmapped);
        expect(state(b), `budget ${budget}${fault ? ', faulting' : ''}`).toEqual(state(a));
      }
    }
    const m = runFor(code, 'blocks', 100_000);
    expect(m.cpu.r[5]).toBe(0b10110); // the CFs kept: ADD's 1, SUB's 0, CMP's 1, SHL's 1, XOR's 0
  });
});

describe('flag records around if-converted code', () => {
  it('a skipped conditional XOR does not take the record of the SHR before it', async () => {
    // JNC skips the XOR; the fault after the merge point must see SHR's flags (PF set), which
    // only SHR's own record holds when the XOR did not run.
    const code = await asm(`
        mov eax, 0x12345678
        shr eax, 1
        jnc skip
        xor eax, 0x80000001
skip:   mov esi, [0x200000]
        add eax, 1
`);
    const setup = (m: Machine): void => { m.enablePaging(); m.setPte(0x200000, 0); };
    const a = runCode(code, setup, 'interpret');
    const b = runCode(code, setup, 'blocks');
    expect(a.out.exception?.vector).toBe(14);
    expect(b.out).toEqual(a.out);
    expect(state(b.m)).toEqual(state(a.m));
  });
});

describe('random register code with branches, loops and faults', () => {
  // Straight-line register code (the instructions whose flag records blocks may leave out),
  // flag readers, short forward branches (if-converted regions), a loop back to the start and
  // loads from an unmapped page: the blocks tier must end every program, and stop at every
  // budget, with the interpreter's registers, EFLAGS, EIP and count.
  let seed = 0x5eed;
  const rnd = (n: number): number => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed % n; };
  const REGS = ['eax', 'ebx', 'edx', 'esi', 'edi', 'ebp'];
  const reg = (): string => REGS[rnd(REGS.length)]!;
  const imm = (): string => String([0, 1, 0x7f, 0x80, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, rnd(1000)][rnd(9)]);
  function instruction(label: () => string): string {
    switch (rnd(12)) {
      case 0: case 1: return `${['add', 'sub', 'and', 'or', 'xor', 'cmp', 'test'][rnd(7)]} ${reg()}, ${reg()}`;
      case 2: return `${['add', 'sub', 'xor', 'cmp'][rnd(4)]} ${reg()}, ${imm()}`;
      case 3: return `${['inc', 'dec'][rnd(2)]} ${reg()}`;
      case 4: return `${['shl', 'shr', 'sar'][rnd(3)]} ${reg()}, ${1 + rnd(31)}`;
      case 5: return `mov ${reg()}, ${rnd(2) ? reg() : imm()}`;
      case 6: return `${['adc', 'sbb'][rnd(2)]} ${reg()}, ${reg()}`;
      case 7: return `set${['c', 'z', 's', 'o', 'p', 'a', 'l', 'g'][rnd(8)]} al`;
      case 8: return `j${['c', 'nc', 'z', 'nz', 's', 'ns', 'be', 'a', 'l', 'ge'][rnd(10)]} ${label()}`;
      case 9: return rnd(4) === 0 ? `mov ${reg()}, [0x200000]` : `lea ${reg()}, [${reg()} + ${rnd(100)}]`;
      case 10: return `rcl ${reg()}, 1`;
      default: return `movzx ${reg()}, ${['al', 'bl', 'dx', 'si'][rnd(4)]}`;
    }
  }
  function program(): string {
    const lines = ['mov ecx, 20', 'top:'];
    let labels = 0;
    const n = 4 + rnd(20);
    for (let i = 0; i < n; i++) {
      let target = '';
      lines.push(instruction(() => (target = `f${labels++}`)));
      if (target) lines.push(...Array.from({ length: rnd(3) }, () => instruction(() => 'top')), `${target}:`);
    }
    lines.push('dec ecx', 'jnz top');
    return lines.join('\n');
  }
  it('200 programs: the blocks tier ends and stops where the interpreter does', async () => {
    let faulted = 0;
    for (let p = 0; p < 200; p++) {
      const code = await asm(program());
      for (const budget of [rnd(60) + 1, rnd(600) + 1, 100_000]) {
        const a = runFor(code, 'interpret', budget, 0x200000), b = runFor(code, 'blocks', budget, 0x200000);
        expect(state(b), `program ${p}, budget ${budget}`).toEqual(state(a));
        if (a.cpu.mmu.cr2 === 0x200000) faulted++;
      }
    }
    expect(faulted).toBeGreaterThan(50);
  });
});

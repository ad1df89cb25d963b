/**
 * System instructions, privilege and mode rules, and exceptions with their error codes, through the
 * real CPU. Bytes are hand-assembled; the NASM source is in the comment beside them.
 */
import { describe, expect, it } from 'vitest';
import { CPUID_1_ECX, CPUID_1_EDX } from '../../emulator/cpu/exec/cpuid.js';
import { ZF } from '../../emulator/cpu/flags.js';
import { Msr, writeMsr } from '../../emulator/cpu/msr.js';
import { loadSegmentRealMode, SegReg } from '../../emulator/cpu/segments.js';
import { asm, CODE_BASE, DATA_BASE, GDT_BASE, Machine, runCode, SEL } from './harness.js';

const d32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const ascii = (v: number): string => String.fromCharCode(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);

function ok(bytes: number[], setup?: (m: Machine) => void): Machine {
  const { m, out } = runCode(bytes, setup);
  expect(out.exception).toBeNull();
  return m;
}
function fault(bytes: number[], setup?: (m: Machine) => void): { vector: number; errorCode: number; eip: number } {
  const { out } = runCode(bytes, setup);
  expect(out.exception).not.toBeNull();
  return out.exception!;
}

describe('CPUID', () => {
  it('is a GenuineIntel family 6 with only the implemented features', () => {
    let c = ok([0x31, 0xc0, 0x0f, 0xa2]).cpu; // xor eax,eax ; cpuid
    expect(ascii(c.r[3]!) + ascii(c.r[2]!) + ascii(c.r[1]!)).toBe('GenuineIntel');
    expect(c.r[0]).toBe(1);
    c = ok([0xb8, ...d32(1), 0x0f, 0xa2]).cpu; // mov eax,1 ; cpuid
    expect((c.r[0]! >> 8) & 0xf).toBe(6);
    expect(c.r[2]! & 1).toBe(0); // no FPU
    for (const bit of Object.values(CPUID_1_EDX)) expect(c.r[2]! & bit).toBe(bit);
    expect(c.r[1]! & CPUID_1_ECX.VMX).toBe(CPUID_1_ECX.VMX);
    // An unknown leaf returns the highest basic leaf (leaf 1).
    const u = ok([0xb8, ...d32(0x12345), 0x0f, 0xa2]).cpu;
    expect([u.r[0], u.r[1], u.r[2], u.r[3]]).toEqual([c.r[0], c.r[1], c.r[2], c.r[3]]);
  });
});

describe('TSC and MSRs', () => {
  it('RDTSC counts instructions; WRMSR to the TSC moves it', () => {
    // rdtsc ; mov ebx,eax ; rdtsc
    const c = ok([0x0f, 0x31, 0x89, 0xc3, 0x0f, 0x31]).cpu;
    expect(c.r[0]! - c.r[3]!).toBe(2);
    // mov ecx,0x10 ; xor edx,edx ; mov eax,1000 ; wrmsr ; rdtsc
    const c2 = ok([0xb9, ...d32(0x10), 0x31, 0xd2, 0xb8, ...d32(1000), 0x0f, 0x30, 0x0f, 0x31]).cpu;
    expect(c2.r[0]).toBe(1001);
  });
  it('RDTSCP returns IA32_TSC_AUX in ECX', () => {
    const c = ok([0x0f, 0x01, 0xf9], (m) => writeMsr(m.cpu, Msr.IA32_TSC_AUX, 7n)).cpu;
    expect(c.r[1]).toBe(7);
  });
  it('an unknown MSR raises #GP(0); RDMSR at CPL 3 raises #GP(0)', () => {
    expect(fault([0xb9, ...d32(0x1234), 0x0f, 0x32])).toMatchObject({ vector: 13, errorCode: 0 });
    expect(fault([0xb9, ...d32(0x174), 0x0f, 0x32], (m) => m.enterUserMode())).toMatchObject({ vector: 13, errorCode: 0 });
  });
  it('CR4.TSD makes RDTSC CPL 0 only', () => {
    expect(fault([0x0f, 0x31], (m) => { m.cpu.mmu.cr4 = 4; m.enterUserMode(); }).vector).toBe(13);
    ok([0x0f, 0x31], (m) => { m.cpu.mmu.cr4 = 4; });
  });
});

describe('privilege and mode rules', () => {
  const privileged: Record<string, number[]> = {
    'mov cr0,eax': [0x0f, 0x22, 0xc0], 'lgdt [eax]': [0x0f, 0x01, 0x10], 'invlpg [eax]': [0x0f, 0x01, 0x38],
    clts: [0x0f, 0x06], wbinvd: [0x0f, 0x09], invd: [0x0f, 0x08], wrmsr: [0x0f, 0x30], 'lmsw ax': [0x0f, 0x01, 0xf0],
    'ltr ax': [0x0f, 0x00, 0xd8], 'lldt ax': [0x0f, 0x00, 0xd0], hlt: [0xf4], sysexit: [0x0f, 0x35],
  };
  for (const [name, bytes] of Object.entries(privileged)) {
    it(`${name} at CPL 3 raises #GP(0) at the instruction`, () => {
      expect(fault(bytes, (m) => { m.enterUserMode(); m.cpu.r[0] = DATA_BASE; })).toEqual({ vector: 13, errorCode: 0, eip: CODE_BASE });
    });
  }
  it('LLDT in real mode is #UD', () => {
    const m = new Machine();
    const c = m.cpu;
    c.reset();
    for (const s of [SegReg.DS, SegReg.ES, SegReg.SS]) loadSegmentRealMode(c, s, 0);
    loadSegmentRealMode(c, SegReg.CS, CODE_BASE >>> 4);
    c.eip = 0; c.r[4] = 0x7000; c.idtBase = 0; c.idtLimit = 0x3ff;
    c.mem.write32(6 * 4, 0x600); c.mem.write8(0x600, 0xf4); // IVT[6] = 0000:0600, a HLT
    m.poke(CODE_BASE, [0x0f, 0x00, 0xd0]); // lldt ax
    c.run(10);
    expect([c.segBase[SegReg.CS], c.eip]).toEqual([0, 0x601]);
  });
  it('INS and OUTS at CPL 3 obey IOPL and the TSS I/O bitmap', () => {
    // rep outsb / insb with IOPL 0 and no bitmap in the TSS
    expect(fault([0xf3, 0x6e], (m) => { m.enterUserMode(); m.cpu.r[1] = 1; m.cpu.r[6] = DATA_BASE; })).toEqual({ vector: 13, errorCode: 0, eip: CODE_BASE });
    expect(fault([0x6c], (m) => { m.enterUserMode(); m.cpu.r[7] = DATA_BASE; }).vector).toBe(13);
    // With IOPL 3 the port is reached (the final HLT then faults at CPL 3).
    const out: number[] = [];
    const e = fault([0x6e], (m) => {
      m.cpu.io = { portRead: () => 0, portWrite: (_p, _s, v) => { out.push(v); } };
      m.poke(DATA_BASE, [0x5a]); m.enterUserMode(); m.cpu.eflags = 0x3002; m.cpu.r[6] = DATA_BASE;
    });
    expect([e.eip, out]).toEqual([CODE_BASE + 1, [0x5a]]);
  });
  it('VMX instructions outside VMX operation are #UD', () => {
    for (const bytes of [[0x0f, 0x01, 0xc4], [0x0f, 0x01, 0xc1], [0x0f, 0x01, 0xc2], [0x0f, 0x78, 0xc0]]) {
      expect(fault(bytes).vector).toBe(6);
    }
  });
});

describe('descriptor instructions', () => {
  it('LAR, LSL, VERR, VERW report through ZF', () => {
    // mov eax,0x1b ; lar ebx,eax
    let c = ok([0xb8, ...d32(SEL.CODE3), 0x0f, 0x02, 0xd8]).cpu;
    expect(c.r[3]! >>> 0).toBe(0x00cffb00); expect(c.eflags & ZF).toBe(ZF);
    // mov eax,0x10 ; lsl ebx,eax
    c = ok([0xb8, ...d32(SEL.DATA0), 0x0f, 0x03, 0xd8]).cpu;
    expect(c.r[3]! >>> 0).toBe(0xffffffff);
    // mov eax,0x80 (beyond the GDT) ; mov ebx,5 ; lar ebx,eax
    c = ok([0xb8, ...d32(0x80), 0xbb, ...d32(5), 0x0f, 0x02, 0xd8]).cpu;
    expect(c.r[3]).toBe(5); expect(c.eflags & ZF).toBe(0);
    // mov eax,8 ; verr ax   /   verw ax
    expect(ok([0xb8, ...d32(8), 0x0f, 0x00, 0xe0]).cpu.eflags & ZF).toBe(ZF);
    expect(ok([0xb8, ...d32(8), 0x0f, 0x00, 0xe8]).cpu.eflags & ZF).toBe(0);
    // ring-0 data is not accessible from CPL 3
    const m = new Machine();
    m.poke(CODE_BASE, [0xb8, ...d32(SEL.DATA0), 0x0f, 0x00, 0xe0]);
    m.enterUserMode();
    m.cpu.lf.load(0x2 | ZF);
    m.cpu.step(); m.cpu.step();
    expect([m.cpu.eip, m.cpu.eflags & ZF]).toEqual([CODE_BASE + 8, 0]);
  });
  it('LTR marks the TSS busy; SGDT stores what LGDT loaded', () => {
    const m = ok([0xb8, ...d32(SEL.TSS), 0x0f, 0x00, 0xd8]); // mov eax,0x28 ; ltr ax
    expect((m.cpu.mem.read32(GDT_BASE + SEL.TSS + 4) >>> 8) & 0xf).toBe(0xb);
    // sgdt [DATA_BASE]
    const m2 = ok([0x0f, 0x01, 0x05, ...d32(DATA_BASE)]);
    expect(m2.cpu.mem.read16(DATA_BASE)).toBe(m2.cpu.gdtLimit);
    expect(m2.peek32(DATA_BASE + 2)).toBe(GDT_BASE);
    // o16 lgdt [DATA_BASE] keeps a 24-bit base
    const m3 = ok([0x66, 0x0f, 0x01, 0x15, ...d32(DATA_BASE)], (m) => m.poke(DATA_BASE, [0xff, 0x00, 0x00, 0x05, 0x00, 0xff]));
    expect(m3.cpu.gdtBase).toBe(0x500);
  });
  it('SYSENTER and SYSEXIT use flat segments from IA32_SYSENTER_CS', () => {
    const m = new Machine();
    const c = m.cpu;
    writeMsr(c, Msr.IA32_SYSENTER_CS, BigInt(SEL.CODE0));
    writeMsr(c, Msr.IA32_SYSENTER_ESP, 0x7e000n);
    writeMsr(c, Msr.IA32_SYSENTER_EIP, BigInt(CODE_BASE + 0x100));
    m.poke(CODE_BASE, [0x0f, 0x34]); // sysenter
    m.poke(CODE_BASE + 0x100, [0x0f, 0x35]); // sysexit
    m.poke(CODE_BASE + 0x200, [0xf4]);
    m.enterUserMode();
    c.r[1] = 0x6000; c.r[2] = CODE_BASE + 0x200;
    c.step();
    expect([c.cpl, c.segSel[SegReg.CS], c.segSel[SegReg.SS], c.r[4], c.eip]).toEqual([0, 0x08, 0x10, 0x7e000, CODE_BASE + 0x100]);
    c.step();
    expect([c.cpl, c.segSel[SegReg.CS], c.segSel[SegReg.SS], c.r[4], c.eip]).toEqual([3, 0x1b, 0x23, 0x6000, CODE_BASE + 0x200]);
  });
});

describe('exceptions and error codes', () => {
  it('#UD for LOCK misuse and undefined opcodes; #GP(0) beyond 15 bytes', () => {
    expect(fault([0xf0, 0x01, 0xc0]).vector).toBe(6); // lock add eax,eax
    expect(fault([0xf0, 0x90]).vector).toBe(6); // lock nop
    expect(fault([0x0f, 0xff]).vector).toBe(6);
    expect(fault([0x0f, 0x0b]).vector).toBe(6); // ud2
    expect(fault([...new Array(15).fill(0x66), 0x90])).toEqual({ vector: 13, errorCode: 0, eip: CODE_BASE });
  });
  it('#PF error codes and CR2 with paging', () => {
    const page = DATA_BASE;
    const cases: [string, number[], number, (m: Machine) => void][] = [
      ['read, not present', [0x8b, 0x05, ...d32(page)], 0, (m) => m.setPte(page, 0)],
      ['write, not present', [0x89, 0x05, ...d32(page)], 2, (m) => m.setPte(page, 0)],
      ['user read of a supervisor page', [0x8b, 0x05, ...d32(page)], 5, (m) => { m.setPte(page, 3); m.enterUserMode(); }],
      ['user write to a read-only page', [0x89, 0x05, ...d32(page)], 7, (m) => { m.setPte(page, 5); m.enterUserMode(); }],
    ];
    for (const [name, bytes, code, setup] of cases) {
      const { m, out } = runCode(bytes, (m) => { m.enablePaging(); setup(m); });
      expect(out.exception, name).toEqual({ vector: 14, errorCode: code, eip: CODE_BASE });
      expect(m.cpu.mmu.cr2 >>> 0, name).toBe(page);
    }
  });
  it('#SS(0) for a stack-segment access beyond the SS limit', () => {
    // mov eax,[ebp]  with SS limit 1 MiB and EBP beyond it
    const e = fault([0x8b, 0x45, 0x00], (m) => {
      m.cpu.segLimit[SegReg.SS] = 0xfffff; m.cpu.updateSegmentBounds(SegReg.SS); m.cpu.r[5] = 0x200000;
    });
    expect(e).toEqual({ vector: 12, errorCode: 0, eip: CODE_BASE });
  });
  it('REP STOSB restarts after a page fault where it stopped', () => {
    const m = new Machine();
    const c = m.cpu;
    m.enablePaging();
    m.setPte(0x30000, 0);
    m.poke(CODE_BASE, [0xf3, 0xaa, 0xf4]); // rep stosb ; hlt
    c.r[0] = 0x5a; c.r[7] = 0x30000 - 4; c.r[1] = 8;
    const out = m.run();
    expect(out.exception).toEqual({ vector: 14, errorCode: 2, eip: CODE_BASE });
    expect([c.r[1], c.r[7]]).toEqual([4, 0x30000]);
    // Map the page and return to the instruction, as a page-fault handler would.
    m.setPte(0x30000, 7);
    c.r[4] = (c.r[4]! + 16) | 0; c.eip = CODE_BASE; c.halted = false;
    expect(m.run().exception).toBeNull();
    expect([c.r[1], c.r[7]]).toEqual([0, 0x30004]);
    expect(c.mem.read32(0x30000)).toBe(0x5a5a5a5a);
    expect(c.mem.read32(0x2fffc)).toBe(0x5a5a5a5a);
  });
  for (const engine of ['interpret', 'blocks'] as const) {
    it(`self-modifying code: a store into the next instruction takes effect (${engine})`, () => {
      // mov byte [CODE_BASE+8],0x42 ; mov al,0 ; hlt
      const { m } = runCode([0xc6, 0x05, ...d32(CODE_BASE + 8), 0x42, 0xb0, 0x00], undefined, engine);
      expect(m.cpu.r8[0]).toBe(0x42);
    });
    it(`self-modifying code: a loop that patches its own immediate sees every value (${engine})`, async () => {
      const code = await asm(`
        xor ebx, ebx
        mov ecx, 100
again:  mov [patch + 1], cl         ; the immediate of the MOV below
patch:  mov al, 0
        movzx eax, al
        add ebx, eax
        loop again
        hlt`);
      const { m } = runCode(code.slice(0, -1), undefined, engine);
      expect(m.cpu.r[3]).toBe(5050);
      // Every iteration wrote a decoded byte: the page's blocks were thrown away each time.
      if (engine === 'blocks') expect(m.cpu.codePageRewrites.get(CODE_BASE >>> 12)).toBeGreaterThanOrEqual(99);
    });
    it(`self-modifying code: a loop that retargets its own closing LOOP leaves it at once (${engine})`, async () => {
      // The LOOP ends the block that stores into it: its bytes count as decoded code too.
      const code = await asm(`
        xor ebx, ebx
        mov ecx, 10
again:  inc ebx
back:   mov byte [lp + 1], (back - (lp + 2)) & 0xff   ; from now on LOOP goes to back, past the INC
lp:     loop again
        hlt`);
      const { m } = runCode(code.slice(0, -1), undefined, engine);
      expect(m.cpu.r[3]).toBe(1);
      expect(m.cpu.r[1]).toBe(0);
    });
  }
  it('interrupt delivery reads the IDT and GDT through the TLB once they are cached (paging on)', async () => {
    const code = await asm(`
        mov ecx, 100
again:  int 0x30
        loop again
        hlt
handler: iretd`);
    const handler = CODE_BASE + code.length - 1;
    for (const engine of ['interpret', 'blocks'] as const) {
      let walks = 0;
      const { m, out } = runCode(code, (m) => {
        m.enablePaging();
        m.cpu.idtLimit = 0x31 * 8 - 1;
        m.cpu.mem.write32(m.cpu.idtBase + 0x30 * 8, (SEL.CODE0 << 16) | (handler & 0xffff));
        m.cpu.mem.write32(m.cpu.idtBase + 0x30 * 8 + 4, (handler & 0xffff0000) | 0x8e00);
        const translate = m.cpu.mmu.translate.bind(m.cpu.mmu);
        m.cpu.mmu.translate = (...a) => { walks++; return translate(...a); };
      }, engine);
      expect(out.exception).toBeNull();
      expect(m.cpu.r[1]).toBe(0); // all 100 INTs came back
      // Each delivery reads the gate and the code segment's descriptor: once cached, no walks.
      expect(walks, engine).toBeLessThan(20);
    }
  });
  it('a store beside the code on its page leaves the compiled blocks alone', async () => {
    // A small guest keeps its data on its code's page; only a write to a decoded byte counts.
    const code = await asm(`
        mov ecx, 1000
again:  inc dword [counter]
        mov [bytes + ecx], cl
        loop again
        hlt
counter: dd 0
bytes:  times 1001 db 0`);
    const { m } = runCode(code, undefined, 'blocks');
    const counter = CODE_BASE + code.indexOf(0xf4) + 1;
    expect(m.cpu.mem.read32(counter)).toBe(1000);
    expect(m.cpu.codePageRewrites.get(CODE_BASE >>> 12)).toBeUndefined();
    expect(m.cpu.icount).toBe(2 + 3 * 1000);
  });
});

describe('real-address mode', () => {
  it('16-bit addressing, with 0x66 and 0x67 overrides', () => {
    const m = new Machine();
    const c = m.cpu;
    c.reset();
    for (const s of [SegReg.DS, SegReg.ES, SegReg.SS]) loadSegmentRealMode(c, s, DATA_BASE >>> 4);
    loadSegmentRealMode(c, SegReg.CS, CODE_BASE >>> 4);
    c.eip = 0; c.r[4] = 0xfff0;
    m.poke(DATA_BASE + 0x34, [0x11, 0x22, 0x33, 0x44]);
    m.poke(DATA_BASE + 0x1000, [0x99, 0x88]);
    m.poke(CODE_BASE, [
      0xbb, 0x10, 0x00, // mov bx,0x10
      0xbe, 0x20, 0x00, // mov si,0x20
      0x8b, 0x40, 0x04, // mov ax,[bx+si+4]
      0x66, 0x8b, 0x48, 0x04, // mov ecx,[bx+si+4]
      0x66, 0xbb, ...d32(0x800), // mov ebx,0x800
      0x66, 0xba, ...d32(0x400), // mov edx,0x400
      0x67, 0x8b, 0x3c, 0x53, // mov di,[ebx+edx*2]
      0xf4,
    ]);
    c.run(20);
    expect(c.r16[0]).toBe(0x2211);
    expect(c.r[1]).toBe(0x44332211);
    expect(c.r16[14]).toBe(0x8899);
  });
});

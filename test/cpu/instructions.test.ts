/**
 * Hand-checked semantics of the shift, bit, string and decimal families through the real CPU, in
 * both execution tiers. Bytes are hand-assembled; the NASM source is in the comment beside them.
 */
import { describe, expect, it } from 'vitest';
import { CF, OF, ZF, AF } from '../../emulator/cpu/flags.js';
import { SegReg } from '../../emulator/cpu/segments.js';
import { DATA_BASE, runCode, type Machine } from './harness.js';

const d32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

for (const engine of ['interpret', 'blocks'] as const) {
  const run = (bytes: number[], setup?: (m: Machine) => void) => {
    const r = runCode(bytes, setup, engine);
    expect(r.out.exception).toBeNull();
    return r.m.cpu;
  };

  describe(`shifts and rotates (${engine})`, () => {
    it('ROL by 1 sets CF from the result and OF = MSB ^ CF', () => {
      const c = run([0xb0, 0x81, 0xd0, 0xc0]); // mov al,0x81 ; rol al,1
      expect(c.r8[0]).toBe(0x03);
      expect(c.eflags & (CF | OF)).toBe(CF | OF);
    });
    it('a count of 0 changes no flags', () => {
      // stc ; mov cl,0 ; shl eax,cl
      const c = run([0xf9, 0xb1, 0x00, 0xd3, 0xe0], (m) => { m.cpu.r[0] = 0; });
      expect(c.eflags & (CF | ZF)).toBe(CF);
    });
    it('RCL on 8 bits rotates modulo 9', () => {
      // clc ; mov al,1 ; mov cl,9 ; rcl al,cl ; mov bl,al ; mov al,1 ; mov cl,10 ; rcl al,cl
      const c = run([0xf8, 0xb0, 0x01, 0xb1, 0x09, 0xd2, 0xd0, 0x88, 0xc3, 0xb0, 0x01, 0xb1, 0x0a, 0xd2, 0xd0]);
      expect(c.r8[12]).toBe(1);
      expect(c.r8[0]).toBe(2);
    });
    it('SHR by 1: CF = bit 0, OF = original MSB', () => {
      const c = run([0xb8, ...d32(0x80000001), 0xd1, 0xe8]); // mov eax,0x80000001 ; shr eax,1
      expect(c.r[0]).toBe(0x40000000);
      expect(c.eflags & (CF | OF)).toBe(CF | OF);
    });
    it('SAR keeps the sign; CF is the last bit out', () => {
      const c = run([0xb0, 0x80, 0xc0, 0xf8, 0x07]); // mov al,0x80 ; sar al,7
      expect(c.r8[0]).toBe(0xff);
      expect(c.eflags & CF).toBe(0);
    });
    it('SHLD 32 and the 16-bit model above 16', () => {
      // mov eax,0x12345678 ; mov edx,0x9abcdef0 ; shld eax,edx,8
      let c = run([0xb8, ...d32(0x12345678), 0xba, ...d32(0x9abcdef0), 0x0f, 0xa4, 0xd0, 0x08]);
      expect(c.r[0] >>> 0).toBe(0x3456789a);
      // mov ax,0x1234 ; mov dx,0x5678 ; shld ax,dx,20   (DEST:SRC:DEST model)
      c = run([0x66, 0xb8, 0x34, 0x12, 0x66, 0xba, 0x78, 0x56, 0x66, 0x0f, 0xa4, 0xd0, 0x14]);
      expect(c.r16[0]).toBe(0x6781);
      // mov eax,0x12345678 ; mov edx,0x9abcdef0 ; shrd eax,edx,4
      c = run([0xb8, ...d32(0x12345678), 0xba, ...d32(0x9abcdef0), 0x0f, 0xac, 0xd0, 0x04]);
      expect(c.r[0] >>> 0).toBe(0x01234567);
      expect(c.eflags & CF).toBe(CF);
    });
  });

  describe(`bit instructions (${engine})`, () => {
    it('BT with a negative register offset addresses memory before the operand', () => {
      // mov ecx,-1 ; bt [DATA_BASE],ecx
      const c = run([0xb9, ...d32(-1), 0x0f, 0xa3, 0x0d, ...d32(DATA_BASE)], (m) => m.poke(DATA_BASE - 4, d32(0x80000000)));
      expect(c.eflags & CF).toBe(CF);
    });
    it('BTS with offset 33 sets bit 1 of the next dword', () => {
      // mov ecx,33 ; bts [DATA_BASE],ecx
      const { m } = runCode([0xb9, ...d32(33), 0x0f, 0xab, 0x0d, ...d32(DATA_BASE), 0xf4], undefined, engine);
      expect(m.peek32(DATA_BASE + 4)).toBe(2);
      expect(m.cpu.eflags & CF).toBe(0);
    });
    it('BSF of 0 sets ZF and leaves the destination; BSR finds the top bit', () => {
      const c = run([0x0f, 0xbc, 0xd8], (m) => { m.cpu.r[0] = 0; m.cpu.r[3] = 0x55; }); // bsf ebx,eax
      expect(c.r[3]).toBe(0x55);
      expect(c.eflags & ZF).toBe(ZF);
      const c2 = run([0x0f, 0xbd, 0xd8], (m) => { m.cpu.r[0] = 0xf0; }); // bsr ebx,eax
      expect(c2.r[3]).toBe(7);
      expect(c2.eflags & ZF).toBe(0);
    });
  });

  describe(`string instructions (${engine})`, () => {
    const text = (m: Machine, at: number, s: string): void => m.poke(at, [...s].map((ch) => ch.charCodeAt(0)));
    it('REP MOVSB copies and updates ECX/ESI/EDI; ECX=0 does nothing', () => {
      const { m } = runCode([0xf3, 0xa4, 0xf4], (m) => {
        text(m, DATA_BASE, 'hello');
        m.cpu.r[6] = DATA_BASE; m.cpu.r[7] = DATA_BASE + 0x100; m.cpu.r[1] = 5;
      }, engine);
      expect(m.peek32(DATA_BASE + 0x100)).toBe(m.peek32(DATA_BASE));
      expect([m.cpu.r[1], m.cpu.r[6], m.cpu.r[7]]).toEqual([0, DATA_BASE + 5, DATA_BASE + 0x105]);
      const c = run([0xf3, 0xa4], (m) => { m.cpu.r[6] = 1; m.cpu.r[7] = 2; m.cpu.r[1] = 0; });
      expect([c.r[1], c.r[6], c.r[7]]).toEqual([0, 1, 2]);
    });
    it('STD makes STOSD go down', () => {
      // std ; rep stosd
      const { m } = runCode([0xfd, 0xf3, 0xab, 0xf4], (m) => {
        m.cpu.r[0] = 0x11223344; m.cpu.r[7] = DATA_BASE + 8; m.cpu.r[1] = 2;
      }, engine);
      expect(m.peek32(DATA_BASE + 8)).toBe(0x11223344);
      expect(m.peek32(DATA_BASE + 4)).toBe(0x11223344);
      expect(m.cpu.r[7]).toBe(DATA_BASE);
    });
    it('REPE CMPSB stops at the first difference; REPNE SCASB at the match', () => {
      const c = run([0xf3, 0xa6], (m) => {
        text(m, DATA_BASE, 'abcX'); text(m, DATA_BASE + 0x10, 'abcY');
        m.cpu.r[6] = DATA_BASE; m.cpu.r[7] = DATA_BASE + 0x10; m.cpu.r[1] = 10;
      });
      expect(c.r[1]).toBe(6);
      expect(c.eflags & ZF).toBe(0);
      const c2 = run([0xf2, 0xae], (m) => {
        text(m, DATA_BASE, 'hello\0'); m.cpu.r[0] = 0; m.cpu.r[7] = DATA_BASE; m.cpu.r[1] = 100;
      });
      expect([c2.r[1], c2.r[7]]).toEqual([94, DATA_BASE + 6]);
      expect(c2.eflags & ZF).toBe(ZF);
    });
    it('a segment override applies to the source only', () => {
      // fs rep movsb  (FS base 0x1000)
      const { m } = runCode([0x64, 0xf3, 0xa4, 0xf4], (m) => {
        m.cpu.segBase[SegReg.FS] = 0x1000; m.cpu.segBase[SegReg.ES] = 0;
        text(m, DATA_BASE + 0x1000, 'fs!');
        m.cpu.r[6] = DATA_BASE; m.cpu.r[7] = DATA_BASE + 0x200; m.cpu.r[1] = 3;
      }, engine);
      expect(m.cpu.mem.read16(DATA_BASE + 0x200)).toBe(0x7366);
    });
    it('16-bit address size uses CX/SI/DI and keeps the upper halves', () => {
      // a16 rep movsb
      const c = run([0x67, 0xf3, 0xa4], (m) => {
        m.cpu.r[6] = 0xabcd8000 | 0; m.cpu.r[7] = 0x12348100; m.cpu.r[1] = 0x55550003;
      });
      expect([c.r[1] >>> 0, c.r[6] >>> 0, c.r[7] >>> 0]).toEqual([0x55550000, 0xabcd8003, 0x12348103]);
    });
    it('REP INSB and REP OUTSB go through the port bus', () => {
      const written: number[] = [];
      const { m } = runCode([0xf3, 0x6c, 0xf3, 0x6e, 0xf4], (m) => {
        m.cpu.io = { portRead: () => 0x42, portWrite: (_p, _s, v) => { written.push(v); } };
        m.cpu.r[7] = DATA_BASE; m.cpu.r[6] = DATA_BASE; m.cpu.r[1] = 3; m.cpu.r[2] = 0x3f8;
      }, engine);
      expect(m.cpu.mem.read32(DATA_BASE) & 0xffffff).toBe(0x424242);
      expect(written).toEqual([]); // ECX was 0 for OUTSB
      expect(m.cpu.r[7]).toBe(DATA_BASE + 3);
    });
  });

  describe(`decimal adjust (${engine})`, () => {
    it('DAA, DAS, AAA, AAS, AAM, AAD follow the SDM examples', () => {
      let c = run([0xb0, 0x79, 0x04, 0x35, 0x27]); // mov al,0x79 ; add al,0x35 ; daa
      expect(c.r8[0]).toBe(0x14); expect(c.eflags & (CF | AF)).toBe(CF | AF);
      c = run([0xb0, 0x35, 0x2c, 0x47, 0x2f]); // mov al,0x35 ; sub al,0x47 ; das
      expect(c.r8[0]).toBe(0x88); expect(c.eflags & CF).toBe(CF);
      c = run([0x66, 0xb8, 0x08, 0x00, 0x04, 0x06, 0x37]); // mov ax,8 ; add al,6 ; aaa
      expect(c.r16[0]).toBe(0x0104); expect(c.eflags & CF).toBe(CF);
      c = run([0x66, 0xb8, 0x02, 0x01, 0x2c, 0x05, 0x3f]); // mov ax,0x102 ; sub al,5 ; aas
      expect(c.r16[0]).toBe(0x0007); expect(c.eflags & CF).toBe(CF);
      c = run([0xb0, 0x3f, 0xd4, 0x0a]); // mov al,63 ; aam
      expect(c.r16[0]).toBe(0x0603);
      c = run([0x66, 0xb8, 0x03, 0x06, 0xd5, 0x0a]); // mov ax,0x603 ; aad
      expect(c.r16[0]).toBe(63);
    });
    it('AAM 0 raises #DE at the instruction', () => {
      const { out } = runCode([0xd4, 0x00], undefined, engine); // aam 0
      expect(out.exception?.vector).toBe(0);
      expect(out.exception?.eip).toBe(0x10000);
    });
  });
}

describe('long REP strings', () => {
  it('a REP longer than one chunk completes and counts as one instruction', () => {
    const m = runCode([0xf3, 0xaa], (m) => { m.cpu.r[0] = 7; m.cpu.r[7] = DATA_BASE; m.cpu.r[1] = 0x18000; }).m;
    expect([m.cpu.r[1], m.cpu.r[7]]).toEqual([0, DATA_BASE + 0x18000]);
    expect(m.cpu.mem.read8(DATA_BASE + 0x17fff)).toBe(7);
    expect(m.cpu.icount).toBe(2); // rep stosb, hlt
  });
});

import { describe, expect, it } from 'vitest';
import { decodeBytes, NO_REG, type DecodedInsn } from '../../emulator/isa/decoder.js';
import { disassemble } from '../../assembler/disasm/format.js';

const hex = (s: string): Uint8Array => new Uint8Array(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));

function decoded(bytes: string, bits: 16 | 32 = 32): DecodedInsn {
  const r = decodeBytes(hex(bytes), 0, bits);
  if ('fault' in r) throw new Error(`decode failed: ${JSON.stringify(r)}`);
  return r;
}

describe('decoder', () => {
  it('tells mandatory prefixes from size prefixes (0F C7 /6, F3 90)', () => {
    expect(decoded('F30FC730').form.mnemonic).toBe('VMXON');
    expect(decoded('660FC730').form.mnemonic).toBe('VMCLEAR');
    expect(decoded('0FC730').form.mnemonic).toBe('VMPTRLD');
    expect(decoded('0FC738').form.mnemonic).toBe('VMPTRST');
    expect(decoded('660FC708').form.mnemonic).toBe('CMPXCHG8B');
    expect(decoded('F390').form.mnemonic).toBe('PAUSE');
    expect(decoded('90').form.mnemonic).toBe('NOP');
    expect(decoded('93').form.mnemonic).toBe('XCHG');
    expect(decoded('0F01C1').form.mnemonic).toBe('VMCALL');
    expect(decoded('0F01F9').form.mnemonic).toBe('RDTSCP');
  });

  it('decodes 32-bit ModRM/SIB forms and displacements', () => {
    const d = decoded('8B 44 9D F0'); // mov eax,[ebp+ebx*4-0x10]
    expect([d.base, d.index, d.scale, d.disp, d.segment, d.length]).toEqual([5, 3, 2, -16, 2, 4]);
    const abs = decoded('8B 05 78 56 34 12'); // mov eax,[0x12345678]
    expect([abs.base, abs.index, abs.disp]).toEqual([NO_REG, NO_REG, 0x12345678]);
    const sib = decoded('8D 04 1B'); // lea eax,[ebx+ebx]
    expect([sib.base, sib.index, sib.scale]).toEqual([3, 3, 0]);
  });

  it('decodes 16-bit addressing and operand-size overrides', () => {
    const d = decoded('67 8A 00'); // mov al,[bx+si]
    expect([d.adsize, d.base, d.index]).toEqual([16, 3, 6]);
    const r = decoded('8B 46 FE', 16); // mov ax,[bp-2]
    expect([r.opsize, r.base, r.disp, r.segment]).toEqual([16, 5, -2, 2]);
    const o = decoded('66 B8 34 12'); // mov ax,0x1234
    expect([o.opsize, o.imm, o.length]).toEqual([16, 0x1234, 4]);
  });

  it('reads immediates in operand order, sign-extending where the SDM says', () => {
    expect(decoded('83 C0 FF').imm).toBe(-1);
    expect(decoded('C8 08 00 02').imm).toBe(8);
    expect(decoded('C8 08 00 02').imm2).toBe(2);
    const far = decoded('EA 34 12 00 00 10 00'); // jmp 0x10:0x1234
    expect([far.imm, far.imm2]).toEqual([0x1234, 0x10]);
    expect(decoded('A1 34 12 00 00').disp).toBe(0x1234);
  });

  it('faults as the CPU must: #UD for unknown opcodes and LOCK misuse, #GP past 15 bytes', () => {
    expect(decodeBytes(hex('D6'), 0, 32)).toMatchObject({ fault: 'UD' });
    expect(decodeBytes(hex('F0 01 C0'), 0, 32)).toMatchObject({ fault: 'UD' }); // lock add eax,eax
    expect(decodeBytes(hex('F0 8B 00'), 0, 32)).toMatchObject({ fault: 'UD' }); // lock mov
    expect('fault' in decodeBytes(hex('F0 01 00'), 0, 32)).toBe(false); // lock add [eax],eax
    expect(decodeBytes(hex('66'.repeat(15) + '90'), 0, 32)).toMatchObject({ fault: 'GP' });
    expect('fault' in decodeBytes(hex('66'.repeat(14) + '90'), 0, 32)).toBe(false); // exactly 15
    expect(decodeBytes(hex('66'.repeat(13) + '0FB6C0'), 0, 32)).toMatchObject({ fault: 'GP' }); // 16
    expect(decodeBytes(hex('0F 01 C8'), 0, 32)).toMatchObject({ fault: 'UD' }); // MONITOR: not in the subset
  });
});

describe('disassembler', () => {
  // Expected texts are NASM-assemblable spellings of NASM 2.16's own output for these bytes.
  const cases: [string, string][] = [
    ['26AC', 'es lodsb'], ['64A5', 'fs movsd'], ['F3A4', 'rep movsb'], ['87D9', 'xchg ebx,ecx'],
    ['93', 'xchg eax,ebx'], ['A134120000', 'mov eax,[0x1234]'], ['83C001', 'add eax,byte +0x1'],
    ['0500100000', 'add eax,0x1000'], ['6A01', 'push byte +0x1'], ['06', 'push es'], ['CF', 'iretd'],
    ['0F1F00', 'nop dword [eax]'], ['0F20C0', 'mov eax,cr0'], ['8ED8', 'mov ds,ax'], ['668CD8', 'mov ax,ds'],
    ['8C1B', 'mov [ebx],ds'], ['8D041B', 'lea eax,[ebx+ebx]'], ['8D4500', 'lea eax,[ebp]'],
    ['8D0424', 'lea eax,[esp]'], ['678A00', 'mov al,[bx+si]'], ['D1E0', 'shl eax,1'], ['C20400', 'ret 0x4'],
    ['FF18', 'call far [eax]'], ['EA341200001000', 'jmp 0x10:0x1234'], ['C8080000', 'enter 0x8,0x0'],
    ['6BC305', 'imul eax,ebx,byte +0x5'], ['0FB603', 'movzx eax,byte [ebx]'], ['D40A', 'aam'],
    ['0500000000', 'add eax,strict dword 0x0'], ['8B4500', 'mov eax,[ebp]'], ['8B4000', 'mov eax,[byte eax+0x0]'],
    ['6690', 'o16 nop'], ['D6', 'db 0xd6'],
  ];
  for (const [bytes, text] of cases) {
    it(`${bytes} -> ${text}`, () => {
      const lines = disassemble(hex(bytes), 0, 32);
      expect(lines[0]!.text).toBe(text);
      expect(lines[0]!.bytes.length).toBe(hex(bytes).length);
    });
  }

  it('prints branch targets as absolute addresses, with symbols when known', () => {
    const lines = disassemble(hex('EBFE E9 00000000 74 02'), 0x1000, 32, (a) => (a === 0x1000 ? 'start' : undefined));
    expect(lines.map((l) => l.text)).toEqual(['jmp short start', 'jmp near 0x1007', 'jz short 0x100b']);
    expect(lines[0]!.label).toBe('start');
  });

  it('never throws on arbitrary bytes', () => {
    let seed = 1;
    const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed >>> 24; };
    for (let round = 0; round < 5000; round++) {
      const b = new Uint8Array(24).map(() => rnd());
      for (const bits of [16, 32] as const) {
        const lines = disassemble(b, 0, bits);
        expect(lines.reduce((n, l) => n + l.bytes.length, 0)).toBe(b.length);
      }
    }
  });
});

import { describe, expect, it } from 'vitest';
import { DECODE_MAP, FORMS, FORMS_BY_MNEMONIC, canonicalMnemonic } from '../../emulator/isa/index.js';
import { TABLE_ROWS } from '../../emulator/isa/table.js';

describe('instruction table', () => {
  it('parses every row into a frozen form with a sequential id', () => {
    expect(FORMS.length).toBe(TABLE_ROWS.length);
    FORMS.forEach((f, i) => {
      expect(f.id).toBe(i);
      expect(Object.isFrozen(f)).toBe(true);
      expect(f.opcode.length).toBeGreaterThan(0);
    });
  });

  it('covers every instruction the subset names', () => {
    const required = `MOV MOVZX MOVSX XCHG XADD CMPXCHG CMPXCHG8B BSWAP LEA PUSH POP PUSHAD POPAD PUSHFD POPFD
      LAHF SAHF CBW CWDE CWD CDQ CMOVZ SETZ LDS LES LFS LGS LSS XLATB IN OUT INSB OUTSD ENTER LEAVE
      ADD ADC SUB SBB CMP AND OR XOR TEST NOT NEG INC DEC MUL IMUL DIV IDIV DAA DAS AAA AAS AAM AAD
      SHL SHR SAR ROL ROR RCL RCR SHLD SHRD BT BTS BTR BTC BSF BSR JMP CALL JZ JCXZ JECXZ LOOP LOOPE
      LOOPNE RET RETF INT INT3 INTO IRETD BOUND HLT NOP UD2 PAUSE MOVSB CMPSW SCASD LODSB STOSD CLC
      STC CMC CLD STD CLI STI LGDT LIDT SGDT SIDT LLDT SLDT LTR STR LMSW SMSW CLTS INVLPG INVD WBINVD
      RDMSR WRMSR RDTSC RDTSCP CPUID ARPL LAR LSL VERR VERW SYSENTER SYSEXIT VMXON VMXOFF VMCLEAR
      VMPTRLD VMPTRST VMREAD VMWRITE VMLAUNCH VMRESUME VMCALL INVEPT INVVPID`.split(/\s+/).filter(Boolean);
    for (const m of required) expect(canonicalMnemonic(m, 32), m).toBeDefined();
  });

  it('resolves NASM aliases by operand size', () => {
    expect(canonicalMnemonic('je', 32)).toBe('JZ');
    expect(canonicalMnemonic('cmovnae', 32)).toBe('CMOVC');
    expect(canonicalMnemonic('pusha', 16)).toBe('PUSHAW');
    expect(canonicalMnemonic('pusha', 32)).toBe('PUSHAD');
    expect(canonicalMnemonic('iret', 32)).toBe('IRETD');
    expect(canonicalMnemonic('frobnicate', 32)).toBeUndefined();
  });

  it('gives the decoder one answer about ModRM per opcode byte', () => {
    for (const map of DECODE_MAP) {
      for (const candidates of map) {
        if (candidates.length < 2) continue;
        const hasModrm = candidates.map((f) => f.modrm.kind !== 'none');
        expect(new Set(hasModrm).size, candidates.map((f) => f.source).join(' / ')).toBe(1);
      }
    }
  });

  it('lists every decodable form in the decoder index and every assemblable form by mnemonic', () => {
    const indexed = new Set(DECODE_MAP.flat(2).map((f) => f.id));
    for (const f of FORMS) {
      if (!f.asmOnly) expect(indexed.has(f.id), f.source).toBe(true);
      if (!f.decodeOnly) expect(FORMS_BY_MNEMONIC.get(f.mnemonic)).toContain(f);
    }
  });

  it('records flags: ADC reads CF, logic leaves AF undefined, INC keeps CF', () => {
    const row = (src: string) => FORMS.find((f) => f.source.startsWith(src))!;
    expect(row('ADC Ev,Gv').flagsRead & 1).toBe(1);
    expect(row('XOR Ev,Gv').flagsUndefined & 0x10).toBe(0x10);
    expect(row('INC Ev').flagsWritten & 1).toBe(0);
    expect(row('CPUID').vmexit).toEqual({ reason: 'CPUID', when: 'always' });
    expect(row('HLT').vmexit).toEqual({ reason: 'HLT', when: 'HLT_EXITING' });
    expect(row('HLT').cpl0).toBe(true);
  });
});

/**
 * THE instruction table: every instruction form of trapvisor's IA-32 subset, one row each.
 *
 * Row syntax:   MNEMONIC operands | encoding | attributes
 *  - operands: SDM opcode-map kinds (see types.ts), destination first, comma separated.
 *  - encoding: optional mandatory prefix (66/F2/F3), opcode bytes in hex, then `+r` on the last
 *    opcode byte, `/r` or `/digit` for ModRM, or a hex byte after the opcode for a fixed ModRM
 *    (0F 01 C1). Immediates, displacements and offsets follow from the operand kinds.
 *  - attributes: `lock`, `rep`, `repe`, `o16`/`o32` (operand size required), `a16`/`a32`,
 *    `r:FLAGS` `w:FLAGS` `u:FLAGS` (read, written, undefined; SDM letters OSZAPCTID),
 *    `cpl0`, `iopl`, `pm` (#UD in real and V86 mode), `exit:REASON` or `exit:REASON/CONTROL`,
 *    `op:NAME` (semantic operation when it differs from the mnemonic), `asm` (assembler-only row),
 *    `dec` (decode-only row).
 *
 * Rows are listed in the order the assembler prefers among forms that fit the same operands
 * (NASM's own preference, checked byte for byte against NASM by the golden tests).
 *
 * Encodings: Intel SDM Vol. 2 and the opcode map of appendix A. Flags: each instruction's
 * "Flags Affected" section.
 */

/** Condition codes in encoding order (tttn), with the spelling ndisasm prints. */
export const CONDITION_CODES = [
  'O', 'NO', 'C', 'NC', 'Z', 'NZ', 'NA', 'A', 'S', 'NS', 'PE', 'PO', 'L', 'NL', 'NG', 'G',
] as const;

/** Flags each condition reads. */
const CC_FLAGS = ['O', 'O', 'C', 'C', 'Z', 'Z', 'CZ', 'CZ', 'S', 'S', 'P', 'P', 'SO', 'SO', 'ZSO', 'ZSO'];

/** Every spelling of each condition code that NASM accepts, by code. */
export const CONDITION_ALIASES: readonly (readonly string[])[] = [
  ['O'], ['NO'], ['C', 'B', 'NAE'], ['NC', 'NB', 'AE'], ['Z', 'E'], ['NZ', 'NE'], ['NA', 'BE'],
  ['A', 'NBE'], ['S'], ['NS'], ['PE', 'P'], ['PO', 'NP'], ['L', 'NGE'], ['NL', 'GE'], ['NG', 'LE'],
  ['G', 'NLE'],
];

const ALU_OPS = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'] as const;
const SHIFT_OPS = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'] as const;

const hex = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

function aluRows(): string[] {
  const rows: string[] = [];
  ALU_OPS.forEach((op, n) => {
    const base = n * 8;
    const flags = op === 'ADC' || op === 'SBB' ? 'r:C w:OSZAPC'
      : op === 'AND' || op === 'OR' || op === 'XOR' ? 'w:OSZAPC u:A' : 'w:OSZAPC';
    const lock = op === 'CMP' ? '' : 'lock ';
    rows.push(
      `${op} Eb,Gb | ${hex(base)} /r | ${lock}${flags}`,
      `${op} Ev,Gv | ${hex(base + 1)} /r | ${lock}${flags}`,
      `${op} Gb,Eb | ${hex(base + 2)} /r | ${flags}`,
      `${op} Gv,Ev | ${hex(base + 3)} /r | ${flags}`,
      `${op} Ev,Ibs | 83 /${n} | ${lock}${flags}`,
      `${op} AL,Ib | ${hex(base + 4)} | ${flags}`,
      `${op} eAX,Iz | ${hex(base + 5)} | ${flags}`,
      `${op} Eb,Ib | 80 /${n} | ${lock}${flags}`,
      `${op} Ev,Iz | 81 /${n} | ${lock}${flags}`,
      `${op} Eb,Ib | 82 /${n} | ${lock}${flags} dec`,
    );
  });
  return rows;
}

function shiftRows(): string[] {
  const rows: string[] = [];
  SHIFT_OPS.forEach((op, n) => {
    const flags = op === 'RCL' || op === 'RCR' ? 'r:C w:OC u:O'
      : op === 'ROL' || op === 'ROR' ? 'w:OC u:O' : 'w:OSZAPC u:OA';
    const attrs = op === 'SAL' ? `${flags} op:SHL dec` : flags;
    rows.push(
      `${op} Eb,1 | D0 /${n} | ${attrs}`,
      `${op} Ev,1 | D1 /${n} | ${attrs}`,
      `${op} Eb,CL | D2 /${n} | ${attrs}`,
      `${op} Ev,CL | D3 /${n} | ${attrs}`,
      `${op} Eb,Ib | C0 /${n} | ${attrs}`,
      `${op} Ev,Ib | C1 /${n} | ${attrs}`,
    );
  });
  return rows;
}

function conditionalRows(): string[] {
  const rows: string[] = [];
  CONDITION_CODES.forEach((cc, n) => {
    const r = `r:${CC_FLAGS[n]}`;
    rows.push(
      `J${cc} Jb | ${hex(0x70 + n)} | ${r} op:Jcc`,
      `J${cc} Jz | 0F ${hex(0x80 + n)} | ${r} op:Jcc`,
      `SET${cc} Eb | 0F ${hex(0x90 + n)} /0 | ${r} op:SETcc`,
      `CMOV${cc} Gv,Ev | 0F ${hex(0x40 + n)} /r | ${r} op:CMOVcc`,
    );
  });
  return rows;
}

const STRING_ROWS = ([
  ['MOVS', 'A4', 'rep r:D'],
  ['CMPS', 'A6', 'repe r:D w:OSZAPC'],
  ['STOS', 'AA', 'rep r:D'],
  ['LODS', 'AC', 'rep r:D'],
  ['SCAS', 'AE', 'repe r:D w:OSZAPC'],
  ['INS', '6C', 'rep r:D iopl exit:IO_INSTRUCTION/IO_EXITING'],
  ['OUTS', '6E', 'rep r:D iopl exit:IO_INSTRUCTION/IO_EXITING'],
] as const).flatMap(([op, byteOpcode, attrs]) => {
  const wordOpcode = hex(parseInt(byteOpcode, 16) + 1);
  return [
    `${op}B | ${byteOpcode} | ${attrs} op:${op}`,
    `${op}W | ${wordOpcode} | ${attrs} op:${op} o16`,
    `${op}D | ${wordOpcode} | ${attrs} op:${op} o32`,
  ];
});

/** The table. */
export const TABLE_ROWS: readonly string[] = [
  // ---- data movement ----
  // The moffs forms come first: NASM prefers A0-A3 to 8A/8B/88/89 for a bare [address].
  'MOV AL,Ob | A0 |',
  'MOV eAX,Ov | A1 |',
  'MOV Ob,AL | A2 |',
  'MOV Ov,eAX | A3 |',
  'MOV Eb,Gb | 88 /r |',
  'MOV Ev,Gv | 89 /r |',
  'MOV Gb,Eb | 8A /r |',
  'MOV Gv,Ev | 8B /r |',
  'MOV Rv,Sw | 8C /r |',
  'MOV Mw,Sw | 8C /r |',
  'MOV Sw,Ew | 8E /r |',
  'MOV Sw,Rd | 8E /r | asm',
  'MOV Zb,Ib | B0+r |',
  'MOV Zv,Iz | B8+r |',
  'MOV Eb,Ib | C6 /0 |',
  'MOV Ev,Iz | C7 /0 |',
  'MOV Rd,Cd | 0F 20 /r | cpl0 exit:CR_ACCESS/CR_ACCESS u:OSZAPC',
  'MOV Cd,Rd | 0F 22 /r | cpl0 exit:CR_ACCESS/CR_ACCESS u:OSZAPC',
  'MOV Rd,Dd | 0F 21 /r | cpl0 exit:DR_ACCESS/MOV_DR_EXITING u:OSZAPC',
  'MOV Dd,Rd | 0F 23 /r | cpl0 exit:DR_ACCESS/MOV_DR_EXITING u:OSZAPC',
  'MOVZX Gv,Eb | 0F B6 /r |',
  // NASM has no MOVZX/MOVSX r16,r/m16: the assembler's row is the 32-bit one (66 in 16-bit code).
  'MOVZX Gv,Ew | 0F B7 /r | dec',
  'MOVZX Gd,Ew | 0F B7 /r | o32 asm',
  'MOVSX Gv,Eb | 0F BE /r |',
  'MOVSX Gv,Ew | 0F BF /r | dec',
  'MOVSX Gd,Ew | 0F BF /r | o32 asm',
  'XCHG eAX,Zv | 90+r |',
  'XCHG Zv,eAX | 90+r | asm',
  'XCHG Gb,Eb | 86 /r | lock',
  'XCHG Gv,Ev | 87 /r | lock',
  'XCHG Eb,Gb | 86 /r | lock asm',
  'XCHG Ev,Gv | 87 /r | lock asm',
  'XADD Eb,Gb | 0F C0 /r | lock w:OSZAPC',
  'XADD Ev,Gv | 0F C1 /r | lock w:OSZAPC',
  'CMPXCHG Eb,Gb | 0F B0 /r | lock w:OSZAPC',
  'CMPXCHG Ev,Gv | 0F B1 /r | lock w:OSZAPC',
  'CMPXCHG8B Mq | 0F C7 /1 | lock w:Z',
  // BSWAP is a 32-bit operation: NASM emits 66 for it in 16-bit code (the decoder takes any size).
  'BSWAP Zd | 0F C8+r | dec',
  'BSWAP Zd | 0F C8+r | o32 asm',
  'LEA Gv,M | 8D /r |',
  'PUSH Zv | 50+r |',
  'PUSH Ev | FF /6 |',
  'PUSH Ibs | 6A |',
  'PUSH Iz | 68 |',
  'PUSH ES | 06 |',
  'PUSH CS | 0E |',
  'PUSH SS | 16 |',
  'PUSH DS | 1E |',
  'PUSH FS | 0F A0 |',
  'PUSH GS | 0F A8 |',
  'POP Zv | 58+r |',
  'POP Ev | 8F /0 |',
  'POP ES | 07 |',
  'POP SS | 17 |',
  'POP DS | 1F |',
  'POP FS | 0F A1 |',
  'POP GS | 0F A9 |',
  'PUSHAW | 60 | o16 op:PUSHA',
  'PUSHAD | 60 | o32 op:PUSHA',
  'POPAW | 61 | o16 op:POPA',
  'POPAD | 61 | o32 op:POPA',
  'PUSHFW | 9C | o16 op:PUSHF r:OSZAPCTID',
  'PUSHFD | 9C | o32 op:PUSHF r:OSZAPCTID',
  'POPFW | 9D | o16 op:POPF w:OSZAPCTID',
  'POPFD | 9D | o32 op:POPF w:OSZAPCTID',
  'LAHF | 9F | r:SZAPC',
  'SAHF | 9E | w:SZAPC',
  'CBW | 98 | o16 op:CBW',
  'CWDE | 98 | o32 op:CBW',
  'CWD | 99 | o16 op:CWD',
  'CDQ | 99 | o32 op:CWD',
  ...conditionalRows(),
  'LES Gv,Mp | C4 /r |',
  'LDS Gv,Mp | C5 /r |',
  'LSS Gv,Mp | 0F B2 /r |',
  'LFS Gv,Mp | 0F B4 /r |',
  'LGS Gv,Mp | 0F B5 /r |',
  'XLATB | D7 |',
  'IN AL,Ib | E4 | iopl exit:IO_INSTRUCTION/IO_EXITING',
  'IN eAX,Ib | E5 | iopl exit:IO_INSTRUCTION/IO_EXITING',
  'IN AL,DX | EC | iopl exit:IO_INSTRUCTION/IO_EXITING',
  'IN eAX,DX | ED | iopl exit:IO_INSTRUCTION/IO_EXITING',
  'OUT Ib,AL | E6 | iopl exit:IO_INSTRUCTION/IO_EXITING',
  'OUT Ib,eAX | E7 | iopl exit:IO_INSTRUCTION/IO_EXITING',
  'OUT DX,AL | EE | iopl exit:IO_INSTRUCTION/IO_EXITING',
  'OUT DX,eAX | EF | iopl exit:IO_INSTRUCTION/IO_EXITING',
  ...STRING_ROWS,
  'ENTER Iw,Ib | C8 |',
  'LEAVE | C9 |',

  // ---- arithmetic and logic ----
  ...aluRows(),
  'TEST Eb,Gb | 84 /r | w:OSZAPC u:A',
  'TEST Ev,Gv | 85 /r | w:OSZAPC u:A',
  'TEST Gb,Eb | 84 /r | w:OSZAPC u:A asm',
  'TEST Gv,Ev | 85 /r | w:OSZAPC u:A asm',
  'TEST AL,Ib | A8 | w:OSZAPC u:A',
  'TEST eAX,Iz | A9 | w:OSZAPC u:A',
  'TEST Eb,Ib | F6 /0 | w:OSZAPC u:A',
  'TEST Ev,Iz | F7 /0 | w:OSZAPC u:A',
  'TEST Eb,Ib | F6 /1 | w:OSZAPC u:A dec',
  'TEST Ev,Iz | F7 /1 | w:OSZAPC u:A dec',
  'NOT Eb | F6 /2 | lock',
  'NOT Ev | F7 /2 | lock',
  'NEG Eb | F6 /3 | lock w:OSZAPC',
  'NEG Ev | F7 /3 | lock w:OSZAPC',
  'MUL Eb | F6 /4 | w:OSZAPC u:SZAP',
  'MUL Ev | F7 /4 | w:OSZAPC u:SZAP',
  'IMUL Eb | F6 /5 | w:OSZAPC u:SZAP',
  'IMUL Ev | F7 /5 | w:OSZAPC u:SZAP',
  'DIV Eb | F6 /6 | u:OSZAPC',
  'DIV Ev | F7 /6 | u:OSZAPC',
  'IDIV Eb | F6 /7 | u:OSZAPC',
  'IDIV Ev | F7 /7 | u:OSZAPC',
  'IMUL Gv,Ev | 0F AF /r | w:OSZAPC u:SZAP',
  'IMUL Gv,Ev,Ibs | 6B /r | w:OSZAPC u:SZAP',
  'IMUL Gv,Ev,Iz | 69 /r | w:OSZAPC u:SZAP',
  'INC Zv | 40+r | w:OSZAP',
  'DEC Zv | 48+r | w:OSZAP',
  'INC Eb | FE /0 | lock w:OSZAP',
  'INC Ev | FF /0 | lock w:OSZAP',
  'DEC Eb | FE /1 | lock w:OSZAP',
  'DEC Ev | FF /1 | lock w:OSZAP',
  'DAA | 27 | r:AC w:OSZAPC u:O',
  'DAS | 2F | r:AC w:OSZAPC u:O',
  'AAA | 37 | r:A w:OSZAPC u:OSZP',
  'AAS | 3F | r:A w:OSZAPC u:OSZP',
  'AAM Ib | D4 | w:OSZAPC u:OAC',
  'AAD Ib | D5 | w:OSZAPC u:OAC',
  // Without an operand NASM assembles base 10 (D4 0A, D5 0A); the decoder sees AAM Ib.
  'AAM | D4 0A | w:OSZAPC u:OAC asm',
  'AAD | D5 0A | w:OSZAPC u:OAC asm',

  // ---- shifts and bits ----
  ...shiftRows(),
  'SHLD Ev,Gv,Ib | 0F A4 /r | w:OSZAPC u:OAC',
  'SHLD Ev,Gv,CL | 0F A5 /r | w:OSZAPC u:OAC',
  'SHRD Ev,Gv,Ib | 0F AC /r | w:OSZAPC u:OAC',
  'SHRD Ev,Gv,CL | 0F AD /r | w:OSZAPC u:OAC',
  'BT Ev,Gv | 0F A3 /r | w:OSZAPC u:OSZAP',
  'BTS Ev,Gv | 0F AB /r | lock w:OSZAPC u:OSZAP',
  'BTR Ev,Gv | 0F B3 /r | lock w:OSZAPC u:OSZAP',
  'BTC Ev,Gv | 0F BB /r | lock w:OSZAPC u:OSZAP',
  'BT Ev,Ib | 0F BA /4 | w:OSZAPC u:OSZAP',
  'BTS Ev,Ib | 0F BA /5 | lock w:OSZAPC u:OSZAP',
  'BTR Ev,Ib | 0F BA /6 | lock w:OSZAPC u:OSZAP',
  'BTC Ev,Ib | 0F BA /7 | lock w:OSZAPC u:OSZAP',
  'BSF Gv,Ev | 0F BC /r | w:OSZAPC u:OSAPC',
  'BSR Gv,Ev | 0F BD /r | w:OSZAPC u:OSAPC',

  // ---- control transfer ----
  'JMP Jb | EB |',
  'JMP Jz | E9 |',
  'JMP Ev | FF /4 |',
  'JMP Ap | EA | op:JMPF',
  'JMP Mp | FF /5 | op:JMPF',
  'CALL Jz | E8 |',
  'CALL Ev | FF /2 |',
  'CALL Ap | 9A | op:CALLF',
  'CALL Mp | FF /3 | op:CALLF',
  'JCXZ Jb | E3 | a16 op:JCXZ',
  'JECXZ Jb | E3 | a32 op:JCXZ',
  'LOOP Jb | E2 |',
  'LOOPE Jb | E1 | r:Z',
  'LOOPNE Jb | E0 | r:Z',
  'RET | C3 |',
  'RET Iw | C2 |',
  'RETF | CB |',
  'RETF Iw | CA |',
  'INT3 | CC | w:TI',
  'INT Ib | CD | w:TI',
  'INTO | CE | r:O w:TI',
  'IRETW | CF | o16 op:IRET w:OSZAPCTID',
  'IRETD | CF | o32 op:IRET w:OSZAPCTID',
  'BOUND Gv,Ma | 62 /r |',
  'HLT | F4 | cpl0 exit:HLT/HLT_EXITING',
  'PAUSE | F3 90 | exit:PAUSE/PAUSE_EXITING',
  'NOP | 90 |',
  'NOP Ev | 0F 1F /0 |',
  'UD2 | 0F 0B |',

  // ---- flags ----
  'CLC | F8 | w:C',
  'STC | F9 | w:C',
  'CMC | F5 | r:C w:C',
  'CLD | FC | w:D',
  'STD | FD | w:D',
  'CLI | FA | iopl w:I',
  'STI | FB | iopl w:I',

  // ---- system ----
  'SGDT Ms | 0F 01 /0 | exit:GDTR_IDTR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'SIDT Ms | 0F 01 /1 | exit:GDTR_IDTR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'LGDT Ms | 0F 01 /2 | cpl0 exit:GDTR_IDTR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'LIDT Ms | 0F 01 /3 | cpl0 exit:GDTR_IDTR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'SMSW Rv | 0F 01 /4 | exit:CR_ACCESS/CR_ACCESS',
  'SMSW Mw | 0F 01 /4 | exit:CR_ACCESS/CR_ACCESS',
  'LMSW Ew | 0F 01 /6 | cpl0 exit:CR_ACCESS/CR_ACCESS',
  'INVLPG M | 0F 01 /7 | cpl0 exit:INVLPG/INVLPG_EXITING',
  'VMCALL | 0F 01 C1 | exit:VMCALL/always',
  'VMLAUNCH | 0F 01 C2 | exit:VMLAUNCH/always w:OSZAPC',
  'VMRESUME | 0F 01 C3 | exit:VMRESUME/always w:OSZAPC',
  'VMXOFF | 0F 01 C4 | exit:VMXOFF/always w:OSZAPC',
  'RDTSCP | 0F 01 F9 | exit:RDTSCP/RDTSCP_EXITING',
  'SLDT Rv | 0F 00 /0 | pm exit:LDTR_TR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'SLDT Mw | 0F 00 /0 | pm exit:LDTR_TR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'STR Rv | 0F 00 /1 | pm exit:LDTR_TR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'STR Mw | 0F 00 /1 | pm exit:LDTR_TR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'LLDT Ew | 0F 00 /2 | pm cpl0 exit:LDTR_TR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'LTR Ew | 0F 00 /3 | pm cpl0 exit:LDTR_TR_ACCESS/DESCRIPTOR_TABLE_EXITING',
  'VERR Ew | 0F 00 /4 | pm w:Z',
  'VERW Ew | 0F 00 /5 | pm w:Z',
  'LAR Gv,Ew | 0F 02 /r | pm w:Z',
  'LSL Gv,Ew | 0F 03 /r | pm w:Z',
  'ARPL Ew,Gw | 63 /r | pm w:Z',
  'CLTS | 0F 06 | cpl0 exit:CR_ACCESS/CR_ACCESS',
  'INVD | 0F 08 | cpl0 exit:INVD/always',
  'WBINVD | 0F 09 | cpl0 exit:WBINVD/WBINVD_EXITING',
  'WRMSR | 0F 30 | cpl0 exit:WRMSR/MSR_EXITING',
  'RDTSC | 0F 31 | exit:RDTSC/RDTSC_EXITING',
  'RDMSR | 0F 32 | cpl0 exit:RDMSR/MSR_EXITING',
  'SYSENTER | 0F 34 | w:I',
  'SYSEXIT | 0F 35 | cpl0',
  'CPUID | 0F A2 | exit:CPUID/always',

  // ---- VMX (SDM Vol. 3C, chapter 31) ----
  'VMXON Mq | F3 0F C7 /6 | exit:VMXON/always w:OSZAPC',
  'VMCLEAR Mq | 66 0F C7 /6 | exit:VMCLEAR/always w:OSZAPC',
  'VMPTRLD Mq | 0F C7 /6 | exit:VMPTRLD/always w:OSZAPC',
  'VMPTRST Mq | 0F C7 /7 | exit:VMPTRST/always w:OSZAPC',
  'VMREAD Ed,Gd | 0F 78 /r | exit:VMREAD/always w:OSZAPC',
  'VMWRITE Gd,Ed | 0F 79 /r | exit:VMWRITE/always w:OSZAPC',
  'INVEPT Gd,Mdq | 66 0F 38 80 /r | exit:INVEPT/always w:OSZAPC',
  'INVVPID Gd,Mdq | 66 0F 38 81 /r | exit:INVVPID/always w:OSZAPC',
];

/**
 * Mnemonics NASM accepts that name a row of another spelling, by default operand size where the
 * choice depends on it (PUSHA is PUSHAW in 16-bit code and PUSHAD in 32-bit code).
 */
export const MNEMONIC_ALIASES: Readonly<Record<string, string | { 16: string; 32: string }>> = {
  ...Object.fromEntries(
    CONDITION_ALIASES.flatMap((names, cc) => names.filter((n) => n !== CONDITION_CODES[cc])
      .flatMap((n) => [
        [`J${n}`, `J${CONDITION_CODES[cc]}`],
        [`SET${n}`, `SET${CONDITION_CODES[cc]}`],
        [`CMOV${n}`, `CMOV${CONDITION_CODES[cc]}`],
      ])),
  ),
  SAL: 'SHL',
  LOOPZ: 'LOOPE',
  LOOPNZ: 'LOOPNE',
  RETN: 'RET',
  XLAT: 'XLATB',
  PUSHA: { 16: 'PUSHAW', 32: 'PUSHAD' },
  POPA: { 16: 'POPAW', 32: 'POPAD' },
  PUSHF: { 16: 'PUSHFW', 32: 'PUSHFD' },
  POPF: { 16: 'POPFW', 32: 'POPFD' },
  IRET: { 16: 'IRETW', 32: 'IRETD' },
};

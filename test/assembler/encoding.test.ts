/**
 * NASM's encoding choices, one per case, against bytes NASM 2.16.01 produced.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../assembler/index.js';

const hex = (source: string, bits: 16 | 32 = 32): string =>
  Buffer.from(assemble(`bits ${bits}\n${source}\n`, { fileName: 't.asm' }).binary).toString('hex').toUpperCase();

describe('NASM encoding choices', () => {
  const cases: [string, string, (16 | 32)?][] = [
    ['add eax, 1', '83C001'],
    ['add eax, 0x1000', '0500100000'],
    ['add ebx, 0x1000', '81C300100000'],
    ['add eax, 0xFFFFFFFF', '83C0FF'],
    ['add ax, 0xFFFF', '6683C0FF'],
    ['add eax, strict dword 5', '0505000000'],
    ['add al, 1', '0401'],
    ['add eax, ebx', '01D8'],
    ['inc eax', '40'],
    ['inc eax', '6640', 16],
    ['imul eax, 5', '6BC005'],
    ['imul eax, ebx, 300', '69C32C010000'],
    ['mov eax, [ebx*2]', '8B041B'],
    ['mov eax, [nosplit ebx*2]', '8B045D00000000'],
    ['mov eax, [esp]', '8B0424'],
    ['mov eax, [ebp]', '8B4500'],
    ['mov eax, [ebx+esp]', '8B041C'],
    ['xchg ebx, ecx', '87D9'],
    ['xchg eax, ebx', '93'],
    ['xchg ebx, eax', '93'],
    ['mov eax, [0x1234]', 'A134120000'],
    ['mov ds, eax', '8ED8'],
    ['mov ax, ds', '668CD8'],
    ['push es', '06'],
    ['push 5', '6A05'],
    ['push 0x80', '6880000000'],
    ['push word 5', '666A05'],
    ['shl eax, 1', 'D1E0'],
    ['shl eax, 2', 'C1E002'],
    ['sal eax, 1', 'D1E0'],
    ['test ebx, ecx', '85CB'],
    ['movzx ax, [ebx]', '660FB603'],
    ['movzx eax, word [bx]', '660FB707', 16],
    ['bswap eax', '660FC8', 16],
    ['o32 push 0x80', '66688000', 16],
    ['mov word [es:bx], 1', '266667C7070100'],
    ['lock add word [fs:ebx], ax', 'F064660103'],
    ['rep movsw', 'F366A5'],
    ['es lodsb', '26AC'],
    ['vmxon [fs:si]', '6467F30FC734'],
    ['mov eax, [word 5]', '67A10500'],
    ['mov eax, [byte ebx+4]', '8B4304'],
    ['jmp [ebx]', 'FF23'],
    ['jmp far [ebx]', 'FF2B'],
    ['jmp 0x10:0x20', 'EA20001000', 16],
    ['jmp dword 0x10:0x20', '66EA200000001000', 16],
    ['aam', 'D40A'],
    ['lgdt [eax]', '0F0110'],
    ['mov cr0, eax', '0F22C0', 16],
    ['jecxz $', '67E3FD', 16],
    ['jmp $', 'EBFE'],
    ['jz $', '74FE'],
  ];
  for (const [source, bytes, bits] of cases) {
    it(`${source}${bits === 16 ? ' (bits 16)' : ''} -> ${bytes}`, () => {
      expect(hex(source, bits ?? 32)).toBe(bytes);
    });
  }

  it('sizes a forward jump short when it reaches and near when it does not', () => {
    expect(hex('jmp a\ntimes 127 nop\na:').slice(0, 4)).toBe('EB7F');
    expect(hex('jmp a\ntimes 128 nop\na:').slice(0, 10)).toBe('E980000000');
    expect(hex('jz a\ntimes 128 nop\na:').slice(0, 12)).toBe('0F8480000000');
  });

  it('takes a forward equ constant as a plain number (short forms once known)', () => {
    expect(hex('push later\nmov eax, [ebx+later]\nlater equ 5')).toBe('6A058B4305');
  });

  it('treats a label as relocatable: full-size immediate and displacement', () => {
    expect(hex('push lbl\nmov eax, [ebx+lbl]\nlbl:')).toBe('680B0000008B830B000000');
  });
});

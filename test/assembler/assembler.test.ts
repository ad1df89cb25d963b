/**
 * The assembler's API: outputs (binary, listing, symbol file), diagnostics, and the
 * preprocessor's interfaces (-D defines, includes through readFile, search paths).
 */
import { describe, expect, it } from 'vitest';
import { assemble, AssemblyError, type Diagnostic } from '../../assembler/index.js';

function errorsOf(source: string, options: Partial<Parameters<typeof assemble>[1]> = {}): Diagnostic[] {
  try {
    assemble(source, { fileName: 'bad.asm', ...options });
  } catch (e) {
    expect(e).toBeInstanceOf(AssemblyError);
    return (e as AssemblyError).diagnostics.filter((d) => d.severity === 'error');
  }
  throw new Error('expected an AssemblyError');
}

describe('diagnostics', () => {
  it('reports every error with file, line and column, not only the first', () => {
    const errors = errorsOf('bits 32\nmov eax, [\nfrobnicate eax\nmov eax, nowhere\ninc [ebx]\nadd eax\n');
    expect(errors.map((d) => [d.line, d.message])).toEqual([
      [2, 'expression expected'],
      [3, "unknown instruction 'frobnicate'"],
      [4, "symbol 'nowhere' not defined"],
      [5, 'operation size not specified'],
      [6, 'invalid combination of opcode and operands'],
    ]);
    expect(errors.every((d) => d.file === 'bad.asm')).toBe(true);
    expect(errors[1]!.column).toBe(1);
    expect(errors[2]!.column).toBe(10);
  });

  it('names the included file and its line for an error inside it', () => {
    const files: Record<string, string> = { 'lib/x.inc': 'nop\nmov eax,\n' };
    const errors = errorsOf('%include "x.inc"\n', { includePaths: ['lib'], readFile: (p) => files[p] });
    expect(errors).toEqual([expect.objectContaining({ file: 'lib/x.inc', line: 2, message: 'operand expected' })]);
  });

  it('reports preprocessor errors: %error, unbalanced %if, missing include, label redefined', () => {
    expect(errorsOf('%error stop here\n')[0]!.message).toBe('stop here');
    expect(errorsOf('%if 1\nnop\n')[0]!.message).toMatch(/%if without matching/);
    expect(errorsOf('%include "nope.inc"\n', { readFile: () => undefined })[0]!.message).toMatch(/cannot find include file/);
    expect(errorsOf('a: nop\na: nop\n')[0]!.message).toBe("label 'a' redefined");
    expect(errorsOf('jmp short far_away\ntimes 200 nop\nfar_away:\n')[0]!.message).toBe('short jump is out of range');
  });
});

describe('warnings', () => {
  it('warns of an immediate out of range where NASM 2.16 does: below -2^bits or above 2^bits - 1', () => {
    const warned = (line: string) => assemble(`bits 32\n${line}\n`, { fileName: 'w.asm' }).warnings.map((d) => d.message);
    expect(warned('mov al, -200')).toEqual([]);
    expect(warned('mov al, -257')).toEqual(['byte data exceeds bounds']);
    expect(warned('mov al, 256')).toEqual(['byte data exceeds bounds']);
    expect(warned('and eax, ~0x80000000')).toEqual([]);
    expect(warned('mov eax, -0x100000001')).toEqual(['dword data exceeds bounds']);
  });
});

describe('outputs', () => {
  const source = [
    'bits 32', 'org 0x100000', 'start:', '        mov eax, 1', '.loop:  dec eax', '        jnz .loop',
    'COUNT equ 3', 'section .data', 'msg: db "hi", 0', 'section .bss', 'buf: resb 16',
  ].join('\n');
  const result = assemble(source, { fileName: 'guest.asm' });

  it('lays out sections as NASM bin does', () => {
    // .text (8 bytes) at the origin, .data at the next multiple of 4, .bss not in the file.
    expect(Buffer.from(result.binary).toString('hex')).toBe('b801000000' + '48' + '75fd' + '686900');
    expect(result.symbols.sections.map((s) => [s.name, s.address.toString(16), s.size, s.nobits])).toEqual([
      ['.text', '100000', 8, false], ['.data', '100008', 3, false], ['.bss', '10000c', 16, true],
    ]);
  });

  it('writes every symbol with its address, kind, section, file and line', () => {
    const byName = new Map(result.symbols.symbols.map((s) => [s.name, s]));
    expect(byName.get('start')).toEqual({ name: 'start', address: 0x100000, kind: 'label', section: '.text', file: 'guest.asm', line: 3 });
    expect(byName.get('start.loop')?.address).toBe(0x100005);
    expect(byName.get('COUNT')).toMatchObject({ address: 3, kind: 'equ', section: null });
    expect(byName.get('buf')?.address).toBe(0x10000c);
  });

  it('maps each instruction address to its source line', () => {
    expect(result.symbols.lines).toEqual([
      { address: 0x100000, size: 5, file: 'guest.asm', line: 4 },
      { address: 0x100005, size: 1, file: 'guest.asm', line: 5 },
      { address: 0x100006, size: 2, file: 'guest.asm', line: 6 },
    ]);
  });

  it('lists line number, offset, bytes and source like NASM', () => {
    const lines = result.listing.split('\n');
    expect(lines[0]).toBe('     1                                  bits 32');
    expect(lines[3]).toBe('     4 00000000 B801000000                      mov eax, 1');
    expect(lines[5]).toBe('     6 00000006 75FD                            jnz .loop');
    expect(lines[8]).toBe('     9 00000000 686900                  msg: db "hi", 0');
    expect(lines[10]).toBe('    11 00000000 ??????????????????      buf: resb 16');
  });
});

describe('preprocessor interfaces', () => {
  it('takes -D defines, overriding an %ifndef default', () => {
    const src = '%ifndef N\n%define N 1\n%endif\ndb N\n';
    expect(Array.from(assemble(src, { fileName: 'd.asm' }).binary)).toEqual([1]);
    expect(Array.from(assemble(src, { fileName: 'd.asm', defines: { N: '7' } }).binary)).toEqual([7]);
  });

  it('expands a %define after the NOT operator (~NAME), but not inside a name like a~NAME', () => {
    const src = '%define M 0x0f\ndb ~M, -M, ~~M\na~M equ 3\ndb a~M\n';
    expect(Array.from(assemble(src, { fileName: 'n.asm' }).binary)).toEqual([0xf0, 0xf1, 0x0f, 3]);
  });

  it('searches the including file\'s directory first, then the include paths', () => {
    const files: Record<string, string> = {
      'src/a.inc': 'db 1\n%include "b.inc"\n', 'src/b.inc': 'db 2\n', 'lib/b.inc': 'db 9\n', 'lib/c.inc': 'db 3\n',
    };
    const r = assemble('%include "a.inc"\n%include "c.inc"\n', { fileName: 'src/main.asm', includePaths: ['lib'], readFile: (p) => files[p] });
    expect(Array.from(r.binary)).toEqual([1, 2, 3]);
  });

  it('expands macros with local labels to distinct labels per invocation', () => {
    const src = 'bits 32\n%macro spin 0\n%%l: jmp %%l\n%endmacro\nspin\nspin\n';
    expect(Buffer.from(assemble(src, { fileName: 'm.asm' }).binary).toString('hex')).toBe('ebfeebfe');
  });
});

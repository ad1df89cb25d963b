/**
 * The symbol file (`trapvisor asm --symbols FILE`), read by the debugger and the disassembler.
 *
 * JSON shape (version 1):
 * {
 *   "version": 1,
 *   "origin": 1048576,                      // address of the image's first byte
 *   "sections": [ { "name": ".text", "address": 1048576, "size": 120, "nobits": false } ],
 *   "symbols": [                            // every label and equ, sorted by address then name
 *     { "name": "start", "address": 1048588, "kind": "label", "section": ".text",
 *       "file": "guests/fv/hello.asm", "line": 12 },
 *     { "name": "COM1", "address": 1016, "kind": "equ", "section": null, "file": "...", "line": 3 }
 *   ],
 *   "lines": [                              // one entry per emitted instruction, sorted by address
 *     { "address": 1048588, "size": 5, "file": "guests/fv/hello.asm", "line": 13 }
 *   ]
 * }
 * Addresses are unsigned 32-bit numbers. `file` is the path as the assembler opened it. A line of a
 * macro body maps to the macro's own source line. Local labels appear with their full names
 * (`start.loop`); macro-local labels (`..@12.x`) are left out.
 */

export interface SymbolEntry {
  readonly name: string;
  readonly address: number;
  readonly kind: 'label' | 'equ';
  readonly section: string | null;
  readonly file: string;
  readonly line: number;
}

export interface LineEntry {
  readonly address: number;
  readonly size: number;
  readonly file: string;
  readonly line: number;
}

export interface SectionEntry {
  readonly name: string;
  readonly address: number;
  readonly size: number;
  readonly nobits: boolean;
}

export interface SymbolFile {
  readonly version: 1;
  readonly origin: number;
  readonly sections: readonly SectionEntry[];
  readonly symbols: readonly SymbolEntry[];
  readonly lines: readonly LineEntry[];
}

export const toAddress = (n: bigint): number => Number(BigInt.asUintN(32, n));

/**
 * Reads a symbol file's text back, keeping only well-formed entries. Throws an Error saying what
 * is wrong when it is not JSON or has no "symbols" array.
 */
export function parseSymbolFile(text: string): SymbolFile {
  const parsed = JSON.parse(text) as Partial<SymbolFile> | null;
  if (parsed === null || typeof parsed !== 'object' || !Array.isArray(parsed.symbols)) throw new Error('not a trapvisor symbol file (no "symbols" array)');
  const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  return {
    version: 1,
    origin: isNumber(parsed.origin) ? parsed.origin : 0,
    sections: Array.isArray(parsed.sections) ? parsed.sections.filter((s) => typeof s?.name === 'string' && isNumber(s.address)) : [],
    symbols: parsed.symbols.filter((s) => typeof s?.name === 'string' && isNumber(s.address)),
    lines: Array.isArray(parsed.lines) ? parsed.lines.filter((l) => isNumber(l?.address) && isNumber(l.size) && typeof l.file === 'string' && isNumber(l.line)) : [],
  };
}

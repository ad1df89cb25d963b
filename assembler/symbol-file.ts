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

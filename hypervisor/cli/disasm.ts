/**
 * `trapvisor disasm FILE [--org ADDR] [--bits 16|32] [--symbols SYM]`: ndisasm-style listing of a
 * flat binary, with labels from an assembler symbol file.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { disassemble, type SymbolLookup } from '../../assembler/disasm/format.js';
import { parseSymbolFile, type SymbolFile } from '../../assembler/symbol-file.js';
import { ExitCode } from './exit-codes.js';
import { parseNumber, runAction, UserError } from './errors.js';

/** Reads a symbol file (assembler --symbols) into an address -> name lookup. */
export function loadSymbolLookup(path: string): SymbolLookup {
  const byAddress = new Map<number, string>();
  for (const s of readSymbolFile(path).symbols) {
    if (!byAddress.has(s.address >>> 0) || !s.name.includes('.')) byAddress.set(s.address >>> 0, s.name);
  }
  return (a) => byAddress.get(a >>> 0);
}

/** A symbol file written by `trapvisor asm --symbols` (exit 6 if it is unreadable or not one). */
export function readSymbolFile(path: string): SymbolFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read symbol file: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, ExitCode.BAD_INPUT);
  }
  try {
    return parseSymbolFile(text);
  } catch (e) {
    throw new UserError(`${path}: ${(e as Error).message}`, ExitCode.BAD_INPUT);
  }
}

export function formatListing(bytes: Uint8Array, org: number, bits: 16 | 32, symbols?: SymbolLookup): string {
  const out: string[] = [];
  for (const line of disassemble(bytes, org, bits, symbols)) {
    if (line.label) out.push(`${line.label}:`);
    const hex = Buffer.from(line.bytes).toString('hex').toUpperCase();
    out.push(`${line.address.toString(16).toUpperCase().padStart(8, '0')}  ${hex.padEnd(18)}${line.text}`);
  }
  return out.join('\n') + '\n';
}

export function registerDisasm(program: Command): void {
  program
    .command('disasm')
    .description('disassemble a flat binary (ndisasm-style Intel syntax)')
    .argument('<file>', 'binary to disassemble')
    .option('--org <addr>', 'address of the first byte', '0')
    .option('--bits <n>', 'default code size: 16 or 32', '32')
    .option('--symbols <file>', 'symbol file written by `trapvisor asm --symbols`')
    .action(runAction((file: string, opts: { org: string; bits: string; symbols?: string }) => {
      const bits = Number(opts.bits);
      if (bits !== 16 && bits !== 32) throw new UserError(`--bits must be 16 or 32, not '${opts.bits}'`, ExitCode.USAGE);
      const org = parseNumber(opts.org, '--org');
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(file));
      } catch (e) {
        throw new UserError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, ExitCode.BAD_INPUT);
      }
      const symbols = opts.symbols ? loadSymbolLookup(opts.symbols) : undefined;
      process.stdout.write(formatListing(bytes, org, bits, symbols));
    }));
}

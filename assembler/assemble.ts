/**
 * The assembler's entry point: source text in, flat binary, listing and symbol file out.
 *
 *   preprocess (macros, includes, conditionals) -> parse each line once -> passes until label
 *   values settle -> image, listing, symbols
 *
 * Every error in the source is reported (not only the first) through one AssemblyError; nothing
 * is returned on failure. A JavaScript exception for bad input is a bug: assemble() turns one into
 * an "internal error" diagnostic rather than let it escape.
 */
import { readFileSync } from 'node:fs';
import { AssemblyError, DiagnosticLog, LineError, type Diagnostic } from './diagnostics.js';
import { formatListing } from './listing.js';
import { LineParser } from './parser.js';
import { assemblePasses } from './passes.js';
import { preprocess } from './preprocessor/preprocessor.js';
import { flatImage, layoutOrder } from './sections.js';
import type { Statement } from './statement.js';
import { toAddress, type LineEntry, type SymbolEntry, type SymbolFile } from './symbol-file.js';

export interface AssembleOptions {
  /** Name of the source, used in diagnostics and as the base for %include. */
  readonly fileName: string;
  /**
   * Directories searched by %include and incbin (-I): after the including file's own directory,
   * before the current directory (where NASM looks first).
   */
  readonly includePaths?: readonly string[];
  /** Single-line macros defined before the source (-D NAME=VALUE). */
  readonly defines?: Readonly<Record<string, string>>;
  /** Reads an included text file; returns undefined when it does not exist. Default: the file system. */
  readonly readFile?: (path: string) => string | undefined;
  /** Reads an incbin file; returns undefined when it does not exist. Default: the file system. */
  readonly readBinary?: (path: string) => Uint8Array | undefined;
}

export interface AssembleResult {
  readonly binary: Uint8Array;
  readonly listing: string;
  readonly symbols: SymbolFile;
  /** Address of the binary's first byte (`org`). */
  readonly origin: number;
  readonly warnings: readonly Diagnostic[];
  /** How many passes the optimizer needed. */
  readonly passes: number;
  /** Ids of the instruction table rows the program used. */
  readonly formsUsed: ReadonlySet<number>;
}

function defaultReadFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function defaultReadBinary(path: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(path));
  } catch {
    return undefined;
  }
}

/** Assembles a source; throws AssemblyError listing every diagnostic when it has errors. */
export function assemble(source: string, options: AssembleOptions): AssembleResult {
  const log = new DiagnosticLog();
  try {
    return assembleOrThrow(source, options, log);
  } catch (e) {
    if (e instanceof AssemblyError) throw e;
    log.error({ file: options.fileName, line: 0, column: 0 }, `internal error in the assembler: ${(e as Error)?.message ?? String(e)}`);
    throw new AssemblyError(log.list);
  }
}

function assembleOrThrow(source: string, options: AssembleOptions, log: DiagnosticLog): AssembleResult {
  const includePaths = options.includePaths ?? [];
  const lines = preprocess(source, {
    fileName: options.fileName,
    includePaths,
    defines: options.defines ?? {},
    readFile: options.readFile ?? defaultReadFile,
    log,
  });

  let at = { file: options.fileName, line: 0 };
  const parser = new LineParser({
    includePaths,
    readBinary: options.readBinary ?? defaultReadBinary,
    warn: (message, column) => log.warning({ ...at, column }, message),
  });
  const statements: Statement[] = [];
  lines.forEach((l, index) => {
    if (l.code.trim() === '') return;
    at = { file: l.file, line: l.line };
    try {
      const st = parser.parse(l.code, index, l.file, l.line);
      if (st) statements.push(st);
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      log.error({ file: l.file, line: l.line, column: e.column }, e.message);
    }
  });

  const { result, passes } = assemblePasses(statements);
  for (const d of result.log.list) log.add(d.severity, d, d.message);
  const diagnostics = sortDiagnostics(log.list);
  if (log.errorCount > 0) throw new AssemblyError(diagnostics);

  for (const s of result.sections) s.start = s.name === '.text' ? result.origin : s.start;
  const binary = flatImage(result.sections, result.origin);
  return {
    binary,
    listing: formatListing(lines, result.emissions, result.sections),
    symbols: symbolFile(result),
    origin: toAddress(result.origin),
    warnings: diagnostics.filter((d) => d.severity === 'warning'),
    passes,
    formsUsed: result.formsUsed,
  };
}

function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  // Stable: keeps the order of files as met, sorts by line within each file.
  const fileOrder = new Map<string, number>();
  for (const d of list) if (!fileOrder.has(d.file)) fileOrder.set(d.file, fileOrder.size);
  return [...list].sort((a, b) => fileOrder.get(a.file)! - fileOrder.get(b.file)! || a.line - b.line || a.column - b.column);
}

function symbolFile(result: ReturnType<typeof assemblePasses>['result']): SymbolFile {
  const sectionName = (i: number | null): string | null => (i === null ? null : result.sections[i]?.name ?? null);
  const symbols: SymbolEntry[] = [...result.symbols.values()]
    .filter((s) => !s.name.startsWith('..@'))
    .map((s) => ({
      name: s.name, address: toAddress(s.value.n), kind: s.kind, section: sectionName(s.value.section), file: s.file, line: s.line,
    }))
    .sort((a, b) => a.address - b.address || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines: LineEntry[] = result.emissions
    .filter((e) => e.code && e.size > 0)
    .map((e) => ({
      address: toAddress(result.sections[e.section]!.start + BigInt(e.offset)), size: e.size, file: e.statement.file, line: e.statement.line,
    }))
    .sort((a, b) => a.address - b.address);
  return {
    version: 1,
    origin: toAddress(result.origin),
    sections: layoutOrder(result.sections).map((s) => ({ name: s.name, address: toAddress(s.start), size: s.size, nobits: s.nobits })),
    symbols,
    lines,
  };
}

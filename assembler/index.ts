/**
 * trapvisor's NASM-compatible assembler for 16- and 32-bit x86, built on the one instruction
 * table (emulator/isa). See assemble.ts for the pipeline.
 */
export { assemble, type AssembleOptions, type AssembleResult } from './assemble.js';
export { AssemblyError, formatDiagnostic, type Diagnostic, type SourcePosition } from './diagnostics.js';
export type { LineEntry, SectionEntry, SymbolEntry, SymbolFile } from './symbol-file.js';

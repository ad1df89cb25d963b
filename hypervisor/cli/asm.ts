/**
 * `trapvisor asm FILE -o OUT [-l LIST] [--symbols SYM] [-I DIR]... [-D NAME=VALUE]...`: assembles
 * a NASM-syntax source into a flat binary, with an optional listing and symbol file.
 *
 * Diagnostics go to stderr as `file:line:column: error: message` (red/yellow only on a TTY, never
 * with --no-color or NO_COLOR). On failure no output file is written (not even a partial one).
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Chalk } from 'chalk';
import type { Command } from 'commander';
import { assemble, AssemblyError, formatDiagnostic, type Diagnostic } from '../../assembler/index.js';
import { ExitCode } from './exit-codes.js';
import { runAction, UserError, exitOnCommanderError } from './errors.js';

export interface AsmOptions {
  readonly output: string;
  readonly listing?: string;
  readonly symbols?: string;
  readonly include: readonly string[];
  readonly define: readonly string[];
  readonly color?: boolean;
}

/** Where the command writes its messages; a test passes its own. */
export interface AsmIo {
  readonly stderr: (text: string) => void;
  readonly colour: boolean;
}

function parseDefines(list: readonly string[]): Record<string, string> {
  const defines: Record<string, string> = {};
  for (const d of list) {
    const m = /^([A-Za-z_.?@$][A-Za-z0-9_.?@$#~]*)(?:=(.*))?$/s.exec(d);
    if (!m) throw new UserError(`-D ${d}: expected NAME or NAME=VALUE`, ExitCode.USAGE);
    defines[m[1]!] = m[2] ?? '';
  }
  return defines;
}

function printDiagnostic(d: Diagnostic, io: AsmIo): void {
  const text = formatDiagnostic(d);
  if (!io.colour) {
    io.stderr(text + '\n');
    return;
  }
  const chalk = new Chalk({ level: 1 });
  const where = `${d.file}:${d.line}:${d.column}:`;
  const what = d.severity === 'error' ? chalk.red.bold('error:') : chalk.yellow.bold('warning:');
  io.stderr(`${chalk.bold(where)} ${what} ${d.message}\n`);
}

/** Writes every output or none: each goes to a temporary name first, renamed at the end. */
function writeAll(files: readonly { path: string; data: string | Uint8Array }[]): void {
  const written: string[] = [];
  try {
    for (const f of files) {
      const tmp = `${f.path}.tmp-${process.pid}`;
      writeFileSync(tmp, f.data);
      written.push(tmp);
    }
    files.forEach((f, i) => renameSync(written[i]!, f.path));
  } catch (e) {
    for (const t of written) rmSync(t, { force: true });
    throw new UserError(`cannot write output: ${(e as Error).message}`, ExitCode.BAD_INPUT);
  }
}

/** The command's body; returns the exit code. */
export function runAsm(file: string, opts: AsmOptions, io: AsmIo): number {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, ExitCode.BAD_INPUT);
  }
  const defines = parseDefines(opts.define);
  try {
    const result = assemble(source, { fileName: file, includePaths: opts.include, defines });
    for (const w of result.warnings) printDiagnostic(w, io);
    const files: { path: string; data: string | Uint8Array }[] = [{ path: opts.output, data: result.binary }];
    if (opts.listing) files.push({ path: opts.listing, data: result.listing });
    if (opts.symbols) files.push({ path: opts.symbols, data: JSON.stringify(result.symbols, null, 1) + '\n' });
    writeAll(files);
    return ExitCode.OK;
  } catch (e) {
    if (!(e instanceof AssemblyError)) throw e;
    for (const d of e.diagnostics) printDiagnostic(d, io);
    const errors = e.diagnostics.filter((d) => d.severity === 'error').length;
    io.stderr(`${errors} error${errors === 1 ? '' : 's'}; nothing written\n`);
    return ExitCode.ASSEMBLY_ERROR;
  }
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerAsm(program: Command): void {
  program
    .command('asm')
    .description('assemble a NASM-syntax source (bits 16/32) into a flat binary')
    .argument('<file>', 'source file')
    .requiredOption('-o, --output <file>', 'flat binary to write')
    .option('-l, --listing <file>', 'listing to write (line, address, bytes, source)')
    .option('--symbols <file>', 'symbol file to write (JSON: symbols and line table, for the debugger)')
    .option('-I, --include <dir>', 'directory searched by %include and incbin (repeatable)', collect, [])
    .option('-D, --define <name=value>', 'define a single-line macro before the source (repeatable)', collect, [])
    .option('--no-color', 'never colour diagnostics')
    // Usage errors exit with USAGE (2), not commander's default of 1.
    .exitOverride(exitOnCommanderError)
    .action(runAction((file: string, opts: AsmOptions) => {
      const colour = opts.color !== false && !process.env.NO_COLOR && process.stderr.isTTY === true;
      return runAsm(file, opts, { stderr: (t) => process.stderr.write(t), colour });
    }));
}

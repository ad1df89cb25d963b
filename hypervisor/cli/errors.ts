/**
 * User-facing errors of the CLI: each carries an exit code and a message printed without a stack
 * trace. Anything else escaping a command is a bug, reported as INTERNAL_ERROR (with the trace only
 * when TRAPVISOR_DEBUG=1).
 */
import { ExitCode } from './exit-codes.js';

export class UserError extends Error {
  constructor(message: string, readonly exitCode: ExitCode) {
    super(message);
    this.name = 'UserError';
  }
}

/** Runs a command action, turning errors into messages and exit codes. */
export function runAction<A extends unknown[]>(action: (...args: A) => Promise<number | void> | number | void) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await action(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (e) {
      if (e instanceof UserError) {
        process.stderr.write(`trapvisor: ${e.message}\n`);
        process.exitCode = e.exitCode;
        return;
      }
      const err = e as Error;
      process.stderr.write(`trapvisor: internal error: ${err?.message ?? String(e)}\n`);
      if (process.env.TRAPVISOR_DEBUG === '1' && err?.stack) process.stderr.write(err.stack + '\n');
      else process.stderr.write('(this is a bug in trapvisor; set TRAPVISOR_DEBUG=1 for details)\n');
      process.exitCode = ExitCode.INTERNAL_ERROR;
    }
  };
}

/** Parses a number as the CLI accepts them: decimal, 0x hex, or with a K/M/G suffix. */
export function parseNumber(text: string, what: string): number {
  const m = /^(0x[0-9a-f]+|\d+)([kmg])?$/i.exec(text.trim());
  if (!m) throw new UserError(`${what}: not a number: '${text}'`, ExitCode.USAGE);
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as 'k'] ?? 1;
  return Number(m[1]) * unit;
}

/** An --engine value: blocks or interpret (a usage error otherwise). */
/** --mem for a VM under the hypervisor: a multiple of 4 KiB between 2 MiB and 1 GiB. */
export function parseVmMemory(text: string): number {
  const memory = parseNumber(text, '--mem');
  if (memory % 4096 !== 0 || memory < 0x200000 || memory > 0x40000000) {
    throw new UserError(`--mem ${text}: must be a multiple of 4 KiB between 2M and 1G`, ExitCode.USAGE);
  }
  return memory;
}

/** --max-instructions: a number of guest instructions, or Infinity when not given. */
export function parseMaxInstructions(text: string | undefined): number {
  return text === undefined ? Infinity : parseNumber(text, '--max-instructions');
}

export function parseEngine(name: string): 'blocks' | 'interpret' {
  if (name !== 'blocks' && name !== 'interpret') throw new UserError(`--engine must be blocks or interpret, not '${name}'`, ExitCode.USAGE);
  return name;
}

/**
 * commander's exit hook for every command: --help and --version exit 0, any usage error exits
 * with ExitCode.USAGE (commander has printed the message).
 */
export function exitOnCommanderError(err: { code: string }): never {
  const done = err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version';
  process.exit(done ? ExitCode.OK : ExitCode.USAGE);
}

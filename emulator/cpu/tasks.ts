/**
 * Hardware task switching (SDM Vol. 3A chapter 7). Not yet implemented: reaching it is reported as
 * an internal limitation of the emulator (never as a guest fault), so no guest silently misbehaves.
 */
import type { Cpu } from './cpu.js';

export class EmulatorLimitation extends Error {
  constructor(what: string) {
    super(`not implemented in this emulator yet: ${what}`);
    this.name = 'EmulatorLimitation';
  }
}

export function taskSwitchThroughGate(_cpu: Cpu, selector: number, source: 'interrupt' | 'jmp' | 'call' | 'iret', _returnEip: number, _errorCode: number): never {
  throw new EmulatorLimitation(`hardware task switch (${source}) to TSS selector 0x${selector.toString(16)}`);
}

/**
 * The device side of the contracts the CPU already defines: the port bus is the CPU's IoBus and
 * the PIC pair its InterruptSource, checked by the type checker (tsc) and exercised here.
 */
import { describe, expect, it } from 'vitest';
import type { InterruptSource, IoBus } from '../../emulator/cpu/cpu.js';
import { PcBoard } from './pc-board.js';

describe('devices as the CPU sees them', () => {
  it('plug into the CPU interfaces', () => {
    const b = new PcBoard();
    const io: IoBus = b.bus;
    const intr: InterruptSource = b.pic;
    b.initPic(0xfe, 0xff);
    io.portWrite(0x43, 1, 0x34);
    io.portWrite(0x40, 1, 100);
    io.portWrite(0x40, 1, 0);
    b.runTo(b.nextDeadline());
    expect(intr.hasPendingInterrupt()).toBe(true);
    expect(intr.acknowledge()).toBe(0x20);
  });
});

/**
 * Conversions between virtual nanoseconds and the tick count of a device's own input clock (the
 * 8254's 1.193182 MHz), exact for integer nanoseconds over the whole safe-integer range: the naive
 * `ns * hz / 1e9` loses precision once the product passes 2^53 (after about two hours of virtual
 * time at 1.19 MHz), so whole seconds and the remainder are converted separately.
 */
import type { VirtualClock } from './device.js';

const NS_PER_SECOND = 1_000_000_000;

/** Number of input-clock edges in (0, ns]: edge k happens at ceil(k * 1e9 / hz) ns. */
export function ticksAt(ns: number, hz: number): number {
  const seconds = Math.floor(ns / NS_PER_SECOND);
  const rest = ns - seconds * NS_PER_SECOND;
  return seconds * hz + Math.floor((rest * hz) / NS_PER_SECOND);
}

/** The earliest integer virtual ns at which edge `tick` has happened: ticksAt(timeOfTick(k)) >= k. */
export function timeOfTick(tick: number, hz: number): number {
  if (!Number.isFinite(tick)) return tick;
  const seconds = Math.floor(tick / hz);
  const rest = tick - seconds * hz;
  return seconds * NS_PER_SECOND + Math.ceil((rest * NS_PER_SECOND) / hz);
}

/** A clock set by hand: tests, and machines that keep virtual time themselves. */
export class ManualClock implements VirtualClock {
  constructor(private ns = 0) {}
  now(): number {
    return this.ns;
  }
  set(ns: number): void {
    if (ns < this.ns) throw new RangeError(`virtual time cannot go backwards (${ns} < ${this.ns})`);
    this.ns = ns;
  }
  advance(ns: number): void {
    this.set(this.ns + ns);
  }
}

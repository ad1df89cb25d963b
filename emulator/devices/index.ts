/** The device models and their bus. One device per file; see device.ts for the interfaces. */
export * from './device.js';
export * from './state.js';
export * from './clock.js';
export * from './bus.js';
export * from './pic8259.js';
export * from './pit8254.js';
export type { CounterMode, CounterAccess, PitCounterState } from './pit8254-counter.js';
export * from './uart16550.js';
export * from './debug-exit.js';
export * from './debugcon.js';
export * from './post-code.js';
export * from './system-control-port.js';

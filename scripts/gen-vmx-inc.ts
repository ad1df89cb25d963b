/**
 * Writes guests/lib/vmx.inc from emulator/vmx (see emulator/vmx/asm-include.ts). Run from the
 * repository root: node scripts/run-ts.mjs scripts/gen-vmx-inc.ts
 */
import { writeFileSync } from 'node:fs';
import { vmxInclude } from '../emulator/vmx/asm-include.js';

writeFileSync('guests/lib/vmx.inc', vmxInclude());
console.log('wrote guests/lib/vmx.inc');

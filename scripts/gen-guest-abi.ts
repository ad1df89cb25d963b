/**
 * Writes guests/lib/hypercalls.inc from hypervisor/abi.ts. Run from the repository root:
 * node scripts/run-ts.mjs scripts/gen-guest-abi.ts
 */
import { writeFileSync } from 'node:fs';
import { guestAbiInclude } from '../hypervisor/abi.js';

writeFileSync('guests/lib/hypercalls.inc', guestAbiInclude());
console.log('wrote guests/lib/hypercalls.inc');

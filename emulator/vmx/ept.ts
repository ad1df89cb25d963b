/**
 * Extended page tables (Intel SDM Vol. 3C 29.3): the second level of two-level translation,
 * guest-physical to host-physical, walked in host-physical memory.
 *
 * Four levels (PML4, PDPT, PD, PT) of 512 eight-byte entries; bits 0-2 of an entry are read,
 * write and execute; a PD entry with bit 7 maps a 2 MiB page; bits 5:3 of a leaf are its memory
 * type; bits 8 and 9 are the accessed and dirty flags, maintained when the EPT pointer's bit 6
 * asks for them. This processor has 32-bit physical addresses: any address bit from 32 up in an
 * entry is reserved. A walk that meets a not-permitted access is an EPT violation; an entry that
 * is malformed (write without read, a reserved bit, a bad memory type, a 1 GiB page) is an EPT
 * misconfiguration. Both end the walk in a VM exit.
 */
import type { PhysicalMemory } from '../cpu/memory.js';

export type EptAccess = 'read' | 'write' | 'fetch';

/** Why a guest-physical access failed (vmx.ts turns it into the exit). */
export interface EptFault {
  kind: 'violation' | 'misconfig';
  gpa: number;
  access: EptAccess;
  /** R/W/X allowed by the walk so far (AND over the levels), for the violation's qualification. */
  permissions: number;
}

const R = 1, W = 2, X = 4;

/** Is this EPT pointer one VM entry accepts (SDM 26.2.1.1)? */
export function validEptPointer(eptp: bigint, adSupported = true): boolean {
  const memType = Number(eptp & 7n);
  if (memType !== 0 && memType !== 6) return false;
  if (Number((eptp >> 3n) & 7n) !== 3) return false; // page-walk length 4
  if ((eptp >> 6n) & 1n && !adSupported) return false;
  if ((eptp >> 7n) & 0x1fn) return false; // bits 11:7 reserved
  return eptp >> 32n === 0n; // beyond the physical-address width
}

export class EptWalker {
  /** R/W/X of the last successful walk (AND over the levels). */
  permissions = 0;
  /** Root table (host-physical), from the EPT pointer. */
  readonly root: number;
  readonly accessedDirty: boolean;

  constructor(private readonly mem: PhysicalMemory, eptp: bigint) {
    this.root = Number(eptp & 0xfffff000n);
    this.accessedDirty = ((eptp >> 6n) & 1n) === 1n;
  }

  /**
   * Host-physical address of `gpa`, or an EptFault. `structure` marks an access by the guest's
   * own page walk (treated as a write for EPT dirty flags when accessed/dirty flags are on).
   */
  translate(gpa: number, access: EptAccess, structure: boolean): number | EptFault {
    gpa >>>= 0;
    const mem = this.mem;
    let table = this.root;
    let perms = R | W | X;
    // PML4 index is always 0 for a 32-bit guest-physical address.
    const indices = [0, gpa >>> 30, (gpa >>> 21) & 0x1ff, (gpa >>> 12) & 0x1ff];
    for (let level = 0; level < 4; level++) {
      const at = table + indices[level]! * 8;
      if (!mem.isRam(at)) return { kind: 'misconfig', gpa, access, permissions: 0 };
      const lo = mem.read32(at), hi = mem.read32(at + 4);
      const rwx = lo & 7;
      if (rwx === 0) return { kind: 'violation', gpa, access, permissions: 0 };
      if ((rwx & (R | W)) === W) return { kind: 'misconfig', gpa, access, permissions: 0 };
      if (hi !== 0) return { kind: 'misconfig', gpa, access, permissions: 0 };
      const large = (lo & 0x80) !== 0;
      const leaf = level === 3 || (level === 2 && large);
      if (level < 2 && large) return { kind: 'misconfig', gpa, access, permissions: 0 }; // no 1 GiB pages
      if (leaf) {
        const memType = (lo >>> 3) & 7;
        if (memType === 2 || memType === 3 || memType === 7) return { kind: 'misconfig', gpa, access, permissions: 0 };
        if (level === 2 && (lo & 0x1ff000)) return { kind: 'misconfig', gpa, access, permissions: 0 };
      } else if (lo & 0xf8) return { kind: 'misconfig', gpa, access, permissions: 0 };
      perms &= rwx;
      const need = access === 'read' ? R : access === 'write' ? W : X;
      if (!(rwx & need)) return { kind: 'violation', gpa, access, permissions: perms };
      if (leaf) {
        if (this.accessedDirty) {
          const dirty = access === 'write' || structure;
          const updated = lo | 0x100 | (dirty ? 0x200 : 0);
          if (updated !== lo) mem.write32(at, updated);
        }
        this.permissions = perms;
        const frame = level === 3 ? lo & 0xfffff000 : lo & 0xffe00000;
        const offset = level === 3 ? gpa & 0xfff : gpa & 0x1fffff;
        return ((frame >>> 0) + offset) >>> 0;
      }
      if (this.accessedDirty && !(lo & 0x100)) mem.write32(at, lo | 0x100);
      table = lo & 0xfffff000;
    }
    return { kind: 'violation', gpa, access, permissions: 0 };
  }
}

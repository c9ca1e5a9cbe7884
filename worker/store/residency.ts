/**
 * Where a new row lives (DESIGN §3). Root runs and root batches follow the split switch; children, batch
 * items and batches created by a run inherit their parent's store whatever the switch says; waitpoints are
 * always cuid, written beside the run that owns them (standalone tokens: legacy).
 */
import { type Residency, residencyOf } from "./ids.ts";

export interface ResidencyPolicy {
  /** RUN_OPS_SPLIT_ENABLED with both database URLs set. */
  splitEnabled: boolean;
}

function inherited(parentId: string): Residency {
  const residency = residencyOf(parentId);
  if (!residency) throw new Error(`parent id "${parentId}" has no residency`);
  return residency;
}

/** A root run or batch follows the switch; anything with a parent run lives with it. */
export function residencyForRun(policy: ResidencyPolicy, parentRunId?: string): Residency {
  if (parentRunId) return inherited(parentRunId);
  return policy.splitEnabled ? "new" : "legacy";
}

/** A waitpoint is written with the run that owns it; a standalone token lives in legacy. */
export function residencyForWaitpoint(ownerRunId?: string): Residency {
  return ownerRunId ? inherited(ownerRunId) : "legacy";
}

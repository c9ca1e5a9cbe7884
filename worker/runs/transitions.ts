/**
 * Run statuses and what they mean (DESIGN §2). The transition table joins this module with the runs API;
 * every other module asks here rather than listing statuses itself.
 */
import type { RunStatus } from "../../schema/contracts.ts";

/** A run in one of these never changes again. */
export const FINAL_STATUSES: readonly RunStatus[] = ["COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"];

/** Final and unsuccessful: the run gives its idempotency key back, so the same key may trigger again. */
export const FAILED_STATUSES: readonly RunStatus[] = ["FAILED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"];

export const isFinal = (status: RunStatus) => FINAL_STATUSES.includes(status);
export const releasesIdempotencyKey = (status: RunStatus) => FAILED_STATUSES.includes(status);

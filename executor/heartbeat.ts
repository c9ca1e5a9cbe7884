/**
 * Beats every `intervalMs` without piling up: a tick that finds the previous beat still unanswered is skipped,
 * so a slow Worker (a loaded machine) gets one heartbeat in flight per job instead of a growing queue of them,
 * which would only slow it further. `beat` handles its own errors.
 */
export function startHeartbeat(intervalMs: number, beat: () => Promise<unknown>): { stop(): void } {
  let inFlight = false;
  const settled = () => {
    inFlight = false;
  };
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    beat().then(settled, settled);
  }, intervalMs);
  return { stop: () => clearInterval(timer) };
}

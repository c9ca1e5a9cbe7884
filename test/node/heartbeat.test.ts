import { afterEach, describe, expect, it, vi } from "vitest";
import { startHeartbeat } from "../../executor/heartbeat.ts";

describe("executor heartbeat", () => {
  afterEach(() => void vi.useRealTimers());

  it("sends one beat at a time to a Worker that answers slowly, and beats again once it answers", async () => {
    vi.useFakeTimers();
    const answers: (() => void)[] = [];
    const beating = startHeartbeat(100, () => new Promise<void>((resolve) => answers.push(resolve)));

    await vi.advanceTimersByTimeAsync(1_000); // ten ticks while the first beat hangs
    expect(answers).toHaveLength(1);

    answers[0]!();
    await vi.advanceTimersByTimeAsync(100);
    expect(answers).toHaveLength(2);

    beating.stop();
    answers[1]!();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(answers).toHaveLength(2);
  });

  it("keeps beating after a beat that failed", async () => {
    vi.useFakeTimers();
    let beats = 0;
    const beating = startHeartbeat(100, async () => {
      beats += 1;
      throw new Error("Worker unreachable");
    });
    await vi.advanceTimersByTimeAsync(300);
    beating.stop();
    expect(beats).toBe(3);
  });
});

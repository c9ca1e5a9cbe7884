/** Reliability scenarios for webhook dedup (issue #14 item 5), registered in run.ts. */

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

export interface DedupContext {
  /** A client of a fresh tenant, and the installation bound to it (every repository of its account). */
  call: Call;
  installation: { id: number; account: string };
  baseUrl: string;
  deliver(event: string, payload: unknown): Promise<{ status: number; body: any }>;
  pullRequest(repository: string, sha: string, installationId: number): unknown;
  randomSha(): string;
  /** Resolves once every run of the tenant is final (at least `expected` of them). */
  allFinal(expected: number): Promise<{ status: string }[]>;
}

/** One signed pull_request body sent under N fresh delivery ids at once: one suite run, the rest duplicates. */
export async function replayedUnderNewDeliveryIds(ctx: DedupContext, copies = 20) {
  const repository = `${ctx.installation.account}/dedup-${crypto.randomUUID().slice(0, 8)}`;
  const cases = [{ name: "home", steps: [{ action: "goto", url: "/" }] }];
  await ctx.call("POST", "/api/v1/suites", { name: "dedup", repository, baseUrl: ctx.baseUrl, cases });
  const payload = ctx.pullRequest(repository, ctx.randomSha(), ctx.installation.id);
  const answers = await Promise.all(Array.from({ length: copies }, () => ctx.deliver("pull_request", payload)));
  const accepted = answers.filter((answer) => answer.body?.accepted).length;
  const duplicates = answers.filter((answer) => answer.body?.duplicate).length;
  // Duplicates are answered before any work starts; the one accepted delivery's run ending means its work is done.
  const runs = await ctx.allFinal(1);
  return {
    tried: `one signed pull_request body sent under ${copies} new X-GitHub-Delivery ids at once`,
    held: accepted === 1 && duplicates === copies - 1 && runs.length === 1,
    detail: `${accepted} accepted, ${duplicates} duplicates; ${runs.length} suite run case(s) recorded`,
  };
}

// What the global setup hands to tests through `inject()`, for both projects.
import "vitest";

declare module "vitest" {
  interface ProvidedContext {
    legacyDatabaseUrl: string;
    runopsDatabaseUrl: string;
    wsProxyUrl: string;
    /** A second proxy that only test/worker/connections.test.ts sends requests through, so its counts are theirs. */
    countingProxyUrl: string;
    executorUrl: string;
    executorSecret: string;
    apiKey: string;
    siteUrl: string;
    githubUrl: string;
  }
}

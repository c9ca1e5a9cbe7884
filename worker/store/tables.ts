/**
 * The tables the Worker's stores write, as sql.ts needs them. schema/ (drizzle) stays the source of truth
 * for the database; test/worker/store/tables.test.ts holds these lists to its columns.
 */
import type { Table } from "./sql.ts";

function table(
  name: string,
  fields: string[],
  { json = [], int8 = [] }: { json?: string[]; int8?: string[] } = {},
): Table {
  return { name, fields: new Set(fields), json: new Set(json), int8 };
}

const owner = ["organizationId", "projectId", "environmentId"];
const idempotency = ["idempotencyKey", "idempotencyKeyExpiresAt"];

export const runs = table(
  "runs",
  [
    "id",
    ...owner,
    "task",
    "status",
    "payload",
    "output",
    "error",
    "attempt",
    "maxAttempts",
    "tags",
    "metadata",
    "batchId",
    "batchIndex",
    "parentRunId",
    ...idempotency,
    "delayUntil",
    "expiresAt",
    "createdAt",
    "updatedAt",
    "queuedAt",
    "admittedAt",
    "dispatchedAt",
    "startedAt",
    "completedAt",
    "lastHeartbeatAt",
    "settledAt",
  ],
  { json: ["payload", "output", "error", "metadata"] },
);

export const batches = table(
  "batches",
  [
    "id",
    ...owner,
    "status",
    "runCount",
    "parentRunId",
    ...idempotency,
    "suiteId",
    "repository",
    "headSha",
    "ref",
    "pullRequestNumber",
    "installationId",
    "checkRunId",
    "createdAt",
    "updatedAt",
    "completedAt",
  ],
  { int8: ["installationId", "checkRunId"] },
);

export const waitpoints = table(
  "waitpoints",
  [
    "id",
    ...owner,
    "type",
    "status",
    "ownerRunId",
    "completedByRunId",
    "completedByBatchId",
    "completeAfter",
    "timeoutAt",
    ...idempotency,
    "output",
    "outputIsError",
    "tags",
    "createdAt",
    "completedAt",
  ],
  { json: ["output"] },
);

export const runWaitpoints = table("run_waitpoints", ["runId", "waitpointId", "createdAt"]);

export const stepResults = table("step_results", [
  "runId",
  "attempt",
  "index",
  "action",
  "label",
  "status",
  "durationMs",
  "error",
  "screenshotKey",
  "startedAt",
  "completedAt",
]);

export const environments = table("environments", [
  "id",
  ...owner.slice(0, 2),
  "slug",
  "apiKeyHash",
  "apiKeyPrefix",
  "createdAt",
]);

export const suites = table(
  "suites",
  ["id", "environmentId", "name", "repository", "baseUrl", "triggers", "source", "secrets", "createdAt", "updatedAt"],
  { json: ["triggers", "source", "secrets"] },
);

export const specTestOutcomes = table("spec_test_outcomes", ["runId", "suiteId", "testName", "flaky", "createdAt"]);

export const cases = table("cases", ["id", "suiteId", "position", "name", "enabled", "definition", "createdAt"], {
  json: ["definition"],
});

export const webhookDeliveries = table("webhook_deliveries", [
  "id",
  "event",
  "action",
  "bodySha256",
  "receivedAt",
  "processedAt",
]);

export const githubInstallations = table(
  "github_installations",
  [
    "id",
    "organizationId",
    "accountLogin",
    "accountType",
    "repositorySelection",
    "createdAt",
    "suspendedAt",
    "deletedAt",
  ],
  { int8: ["id"] },
);

export const githubInstallationRepositories = table(
  "github_installation_repositories",
  ["installationId", "repository", "createdAt"],
  { int8: ["installationId"] },
);

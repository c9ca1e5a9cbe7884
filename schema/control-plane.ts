/**
 * Control-plane tables: they live only in the `legacy` database, beside its copy of the run tables.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { createdAt, id, instant } from "./columns.ts";

export * from "./run-ops.ts";

export const organizations = pgTable("organizations", {
  id: text().primaryKey(),
  slug: text().notNull().unique(),
  name: text().notNull(),
  /** Runs of the organisation that may be active at once, across both stores; the rest wait QUEUED. */
  concurrencyLimit: integer().notNull().default(10),
  /**
   * The organisation's counter row: its admissions ledger rows by state, changed in the same statement as the
   * ledger. Admission locks this row, which serialises grants under READ COMMITTED.
   */
  activeRuns: integer().notNull().default(0),
  queuedRuns: integer().notNull().default(0),
  /** The latest queue time given: the next QUEUED run of the organisation queues strictly after it. */
  lastQueuedAt: instant(),
  createdAt: createdAt(),
});

export const admissionState = pgEnum("admission_state", ["ACTIVE", "QUEUED"]);

/**
 * The admissions ledger (DESIGN §11): one row per run of either store that holds a concurrency slot (ACTIVE)
 * or waits for one (QUEUED). Written before the run, deleted once the run is final; the one authority on
 * admission, so no decision counts runs across the two databases.
 */
export const admissions = pgTable(
  "admissions",
  {
    runId: id().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    state: admissionState().notNull(),
    /** Queue order is (queuedAt, runId); kept after promotion for the record. */
    queuedAt: instant(),
    /** When it took its slot (granted or promoted), in grant order: the run's own admittedAt copies it. */
    admittedAt: instant(),
    /** The store the run lives in ("legacy" | "new"), so a promotion knows where to compare-and-set it. */
    residency: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index("admissions_queue").on(t.organizationId, t.state, t.queuedAt, t.runId),
    index("admissions_created").on(t.createdAt),
  ],
);

export const projects = pgTable(
  "projects",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    slug: text().notNull(),
    name: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("projects_organization_slug").on(t.organizationId, t.slug)],
);

export const environments = pgTable(
  "environments",
  {
    id: text().primaryKey(),
    organizationId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    projectId: text()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    slug: text().notNull(),
    /** SHA-256 (hex) of the secret key `fc_<slug>_<random>`; the key itself is never stored. */
    apiKeyHash: text().notNull().unique(),
    /** The key's first characters, so a person can tell keys apart. */
    apiKeyPrefix: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("environments_project_slug").on(t.projectId, t.slug)],
);

export const githubInstallations = pgTable("github_installations", {
  /** GitHub's installation id. */
  id: bigint({ mode: "number" }).primaryKey(),
  /** Set once, by the App's setup URL (a signed state and the installing user's OAuth code); never moved. */
  organizationId: text().references(() => organizations.id, { onDelete: "set null" }),
  accountLogin: text().notNull(),
  accountType: text().notNull(),
  /** "all": every repository of the account; "selected": those in github_installation_repositories. */
  repositorySelection: text().notNull().default("selected"),
  createdAt: createdAt(),
  suspendedAt: instant(),
  deletedAt: instant(),
});

/** The repositories a "selected" installation covers, kept current from installation_repositories events. */
export const githubInstallationRepositories = pgTable(
  "github_installation_repositories",
  {
    installationId: bigint({ mode: "number" })
      .notNull()
      .references(() => githubInstallations.id, { onDelete: "cascade" }),
    /** `owner/name`, lowercased: GitHub compares repository names without case. */
    repository: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.installationId, t.repository] })],
);

export const suites = pgTable(
  "suites",
  {
    id: text().primaryKey(),
    environmentId: text()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    name: text().notNull(),
    /** `owner/name` on GitHub. */
    repository: text().notNull(),
    baseUrl: text().notNull(),
    /** GitHub events that start this suite, e.g. ["pull_request", "push", "deployment_status"]. */
    triggers: jsonb().$type<string[]>().notNull().default(sql`'["pull_request"]'::jsonb`),
    /** `{ kind: "repository", path }`: the suite is the repository's own Playwright tests (issue #17); else null. */
    source: jsonb(),
    /**
     * `{ NAME: sealed value }`: the names in clear, each value AES-GCM sealed under a key derived from the
     * Worker's SIGNING_SECRET (worker/runs/secret-box.ts), so a dump of this table reveals no value.
     */
    secrets: jsonb().$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
    updatedAt: createdAt(),
  },
  (t) => [
    uniqueIndex("suites_environment_name").on(t.environmentId, t.name),
    index("suites_repository").on(t.repository),
  ],
);

export const cases = pgTable(
  "cases",
  {
    id: text().primaryKey(),
    suiteId: text()
      .notNull()
      .references(() => suites.id, { onDelete: "cascade" }),
    position: integer().notNull(),
    name: text().notNull(),
    enabled: boolean().notNull().default(true),
    /** `{ steps, timeoutMs, maxAttempts }`, validated by the step schema before it is written. */
    definition: jsonb().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("cases_suite_name").on(t.suiteId, t.name),
    index("cases_suite_position").on(t.suiteId, t.position),
  ],
);

/**
 * One row per finished repository test (a `spec-test` run) of a suite: the flake count a test keeps across
 * suite runs is read from its latest rows. Keyed by the run, so a repeated report counts once.
 */
export const specTestOutcomes = pgTable(
  "spec_test_outcomes",
  {
    runId: text().primaryKey(),
    suiteId: text()
      .notNull()
      .references(() => suites.id, { onDelete: "cascade" }),
    /** The test's identity within the suite: `file › describe › title [project]`. */
    testName: text().notNull(),
    flaky: boolean().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("spec_test_outcomes_test").on(t.suiteId, t.testName, t.createdAt)],
);

/**
 * GitHub deliveries seen, keyed by X-GitHub-Delivery and by the SHA-256 of the signed body, so neither a
 * redelivery nor the same signed body replayed under a new delivery id is processed twice.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: text().primaryKey(),
    event: text().notNull(),
    action: text(),
    /** Hex SHA-256 of the raw body, which is what the signature covers. */
    bodySha256: text(),
    receivedAt: createdAt(),
    processedAt: instant(),
  },
  (t) => [uniqueIndex("webhook_deliveries_body").on(t.bodySha256)],
);

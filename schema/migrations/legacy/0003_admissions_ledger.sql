CREATE TYPE "public"."admission_state" AS ENUM('ACTIVE', 'QUEUED');--> statement-breakpoint
CREATE TABLE "admissions" (
	"run_id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"organization_id" text NOT NULL,
	"state" "admission_state" NOT NULL,
	"queued_at" timestamp (3) with time zone,
	"admitted_at" timestamp (3) with time zone,
	"residency" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "organizations" ADD COLUMN "active_runs" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "organizations" ADD COLUMN "queued_runs" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "organizations" ADD COLUMN "last_queued_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "admissions" ADD CONSTRAINT "admissions_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "admissions_queue" ON "admissions" USING btree ("organization_id","state","queued_at","run_id");--> statement-breakpoint
CREATE INDEX "admissions_created" ON "admissions" USING btree ("created_at");--> statement-breakpoint
-- Expand/contract: the ledger starts with every QUEUED or active run this database holds, and each counter row with
-- their sums, in the same migration that creates them. QUEUED runs of the run-ops database are adopted by the sweep
-- (worker/runs/sweep.ts); its active runs from before the ledger drain uncounted (see DESIGN §11).
INSERT INTO "admissions" ("run_id", "organization_id", "state", "queued_at", "admitted_at", "residency", "created_at")
SELECT "id", "organization_id",
  CASE WHEN "status" = 'QUEUED' THEN 'QUEUED' ELSE 'ACTIVE' END::"admission_state",
  "queued_at", CASE WHEN "status" <> 'QUEUED' THEN "admitted_at" END, 'legacy', "created_at"
FROM "runs"
WHERE "status" IN ('QUEUED', 'PENDING', 'DEQUEUED', 'EXECUTING', 'WAITING')
  AND "organization_id" IN (SELECT "id" FROM "organizations");--> statement-breakpoint
UPDATE "organizations" o SET
  "active_runs" = (SELECT count(*) FROM "admissions" a WHERE a."organization_id" = o."id" AND a."state" = 'ACTIVE'),
  "queued_runs" = (SELECT count(*) FROM "admissions" a WHERE a."organization_id" = o."id" AND a."state" = 'QUEUED'),
  "last_queued_at" = (SELECT max("queued_at") FROM "admissions" a WHERE a."organization_id" = o."id");

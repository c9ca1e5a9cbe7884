ALTER TABLE "webhook_deliveries" ADD COLUMN "body_sha256" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "settled_at" timestamp (3) with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_body" ON "webhook_deliveries" USING btree ("body_sha256");--> statement-breakpoint
CREATE INDEX "runs_unsettled" ON "runs" USING btree ("completed_at") WHERE "runs"."completed_at" IS NOT NULL AND "runs"."settled_at" IS NULL;--> statement-breakpoint
-- Runs that ended before settling was recorded were settled by the code of their time.
UPDATE "runs" SET "settled_at" = "completed_at" WHERE "completed_at" IS NOT NULL;

CREATE TABLE "spec_test_outcomes" (
	"run_id" text PRIMARY KEY NOT NULL,
	"suite_id" text NOT NULL,
	"test_name" text NOT NULL,
	"flaky" boolean NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "suites" ADD COLUMN "secrets" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "spec_test_outcomes" ADD CONSTRAINT "spec_test_outcomes_suite_id_suites_id_fk" FOREIGN KEY ("suite_id") REFERENCES "public"."suites"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "spec_test_outcomes_test" ON "spec_test_outcomes" USING btree ("suite_id","test_name","created_at");
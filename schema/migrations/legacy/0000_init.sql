CREATE TYPE "public"."batch_status" AS ENUM('PENDING', 'COMPLETED', 'ABORTED');--> statement-breakpoint
CREATE TYPE "public"."run_status" AS ENUM('DELAYED', 'QUEUED', 'PENDING', 'DEQUEUED', 'EXECUTING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELED', 'CRASHED', 'SYSTEM_FAILURE', 'EXPIRED', 'TIMED_OUT');--> statement-breakpoint
CREATE TYPE "public"."step_status" AS ENUM('PASSED', 'FAILED', 'SKIPPED');--> statement-breakpoint
CREATE TYPE "public"."waitpoint_status" AS ENUM('WAITING', 'COMPLETED', 'TIMED_OUT');--> statement-breakpoint
CREATE TYPE "public"."waitpoint_type" AS ENUM('TOKEN', 'DATETIME', 'RUN');--> statement-breakpoint
CREATE TABLE "cases" (
	"id" text PRIMARY KEY NOT NULL,
	"suite_id" text NOT NULL,
	"position" integer NOT NULL,
	"name" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"definition" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "environments" (
	"id" text PRIMARY KEY NOT NULL,
	"organization_id" text NOT NULL,
	"project_id" text NOT NULL,
	"slug" text NOT NULL,
	"api_key_hash" text NOT NULL,
	"api_key_prefix" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "environments_apiKeyHash_unique" UNIQUE("api_key_hash")
);
--> statement-breakpoint
CREATE TABLE "github_installations" (
	"id" bigint PRIMARY KEY NOT NULL,
	"organization_id" text,
	"account_login" text NOT NULL,
	"account_type" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "organizations" (
	"id" text PRIMARY KEY NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"concurrency_limit" integer DEFAULT 10 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organizations_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"id" text PRIMARY KEY NOT NULL,
	"organization_id" text NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "suites" (
	"id" text PRIMARY KEY NOT NULL,
	"environment_id" text NOT NULL,
	"name" text NOT NULL,
	"repository" text NOT NULL,
	"base_url" text NOT NULL,
	"triggers" jsonb DEFAULT '["pull_request"]'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"event" text NOT NULL,
	"action" text,
	"received_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "batches" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"friendly_id" text GENERATED ALWAYS AS ('batch_' || id) STORED NOT NULL,
	"organization_id" text NOT NULL,
	"project_id" text NOT NULL,
	"environment_id" text NOT NULL,
	"status" "batch_status" DEFAULT 'PENDING' NOT NULL,
	"run_count" integer NOT NULL,
	"parent_run_id" text COLLATE "C",
	"idempotency_key" text,
	"idempotency_key_expires_at" timestamp (3) with time zone,
	"suite_id" text,
	"repository" text,
	"head_sha" text,
	"ref" text,
	"pull_request_number" integer,
	"installation_id" bigint,
	"check_run_id" bigint,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "run_waitpoints" (
	"run_id" text COLLATE "C" NOT NULL,
	"waitpoint_id" text COLLATE "C" NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_waitpoints_run_id_waitpoint_id_pk" PRIMARY KEY("run_id","waitpoint_id")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"friendly_id" text GENERATED ALWAYS AS ('run_' || id) STORED NOT NULL,
	"organization_id" text NOT NULL,
	"project_id" text NOT NULL,
	"environment_id" text NOT NULL,
	"task" text NOT NULL,
	"status" "run_status" NOT NULL,
	"payload" jsonb,
	"output" jsonb,
	"error" jsonb,
	"attempt" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 3 NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"metadata" jsonb,
	"batch_id" text COLLATE "C",
	"batch_index" integer,
	"parent_run_id" text COLLATE "C",
	"idempotency_key" text,
	"idempotency_key_expires_at" timestamp (3) with time zone,
	"delay_until" timestamp (3) with time zone,
	"expires_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"queued_at" timestamp (3) with time zone,
	"admitted_at" timestamp (3) with time zone,
	"dispatched_at" timestamp (3) with time zone,
	"started_at" timestamp (3) with time zone,
	"completed_at" timestamp (3) with time zone,
	"last_heartbeat_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "step_results" (
	"run_id" text COLLATE "C" NOT NULL,
	"attempt" integer NOT NULL,
	"index" integer NOT NULL,
	"action" text NOT NULL,
	"label" text,
	"status" "step_status" NOT NULL,
	"duration_ms" integer,
	"error" text,
	"screenshot_key" text,
	"started_at" timestamp (3) with time zone,
	"completed_at" timestamp (3) with time zone,
	CONSTRAINT "step_results_run_id_attempt_index_pk" PRIMARY KEY("run_id","attempt","index")
);
--> statement-breakpoint
CREATE TABLE "waitpoints" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"friendly_id" text GENERATED ALWAYS AS ('waitpoint_' || id) STORED NOT NULL,
	"organization_id" text NOT NULL,
	"project_id" text NOT NULL,
	"environment_id" text NOT NULL,
	"type" "waitpoint_type" NOT NULL,
	"status" "waitpoint_status" DEFAULT 'WAITING' NOT NULL,
	"owner_run_id" text COLLATE "C",
	"completed_by_run_id" text COLLATE "C",
	"completed_by_batch_id" text COLLATE "C",
	"complete_after" timestamp (3) with time zone,
	"timeout_at" timestamp (3) with time zone,
	"idempotency_key" text,
	"idempotency_key_expires_at" timestamp (3) with time zone,
	"output" jsonb,
	"output_is_error" boolean DEFAULT false NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp (3) with time zone
);
--> statement-breakpoint
ALTER TABLE "cases" ADD CONSTRAINT "cases_suite_id_suites_id_fk" FOREIGN KEY ("suite_id") REFERENCES "public"."suites"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "environments" ADD CONSTRAINT "environments_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "environments" ADD CONSTRAINT "environments_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "github_installations" ADD CONSTRAINT "github_installations_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "suites" ADD CONSTRAINT "suites_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "batches" ADD CONSTRAINT "batches_parent_run_id_runs_id_fk" FOREIGN KEY ("parent_run_id") REFERENCES "public"."runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_waitpoints" ADD CONSTRAINT "run_waitpoints_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_batch_id_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_parent_run_id_runs_id_fk" FOREIGN KEY ("parent_run_id") REFERENCES "public"."runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "step_results" ADD CONSTRAINT "step_results_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "waitpoints" ADD CONSTRAINT "waitpoints_owner_run_id_runs_id_fk" FOREIGN KEY ("owner_run_id") REFERENCES "public"."runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "cases_suite_name" ON "cases" USING btree ("suite_id","name");--> statement-breakpoint
CREATE INDEX "cases_suite_position" ON "cases" USING btree ("suite_id","position");--> statement-breakpoint
CREATE UNIQUE INDEX "environments_project_slug" ON "environments" USING btree ("project_id","slug");--> statement-breakpoint
CREATE UNIQUE INDEX "projects_organization_slug" ON "projects" USING btree ("organization_id","slug");--> statement-breakpoint
CREATE UNIQUE INDEX "suites_environment_name" ON "suites" USING btree ("environment_id","name");--> statement-breakpoint
CREATE INDEX "suites_repository" ON "suites" USING btree ("repository");--> statement-breakpoint
CREATE UNIQUE INDEX "batches_friendly_id" ON "batches" USING btree ("friendly_id");--> statement-breakpoint
CREATE UNIQUE INDEX "batches_idempotency" ON "batches" USING btree ("environment_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "batches_environment_list" ON "batches" USING btree ("environment_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "run_waitpoints_waitpoint" ON "run_waitpoints" USING btree ("waitpoint_id");--> statement-breakpoint
CREATE UNIQUE INDEX "runs_friendly_id" ON "runs" USING btree ("friendly_id");--> statement-breakpoint
CREATE UNIQUE INDEX "runs_idempotency" ON "runs" USING btree ("environment_id","task","idempotency_key");--> statement-breakpoint
CREATE INDEX "runs_environment_list" ON "runs" USING btree ("environment_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "runs_organization_status" ON "runs" USING btree ("organization_id","status","queued_at","id");--> statement-breakpoint
CREATE INDEX "runs_batch" ON "runs" USING btree ("batch_id","batch_index");--> statement-breakpoint
CREATE INDEX "runs_parent" ON "runs" USING btree ("parent_run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "waitpoints_friendly_id" ON "waitpoints" USING btree ("friendly_id");--> statement-breakpoint
CREATE UNIQUE INDEX "waitpoints_idempotency" ON "waitpoints" USING btree ("environment_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "waitpoints_completed_by_run" ON "waitpoints" USING btree ("completed_by_run_id");--> statement-breakpoint
CREATE INDEX "waitpoints_completed_by_batch" ON "waitpoints" USING btree ("completed_by_batch_id");
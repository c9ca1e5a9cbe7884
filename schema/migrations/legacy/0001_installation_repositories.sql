CREATE TABLE "github_installation_repositories" (
	"installation_id" bigint NOT NULL,
	"repository" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "github_installation_repositories_installation_id_repository_pk" PRIMARY KEY("installation_id","repository")
);
--> statement-breakpoint
ALTER TABLE "github_installations" ADD COLUMN "repository_selection" text DEFAULT 'selected' NOT NULL;--> statement-breakpoint
ALTER TABLE "github_installations" ADD COLUMN "suspended_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "github_installation_repositories" ADD CONSTRAINT "github_installation_repositories_installation_id_github_installations_id_fk" FOREIGN KEY ("installation_id") REFERENCES "public"."github_installations"("id") ON DELETE cascade ON UPDATE no action;
/** What the GitHub App remembers (control plane, `legacy` only): deliveries seen, and installations. */
import { eq } from "drizzle-orm";
import * as controlPlane from "../../schema/control-plane.ts";
import { LegacyTables } from "./legacy-tables.ts";

const { githubInstallations, webhookDeliveries } = controlPlane;

export class GitHubStore extends LegacyTables {
  /** True the first time a delivery id is seen; a redelivery (or a replay) is false. */
  recordDelivery(id: string, event: string, action: string | undefined): Promise<boolean> {
    return this.guard(async () => {
      const inserted = await this.db.insert(webhookDeliveries).values({ id, event, action }).onConflictDoNothing().returning({ id: webhookDeliveries.id });
      return inserted.length > 0;
    });
  }

  markProcessed(id: string): Promise<void> {
    return this.guard(async () => {
      await this.db.update(webhookDeliveries).set({ processedAt: new Date() }).where(eq(webhookDeliveries.id, id));
    });
  }

  forgetDelivery(id: string): Promise<void> {
    return this.guard(async () => {
      await this.db.delete(webhookDeliveries).where(eq(webhookDeliveries.id, id));
    });
  }

  saveInstallation(installation: { id: number; accountLogin: string; accountType: string }): Promise<void> {
    return this.guard(async () => {
      await this.db
        .insert(githubInstallations)
        .values(installation)
        .onConflictDoUpdate({ target: githubInstallations.id, set: { ...installation, deletedAt: null } });
    });
  }

  deleteInstallation(id: number): Promise<void> {
    return this.guard(async () => {
      await this.db.update(githubInstallations).set({ deletedAt: new Date() }).where(eq(githubInstallations.id, id));
    });
  }
}

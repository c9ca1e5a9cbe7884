/** What the GitHub App remembers (control plane, `legacy` only): deliveries seen, and installations. */
import { and, eq, isNull, lt, or } from "drizzle-orm";
import * as controlPlane from "../../schema/control-plane.ts";
import { LegacyTables } from "./legacy-tables.ts";

const { githubInstallations, webhookDeliveries } = controlPlane;

export class GitHubStore extends LegacyTables {
  /**
   * Claims a delivery for processing: true the first time its id or its body is seen. A redelivery or a
   * replay of the same signed body is false, unless the delivery that claimed it never finished (the Worker
   * died while processing it) and was claimed before `staleBefore`: then this call takes it over.
   * Returns the id of the row to mark processed (the replay's own id, or the one it took over).
   */
  claimDelivery(
    delivery: { id: string; event: string; action: string | undefined; bodySha256: string },
    staleBefore: Date,
  ): Promise<string | undefined> {
    return this.guard(async () => {
      const [inserted] = await this.db
        .insert(webhookDeliveries)
        .values(delivery)
        .onConflictDoNothing() // on either key: the delivery id or the body's hash
        .returning({ id: webhookDeliveries.id });
      if (inserted) return inserted.id;
      // Compare-and-set on received_at, so of several late replays only one takes the stale row over.
      const [takenOver] = await this.db
        .update(webhookDeliveries)
        .set({ receivedAt: new Date() })
        .where(
          and(
            or(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.bodySha256, delivery.bodySha256)),
            isNull(webhookDeliveries.processedAt),
            lt(webhookDeliveries.receivedAt, staleBefore),
          ),
        )
        .returning({ id: webhookDeliveries.id });
      return takenOver?.id;
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

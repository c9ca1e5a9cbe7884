/** Links to the run pages. They carry a page token, so whoever holds one needs no API key to follow it. */
import { mintPageToken } from "../runs/tokens.ts";

/** `<origin>/runs/<run_…|batch_…>?token=…`, valid for the page token's lifetime. */
export async function pageUrl(
  secret: string,
  origin: string,
  environmentId: string,
  friendlyId: string,
): Promise<string> {
  return `${origin}/runs/${friendlyId}?token=${await mintPageToken(secret, environmentId, friendlyId)}`;
}

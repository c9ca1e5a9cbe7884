/**
 * Artifacts of a run (screenshots), kept in R2 under the run and attempt that made them. The key is also
 * the artifact's API path below `/api/v1/` and its page path below `/`, so a stored key is all a client
 * needs to fetch it.
 */
import { MAX_ARTIFACTS_PER_ATTEMPT } from "../../schema/contracts.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";

export const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CONTENT_TYPES: Record<string, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  jpg: "image/jpeg",
  txt: "text/plain",
  json: "application/json",
};

export const artifactKey = (runId: string, attempt: number, name: string) =>
  `runs/${toFriendlyId("run", runId)}/artifacts/${attempt}/${name}`;

export const artifactUrl = (key: string) => `/api/v1/${key}`;

/** The same artifact for a browser holding a page token (of the run, or of its suite run) instead of an API key. */
export const pageArtifactUrl = (key: string, pageToken: string) => `/${key}?token=${pageToken}`;

/** A key this attempt's uploads could have produced, so a report cannot point at another run's or attempt's files. */
export const belongsTo = (key: string, run: Pick<Run, "id">, attempt: number) =>
  key.startsWith(artifactKey(run.id, attempt, ""));

/** Whether an attempt may store `key`: a replacement, or a new artifact while it holds fewer than the cap. */
export async function hasRoomFor(bucket: R2Bucket, key: string): Promise<boolean> {
  const prefix = key.slice(0, key.lastIndexOf("/") + 1);
  const { objects } = await bucket.list({ prefix, limit: MAX_ARTIFACTS_PER_ATTEMPT });
  return objects.length < MAX_ARTIFACTS_PER_ATTEMPT || objects.some((object) => object.key === key);
}

/** The run's stored artifact at `attempt`/`name` (as they appear in its path), if there is one. */
export async function findArtifact(
  bucket: R2Bucket,
  run: Pick<Run, "id">,
  attempt: string,
  name: string,
): Promise<R2ObjectBody | undefined> {
  const number = Number(attempt);
  if (!Number.isSafeInteger(number) || !ARTIFACT_NAME.test(name)) return undefined;
  return (await bucket.get(artifactKey(run.id, number, name))) ?? undefined;
}

export const contentTypeOf = (name: string) =>
  CONTENT_TYPES[name.split(".").pop()?.toLowerCase() ?? ""] ?? "application/octet-stream";

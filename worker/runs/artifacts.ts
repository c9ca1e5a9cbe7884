/**
 * Artifacts of a run (screenshots; a repository suite's test also keeps Playwright's trace and video), kept in
 * R2 under the run and attempt that made them. The key is also the artifact's API path below `/api/v1/` and its
 * page path below `/`, so a stored key is all a client needs to fetch it.
 */
import { MAX_ARTIFACT_BYTES, MAX_ARTIFACTS_PER_ATTEMPT, MAX_RECORDING_BYTES } from "../../schema/contracts.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";

export const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CONTENT_TYPES: Record<string, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  jpg: "image/jpeg",
  txt: "text/plain",
  json: "application/json",
  zip: "application/zip",
  webm: "video/webm",
};
const extensionOf = (name: string) => name.split(".").pop()?.toLowerCase() ?? "";

/** How large an artifact called `name` may be: a trace or a video may be far larger than a screenshot. */
export const maxBytesOf = (name: string) =>
  extensionOf(name) === "zip" || extensionOf(name) === "webm" ? MAX_RECORDING_BYTES : MAX_ARTIFACT_BYTES;

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

/** Whether an artifact is a Playwright trace or video (a repository suite's test keeps them, per its `trace` mode). */
const isRecording = (name: string) => maxBytesOf(name) === MAX_RECORDING_BYTES;

/** The keys of the traces and videos an attempt kept, in name order. */
export async function listRecordings(bucket: R2Bucket, run: Pick<Run, "id">, attempt: number): Promise<string[]> {
  const { objects } = await bucket.list({ prefix: artifactKey(run.id, attempt, ""), limit: MAX_ARTIFACTS_PER_ATTEMPT });
  return objects.map((object) => object.key).filter(isRecording);
}

/** Playwright's trace viewer (served as static assets at /trace/) opening a trace the page token fetches. */
export const traceViewerUrl = (key: string, pageToken: string) =>
  `/trace/index.html?trace=${encodeURIComponent(pageArtifactUrl(key, pageToken))}`;

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

export const contentTypeOf = (name: string) => CONTENT_TYPES[extensionOf(name)] ?? "application/octet-stream";

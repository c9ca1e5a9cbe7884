/**
 * flightcheck's Playwright reporter: runs inside the Playwright runner the executor spawns and sends it, over
 * the IPC channel, every test as listed (onBegin), each test's start, top-level steps and end. Plain
 * JavaScript: Playwright loads it by path, whatever version the repository pins.
 */
import { relative } from "node:path";

const STEP_CATEGORIES = new Set(["test.step", "expect", "pw:api"]);
const MAX_ERROR_CHARS = 4_000;
const root = process.env.FLIGHTCHECK_REPO_ROOT ?? process.cwd();

const send = (event) =>
  new Promise((resolve) => {
    if (process.send) process.send(event, () => resolve());
    else resolve();
  });

const clean = (text) => (text ?? "").replace(/\u001b\[[\d;]*m/g, "").slice(0, MAX_ERROR_CHARS);
const where = (location) =>
  location
    ? { file: relative(root, location.file).split("\\").join("/"), line: location.line, column: location.column }
    : undefined;

function describe(test) {
  const titles = test.titlePath().filter(Boolean); // ["", project, file, ...describes, title]
  const project = test.parent.project()?.name;
  const path = titles.slice(project ? 1 : 0);
  return {
    testId: test.id,
    name: `${path.join(" › ")}${project ? ` [${project}]` : ""}`.slice(0, 200),
    location: where(test.location),
  };
}

const errorOf = (error) =>
  error
    ? { message: clean(error.message ?? error.value ?? String(error)), location: where(error.location) }
    : undefined;

/** What a step event says of its test, attempt and step, begun or ended. */
const stepOf = (test, result, step) => ({
  type: "step",
  testId: test.id,
  retry: result.retry,
  title: step.title,
  category: step.category,
});

export default class FlightcheckReporter {
  printsToStdio() {
    return false;
  }

  onBegin(_config, suite) {
    send({ type: "begin", tests: suite.allTests().map(describe) });
  }

  onTestBegin(test, result) {
    send({ type: "testBegin", testId: test.id, retry: result.retry });
  }

  onStepBegin(test, result, step) {
    if (step.parent || !STEP_CATEGORIES.has(step.category)) return;
    send({ ...stepOf(test, result, step), status: "RUNNING" });
  }

  onStepEnd(test, result, step) {
    if (step.parent || !STEP_CATEGORIES.has(step.category)) return;
    const status = step.error ? "FAILED" : "PASSED";
    send({
      ...stepOf(test, result, step),
      status,
      durationMs: Math.round(step.duration),
      error: errorOf(step.error)?.message,
    });
  }

  onTestEnd(test, result) {
    const final = result.status === "skipped" || result.status === test.expectedStatus || result.retry >= test.retries;
    send({
      type: "testEnd",
      testId: test.id,
      retry: result.retry,
      final,
      status: result.status,
      outcome: final ? test.outcome() : undefined,
      durationMs: Math.round(result.duration),
      error: errorOf(result.error),
      attachments: result.attachments
        .filter((item) => item.path)
        .map(({ name, path, contentType }) => ({ name, path, contentType })),
    });
  }

  onError(error) {
    send({ type: "error", error: errorOf(error) });
  }

  async onEnd(result) {
    // Waits until the channel took it: the runner exits right after.
    await send({ type: "end", status: result.status });
  }
}

/**
 * `npm run bench`: every benchmark, each figure beside its reference in the same run, printed as tables
 * and written to bench/RESULTS.md.
 */
import { writeFileSync } from "node:fs";
import { benchBundle } from "./bundle.ts";
import { benchExecutor } from "./executor.ts";
import { benchFanout } from "./fanout.ts";
import { benchPages } from "./pages.ts";
import { benchSpecSuite, SPEC_SUITE_TITLE, specSuiteSection } from "./spec-suite.ts";
import { machine, RESULTS_FILE, section } from "./results.ts";
import { formatTable } from "./stats.ts";
import { benchStoreOverhead } from "./store-overhead.ts";
import { benchTrigger, TRIGGER_SECTIONS } from "./trigger.ts";
import { benchWebhook } from "./webhook.ts";

const sections: string[] = [];
const report = (title: string, rows: Record<string, string | number>[]) => {
  const table = formatTable(rows);
  console.log(`\n${title}\n\n${table}`);
  sections.push(`## ${title}\n\n${table}\n`);
};

report("The Worker bundle: upload size and start time", benchBundle());
report(
  "RunStore overhead: routed createRun + findRun vs the same statements on a bare client",
  await benchStoreOverhead(),
);
const trigger = await benchTrigger();
for (const [part, title] of Object.entries(TRIGGER_SECTIONS)) report(title, trigger[part as keyof typeof trigger]);
report("WebSocket fan-out: event written in RunDO → received by every subscriber", await benchFanout());
const executor = await benchExecutor();
report("A 20-case suite: trigger → queue → executor → results, beside a bare Playwright script", executor.suite);
report("Hand-offs: trigger → executor claim, and a freed slot → the next queued run", executor.handoffs);
report("Alarm-driven timeouts: a token's timeoutAt → its waiting run resumed", executor.timeouts);
report("GitHub webhook route (sequential signed deliveries)", await benchWebhook());
report(
  "Run pages in Chromium: first contentful paint and bytes transferred (budget < 300 ms, < 50 KiB)",
  await benchPages(),
);
sections.push(section(SPEC_SUITE_TITLE, specSuiteSection(await benchSpecSuite())));
console.log(`\n${sections.at(-1)}`);

writeFileSync(
  RESULTS_FILE,
  `# Benchmark results\n\n${new Date().toISOString()} · ${machine()} · \`npm run bench\`\n\n${sections.join("\n")}`,
);

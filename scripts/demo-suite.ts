/**
 * The bundled demo suite, run by `npm start` against the demo site (scripts/demo-site.ts): three cases that
 * pass and one that fails on purpose, so the first run shows what a failure looks like.
 */
import type { CaseInput } from "../schema/steps.ts";
import { DEMO_CREDENTIALS } from "./demo-site.ts";

export const demoSuite: { name: string; cases: CaseInput[] } = {
  name: "Demo store",
  cases: [
    {
      name: "Signing in shows the dashboard",
      steps: [
        { action: "goto", url: "/login" },
        { action: "fill", target: { label: "Email" }, value: DEMO_CREDENTIALS.email },
        { action: "fill", target: { label: "Password" }, value: DEMO_CREDENTIALS.password },
        { action: "click", target: { role: "button", name: "Sign in" } },
        { action: "expectUrl", url: "/dashboard" },
        { action: "expectText", target: { role: "heading", name: "Welcome back" }, text: "Welcome back" },
      ],
    },
    {
      name: "A todo can be added and ticked off",
      steps: [
        { action: "goto", url: "/todos" },
        { action: "fill", target: { placeholder: "What needs doing?" }, value: "Repot the fern" },
        { action: "select", target: { label: "Priority" }, value: "high" },
        { action: "click", target: { role: "button", name: "Add" } },
        { action: "expectText", target: { testId: "todo-list" }, text: "Repot the fern" },
        { action: "check", target: { role: "checkbox", name: "Repot the fern" } },
        { action: "expectText", target: { testId: "todo-count" }, text: "1 open", exact: true },
      ],
    },
    {
      name: "Navigation keeps the titles right",
      steps: [
        { action: "goto", url: "/" },
        { action: "expectTitle", title: "Home · Flightcheck Demo" },
        { action: "click", target: { role: "link", name: "About" } },
        { action: "expectUrl", url: "/about" },
        { action: "expectTitle", title: "About · Flightcheck Demo" },
      ],
    },
    {
      name: "Home page promises free shipping (fails on purpose: it does not)",
      stepTimeoutMs: 2_000,
      steps: [
        { action: "goto", url: "/" },
        {
          action: "expectText",
          name: "tagline mentions free shipping",
          target: { testId: "tagline" },
          text: "Free shipping on every order",
        },
      ],
    },
  ],
};

/**
 * A small shop-like site for the demo suite and the browser tests: plain node:http, no dependencies.
 *
 *   /                  home: nav links, press "?" for the keyboard shortcuts panel
 *   /about             a plain page
 *   /login             email + password form; demo@flightcheck.dev / hunter2 → /dashboard, else an error text
 *   /dashboard         "Welcome back" when signed in (cookie), else back to /login
 *   /todos             a list: add an item (with a priority <select>), tick one off
 *   /slow-widget?ms=   a widget that appears after `ms` (a "Loading widget…" text until then)
 *   /hang              never answers
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const DEMO_CREDENTIALS = { email: "demo@flightcheck.dev", password: "hunter2" };
const SESSION_COOKIE = "demo_session=signed-in";

export interface DemoSite {
  url: string;
  close(): Promise<void>;
}

export async function startDemoSite({ port = 0 }: { port?: number } = {}): Promise<DemoSite> {
  const server = createServer((req, res) => {
    route(req, res).catch(() => res.writeHead(500).end("demo site error"));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections(); // includes the requests /hang keeps open
        server.close(() => resolve());
      }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://demo");
  if (req.method === "POST" && url.pathname === "/login") return login(req, res);
  if (url.pathname === "/hang") return; // the response never comes
  if (url.pathname === "/dashboard" && !req.headers.cookie?.includes(SESSION_COOKIE)) return redirect(res, "/login");
  const page = PAGES[url.pathname];
  if (!page) return html(res, 404, "Not found", "<h1>Page not found</h1>");
  html(res, 200, page.title, page.body(url));
}

const PAGES: Record<string, { title: string; body(url: URL): string }> = {
  "/": {
    title: "Home",
    body: () => `
      <h1>Flightcheck Demo Store</h1>
      <p data-testid="tagline">Plants, pots and everything in between.</p>
      <p>Press <kbd>?</kbd> for keyboard shortcuts.</p>
      <section id="shortcuts" hidden><h2>Keyboard shortcuts</h2><p>g then t: go to todos</p></section>
      <script>
        document.addEventListener("keydown", (event) => {
          if (event.key === "?") document.getElementById("shortcuts").hidden = false;
        });
      </script>`,
  },
  "/about": {
    title: "About",
    body: () => `<h1>About us</h1><p>A demo site that flightcheck's example suite runs against.</p>`,
  },
  "/login": {
    title: "Log in",
    body: (url) => `
      <h1>Log in</h1>
      ${url.searchParams.has("error") ? `<p role="alert" class="error">Wrong email or password.</p>` : ""}
      <form method="post" action="/login">
        <label for="email">Email</label>
        <input id="email" name="email" type="email" placeholder="you@example.com" autocomplete="username">
        <label for="password">Password</label>
        <input id="password" name="password" type="password" placeholder="Your password"
          autocomplete="current-password">
        <button type="submit">Sign in</button>
      </form>`,
  },
  "/dashboard": {
    title: "Dashboard",
    body: () => `<h1>Welcome back</h1><p data-testid="signed-in-as">Signed in as ${DEMO_CREDENTIALS.email}</p>`,
  },
  "/todos": {
    title: "Todos",
    body: () => `
      <h1>Todos</h1>
      <form id="add-todo">
        <label for="new-todo">New todo</label>
        <input id="new-todo" placeholder="What needs doing?" required>
        <label for="priority">Priority</label>
        <select id="priority">
          <option value="low">Low</option>
          <option value="normal" selected>Normal</option>
          <option value="high">High</option>
        </select>
        <button type="submit">Add</button>
      </form>
      <ul data-testid="todo-list">
        <li><label><input type="checkbox"> Water the plants</label> <span class="priority">normal</span></li>
      </ul>
      <p data-testid="todo-count">1 open</p>
      <script>
        const list = document.querySelector("[data-testid=todo-list]");
        const count = () => {
          const open = list.querySelectorAll("input:not(:checked)").length;
          document.querySelector("[data-testid=todo-count]").textContent = open + " open";
        };
        list.addEventListener("change", count);
        document.getElementById("add-todo").addEventListener("submit", (event) => {
          event.preventDefault();
          const input = document.getElementById("new-todo");
          const item = document.createElement("li");
          const label = document.createElement("label");
          label.append(Object.assign(document.createElement("input"), { type: "checkbox" }), " " + input.value);
          const priority = Object.assign(document.createElement("span"), {
            className: "priority",
            textContent: document.getElementById("priority").value,
          });
          item.append(label, " ", priority);
          list.append(item);
          input.value = "";
          count();
        });
      </script>`,
  },
  "/slow-widget": {
    title: "Slow widget",
    body: (url) => `
      <h1>Slow widget</h1>
      <p id="loading">Loading widget…</p>
      <script>
        setTimeout(() => {
          document.getElementById("loading").hidden = true;
          document.body.insertAdjacentHTML("beforeend", '<div data-testid="widget" role="status">Widget ready</div>');
        }, ${Math.min(Math.max(Number(url.searchParams.get("ms")) || 0, 0), 60_000)});
      </script>`,
  },
};

async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) return void res.writeHead(413).end();
  }
  const form = new URLSearchParams(body);
  if (form.get("email") !== DEMO_CREDENTIALS.email || form.get("password") !== DEMO_CREDENTIALS.password) {
    return redirect(res, "/login?error=1");
  }
  res.setHeader("set-cookie", `${SESSION_COOKIE}; Path=/; HttpOnly; SameSite=Lax`);
  redirect(res, "/dashboard");
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location }).end();
}

function html(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title} · Flightcheck Demo</title>
<style>body{font:16px system-ui;margin:2rem auto;max-width:40rem} nav a{margin-right:1rem} .error{color:#b00}</style>
</head>
<body>
<nav><a href="/">Home</a><a href="/todos">Todos</a><a href="/slow-widget?ms=500">Widget</a><a href="/about">About</a>
<a href="/login">Log in</a></nav>
<main>${body}</main>
</body>
</html>`);
}

// A real Chromium, driven over stdin/stdout for tests/browser.rs.
//
// One request per stdin line, one answer per stdout line, both JSON:
//   -> {"id": 1, "op": "open", "url": "http://127.0.0.1:1234/"}
//   <- {"id": 1, "ok": true, "value": null}
// Ops: open {url} (a fresh tab; the previous one is closed), eval {expr}, wait {expr,
// timeout} (poll until `expr` is truthy; survives reloads), key {key}, click {x, y},
// log (console lines and uncaught errors of the tab so far), quit.
// Exits when stdin closes, so a crashed test run never leaves a browser behind.
//
// Env: HOTSERVE_CHROMIUM (default /usr/bin/chromium).

import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const executablePath = process.env.HOTSERVE_CHROMIUM || "/usr/bin/chromium";
const profile = mkdtempSync(join(tmpdir(), "hotserve-chromium-"));

// Without the network flags Chromium's own background connections (and QUIC) get in the
// way in sandboxed CI machines; --no-sandbox because containers lack user namespaces.
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  // The HTTPS tests serve hotserve's self-signed certificate, which a developer accepts once.
  ignoreHTTPSErrors: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

/** @type {import("playwright-core").Page | undefined} */
let page;
/** @type {{console: {type: string, text: string}[], errors: string[]}} */
let log = { console: [], errors: [] };

async function open(url) {
  await page?.close();
  page = await context.newPage();
  const mine = { console: [], errors: [] };
  log = mine;
  page.on("console", (m) => mine.console.push({ type: m.type(), text: m.text() }));
  page.on("pageerror", (e) => mine.errors.push(String(e?.stack || e)));
  await page.goto(url, { waitUntil: "load" });
  return null;
}

function current() {
  if (!page) throw new Error("no page open");
  return page;
}

/** Poll `expr` in the page until it is truthy. Evaluation errors while the page reloads
 * (destroyed execution context) count as "not yet". */
async function wait(expr, timeout = 5000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await current().evaluate(expr);
      if (value) return value;
      last = value;
    } catch (e) {
      last = String(e?.message || e);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${expr} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ops = {
  open: (m) => open(m.url),
  eval: (m) => current().evaluate(m.expr),
  wait: (m) => wait(m.expr, m.timeout),
  key: (m) => current().keyboard.press(m.key).then(() => null),
  click: (m) => current().mouse.click(m.x, m.y).then(() => null),
  log: () => log,
  quit: () => quit(),
};

async function quit() {
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  process.exit(0);
}

const reply = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// Requests are handled one at a time, in order.
let chain = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  chain = chain.then(async () => {
    let msg;
    try {
      msg = JSON.parse(line);
      const op = ops[msg.op];
      if (!op) throw new Error(`unknown op ${msg.op}`);
      const value = await op(msg);
      reply({ id: msg.id, ok: true, value: value ?? null });
    } catch (e) {
      reply({ id: msg?.id, ok: false, error: String(e?.message || e) });
    }
  });
});
lines.on("close", () => chain.then(quit));
reply({ id: 0, ok: true, value: "ready" });

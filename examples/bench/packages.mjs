// Benchmark: create-vite's `lit` template served by hotserve and by Vite 8, side by side.
// Prints the time from starting the server to the rendered app (the element's button in its
// shadow root) with nothing cached (Vite's dependency cache removed first), then, for a
// first load (empty browser cache) and a reload, the time from navigation start to the
// rendered app and the number of requests. The template runs as generated.
//
//   cargo build --release
//   node examples/bench/packages.mjs [target/release/hotserve] [--runs 5]
//
// Needs `npm ci --prefix tests/js` (playwright-core and the pinned create-vite), Chromium
// (HOTSERVE_CHROMIUM, default /usr/bin/chromium) and the npm registry: the template and its
// Vite are installed into a temporary folder at run time, never committed.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const js = join(repo, "tests/js");
const require = createRequire(join(js, "package.json"));
const { chromium } = require("playwright-core");

const args = process.argv.slice(2);
const runsAt = args.indexOf("--runs");
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 5;
const hotserve = resolve(args[0] || join(repo, "target/release/hotserve"));

const work = mkdtempSync(join(tmpdir(), "hotserve-bench-"));
const app = join(work, "app");
const run = (cmd, argv, cwd) => {
  const r = spawnSync(cmd, argv, { cwd, stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed`);
};
run("node", [join(js, "node_modules/create-vite/index.js"), "app", "--template", "lit", "--no-interactive", "--no-immediate"], work);
// The template's devDependency is Vite 8: the comparison runs against exactly that.
run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], app);

/** Start a server and resolve with its URL, read from its banner. */
function serve(name, cmd, argv) {
  const child = spawn(cmd, argv, { cwd: app, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  return new Promise((ok, fail) => {
    let out = "";
    const look = (chunk) => {
      out += chunk;
      const m = out.replace(/\x1b\[[0-9;]*m/g, "").match(/Local:\s+(http:\/\/\S+)/);
      if (m) ok({ name, child, url: m[1].replace("localhost", "127.0.0.1") });
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    child.on("exit", (code) => fail(new Error(`${name} exited (${code}): ${out}`)));
  });
}

const rendered = () =>
  !!document.querySelector("my-element")?.shadowRoot?.querySelector("button")?.textContent.includes("Count is");

/** One page: first load in a fresh profile, then `runs` reloads. */
async function measure(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let requests = 0;
  page.on("request", () => requests++);
  const once = async (go) => {
    requests = 0;
    const started = Date.now();
    await go();
    await page.waitForFunction(rendered, null, { polling: "raf", timeout: 60000 });
    // Navigation start to render, from the page's own clock.
    const ms = await page.evaluate(() => performance.now());
    return { ms, wall: Date.now() - started, requests };
  };
  const first = await once(() => page.goto(url));
  const reloads = [];
  for (let i = 0; i < runs; i++) reloads.push(await once(() => page.reload()));
  await context.close();
  return { first, reloads };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({
  executablePath: process.env.HOTSERVE_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking"],
});
const rows = [];
try {
  for (const [name, cmd, argv] of [
    ["hotserve", hotserve, [".", "--port", "0"]],
    ["vite 8", "npx", ["vite", "--port", "5199", "--strictPort", "--host", "127.0.0.1"]],
  ]) {
    // Cold: from spawning the server to the rendered app, nothing cached anywhere.
    rmSync(join(app, "node_modules/.vite"), { recursive: true, force: true });
    const spawned = Date.now();
    const server = await serve(name, cmd, argv);
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(server.url);
      await page.waitForFunction(rendered, null, { polling: "raf", timeout: 60000 });
      const cold = Date.now() - spawned;
      await context.close();
      // One warm-up navigation (Vite pre-bundles dependencies on its first request).
      await measure(browser, server.url);
      const firsts = [];
      let last;
      for (let i = 0; i < runs; i++) {
        last = await measure(browser, server.url);
        firsts.push(last.first.ms);
      }
      rows.push({
        server: name,
        "start to render ms (cold)": cold,
        "first load ms (median)": median(firsts).toFixed(0),
        "first load requests": last.first.requests,
        "reload ms (median)": median(last.reloads.map((r) => r.ms)).toFixed(0),
        "reload requests": last.reloads.at(-1).requests,
      });
    } finally {
      server.child.kill();
    }
  }
} finally {
  await browser.close();
  rmSync(work, { recursive: true, force: true });
}
console.log(`lit template as generated, ${runs} runs each, ${hotserve}; ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.table(rows);

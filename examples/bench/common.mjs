// What the Node benchmarks share: flags, a create-vite template installed into a temporary
// folder, servers started and stopped by their banner, Chromium, medians, the machine line.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const js = join(repo, "tests/js");
const require = createRequire(join(js, "package.json"));
const { chromium } = require("playwright-core");

/** The command line: `--name N` numbers (removed as read) and the rest in order. */
export function flags(argv = process.argv.slice(2)) {
  const rest = [...argv];
  return {
    number(name, fallback) {
      const at = rest.indexOf(name);
      return at >= 0 ? Number(rest.splice(at, 2)[1]) : fallback;
    },
    /** The hotserve binary: the first plain argument, else the release build. */
    hotserve() {
      return resolve(rest[0] || join(repo, "target/release/hotserve"));
    },
    rest,
  };
}

/** Run a command to completion; its output is dropped unless it fails. */
export function run(cmd, argv, cwd) {
  const r = spawnSync(cmd, argv, { cwd, stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed`);
}

/** Generate create-vite's `template` (the pinned create-vite) into a new temporary folder
 * and install it with all its dependencies, Vite 8 among them, from the registry. Returns
 * the folder that holds the app (`work`) and the app itself. */
export function template(name) {
  const work = mkdtempSync(join(tmpdir(), `hotserve-bench-${name}-`));
  run("node", [join(js, "node_modules/create-vite/index.js"), "app", "--template", name, "--no-interactive", "--no-immediate"], work);
  const app = join(work, "app");
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], app);
  return { work, app };
}

/** The two servers compared: hotserve on a free port, and the project's own Vite. */
export function servers(hotserve, app) {
  return [
    ["hotserve", hotserve, [".", "--port", "0"]],
    ["vite 8", join(app, "node_modules/.bin/vite"), ["--port", "5199", "--strictPort", "--host", "127.0.0.1"]],
  ];
}

/** Start a server in `cwd`; resolves with its URL (read from its banner), the process and
 * its output so far, once the banner is printed. */
export function serve(name, cmd, argv, cwd) {
  const child = spawn(cmd, argv, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let out = "";
  return new Promise((ok, fail) => {
    const look = (chunk) => {
      out += chunk;
      const m = out.replace(/\x1b\[[0-9;]*m/g, "").match(/Local:\s+(http:\/\/\S+)/);
      if (m) ok({ name, child, url: m[1].replace("localhost", "127.0.0.1"), log: () => out });
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    child.on("exit", (code) => fail(new Error(`${name} exited (${code}): ${out}`)));
  });
}

/** Stop a server started by `serve` and wait until it has exited. */
export function stop(server) {
  return new Promise((ok) => {
    if (server.child.exitCode !== null) return ok();
    server.child.removeAllListeners("exit");
    server.child.once("exit", () => ok());
    server.child.kill();
  });
}

/** Headless Chromium (HOTSERVE_CHROMIUM, default /usr/bin/chromium). */
export function browser() {
  return chromium.launch({
    executablePath: process.env.HOTSERVE_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking"],
  });
}

/** Navigation options: go on as soon as the page's document arrives, so that
 * [`renderedAt`] watches from the start (by default Playwright waits for the `load` event,
 * after every image and the favicon, which can come later than the render). */
export const COMMIT = { waitUntil: "commit" };

/** Wait until `predicate` (run in the page) holds, checked on every animation frame, and
 * return when it first held by the page's own clock: `ms` from navigation start, and `at`
 * as wall-clock time (epoch ms, comparable with Date.now()). The harness itself notices a
 * DevTools round trip later, tens of milliseconds on a busy machine; reading the page's
 * clock leaves that out, for every server alike. */
export async function renderedAt(page, predicate, timeout = 120000) {
  await page.waitForFunction(
    `(() => { if (!(${predicate})()) return false; window.__renderedAt ??= performance.now(); return true; })()`,
    null,
    { polling: "raf", timeout },
  );
  return page.evaluate(() => ({ ms: window.__renderedAt, at: performance.timeOrigin + window.__renderedAt }));
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The line that says where the figures were taken. */
export function machine() {
  return `${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`;
}

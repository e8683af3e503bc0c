// Benchmark: dependency pre-bundling. For each hotserve binary given, serves two pages made
// from the packages pinned in tests/js and prints, in Chromium, the time from navigation
// start to the page's `window.done`, and the number of requests, for a first load (fresh
// browser context) and a reload:
//   - `lodash-es`: `import { debounce, chunk } from 'lodash-es'` (640 ES modules);
//   - `react`: the react template's dependencies (`react`, `react-dom/client`,
//     `react/jsx-dev-runtime`) rendering a counter with `React.createElement`.
// The server's own log gives the bundling time ("dependencies bundled: ... (170ms)").
//
//   cargo build --release
//   node examples/bench/prebundle.mjs target/release/hotserve [/tmp/hotserve-other] [--runs 5]
//
// Needs `npm ci --prefix tests/js` and Chromium (HOTSERVE_CHROMIUM, default /usr/bin/chromium).

import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
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
const binaries = (args.length ? args : [join(repo, "target/release/hotserve")]).map((b) => resolve(b));

const apps = {
  "lodash-es": {
    packages: ["lodash-es"],
    main: "import { debounce, chunk } from 'lodash-es';\n" +
      "window.done = typeof debounce === 'function' && chunk([1, 2, 3], 2).length === 2;\n",
  },
  react: {
    packages: ["react", "react-dom", "scheduler"],
    main: "import React, { useState } from 'react';\nimport { createRoot } from 'react-dom/client';\n" +
      "import { jsxDEV } from 'react/jsx-dev-runtime';\n" +
      "function App() { const [n] = useState(1); window.done = n === 1; return jsxDEV('p', { children: 'n ' + n }); }\n" +
      "createRoot(document.getElementById('root')).render(React.createElement(App));\n",
  },
};

/** A fresh project folder for `app` (its packages copied, a lockfile). */
function project(app) {
  const dir = mkdtempSync(join(tmpdir(), "hotserve-prebundle-bench-"));
  for (const p of app.packages) cpSync(join(js, "node_modules", p), join(dir, "node_modules", p), { recursive: true });
  writeFileSync(join(dir, "package-lock.json"), '{"lockfileVersion": 3, "packages": {}}');
  writeFileSync(join(dir, "index.html"), '<!doctype html><link rel=icon href="data:,"><div id=root></div><script type=module src=/src/main.js></script>');
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src/main.js"), app.main);
  return dir;
}

/** Start hotserve in `dir`; resolve with its URL and a function returning its log. */
function serve(binary, dir) {
  const child = spawn(binary, [".", "--port", "0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let out = "";
  return new Promise((ok, fail) => {
    const look = (chunk) => {
      out += chunk;
      const m = out.replace(/\x1b\[[0-9;]*m/g, "").match(/Local:\s+(http:\/\/\S+)/);
      if (m) ok({ child, url: m[1].replace("localhost", "127.0.0.1"), log: () => out });
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    child.on("exit", (code) => fail(new Error(`hotserve exited (${code}): ${out}`)));
  });
}

async function measure(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let requests = 0;
  page.on("request", () => requests++);
  const once = async (go) => {
    requests = 0;
    await go();
    await page.waitForFunction(() => window.done === true, null, { polling: "raf", timeout: 120000 });
    return { ms: await page.evaluate(() => performance.now()), requests };
  };
  const first = await once(() => page.goto(url));
  const reload = await once(() => page.reload());
  await context.close();
  return { first, reload };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({
  executablePath: process.env.HOTSERVE_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking"],
});
const rows = [];
try {
  for (const [appName, app] of Object.entries(apps)) {
    for (const binary of binaries) {
      const dir = project(app);
      const server = await serve(binary, dir);
      try {
        const results = [];
        for (let i = 0; i < runs; i++) results.push(await measure(browser, server.url));
        const bundled = server.log().replace(/\x1b\[[0-9;]*m/g, "").match(/dependencies bundled: .*\(([^)]+)\)/);
        rows.push({
          page: appName,
          binary,
          "bundling": bundled ? bundled[1] : "-",
          "first load ms (median)": median(results.map((r) => r.first.ms)).toFixed(0),
          "first load requests": results.at(-1).first.requests,
          "reload ms (median)": median(results.map((r) => r.reload.ms)).toFixed(0),
          "reload requests": results.at(-1).reload.requests,
        });
      } finally {
        server.child.kill();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
} finally {
  await browser.close();
}
console.log(`${runs} runs each; ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.table(rows);

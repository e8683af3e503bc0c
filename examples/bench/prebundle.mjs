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

import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { browser as launch, COMMIT, flags, js, machine, median, renderedAt, repo, serve, stop } from "./common.mjs";

const args = flags();
const runs = args.number("--runs", 5);
const binaries = (args.rest.length ? args.rest : [join(repo, "target/release/hotserve")]).map((b) => resolve(b));

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

async function measure(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let requests = 0;
  page.on("request", () => requests++);
  const once = async (go) => {
    requests = 0;
    await go();
    const { ms } = await renderedAt(page, () => window.done === true);
    await page.waitForLoadState("load");
    return { ms, requests };
  };
  const first = await once(() => page.goto(url, COMMIT));
  const reload = await once(() => page.reload(COMMIT));
  await context.close();
  return { first, reload };
}

const browser = await launch();
const rows = [];
try {
  for (const [appName, app] of Object.entries(apps)) {
    for (const binary of binaries) {
      const dir = project(app);
      const server = await serve("hotserve", binary, [".", "--port", "0"], dir);
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
        await stop(server);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
} finally {
  await browser.close();
}
console.log(`${runs} runs each; ${machine()}`);
console.table(rows);

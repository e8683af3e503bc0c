// Benchmark: create-vite's `react-ts` template served by hotserve and by Vite 8, side by
// side, in Chromium. For each server it prints:
//   - cold start: from spawning the server, with no dependency cache (Vite's
//     node_modules/.vite and hotserve's node_modules/.hotserve removed), to the rendered app,
//     median of --cold starts (default 3);
//   - warm start: the same with the cache the cold start left, median of --runs starts,
//     with two parts of it: spawn to the banner, and the page's navigation start to render
//     (the rest is the navigation's own start). The browser context and tab are opened
//     before the clock starts, for both servers;
//   - warm start, tab kept: the same, loading the app into the tab of the previous start
//     (its browser cache kept, as when a developer restarts the server), median of --runs;
//   - save -> screen: from writing an edit of App.tsx to the edited text on the page (seen
//     by a MutationObserver, on the page's wall clock), p50 and p90 of --edits saves; the
//     counter is clicked to 3 first and must still say 3 afterwards (Fast Refresh);
//   - for hotserve, from the first file event to the `update` sent, p50 and max over the
//     same edits, from its own log lines (`hmr update /src/App.tsx (1.2ms)`).
//
//   cargo build --release
//   node examples/bench/react.mjs [target/release/hotserve] [--runs 5] [--edits 20] [--cold 3]
//
// Needs `npm ci --prefix tests/js` (playwright-core and the pinned create-vite), Chromium
// (HOTSERVE_CHROMIUM, default /usr/bin/chromium) and the npm registry: the template and its
// Vite are installed into a temporary folder at run time, never committed.

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { browser as launch, COMMIT, flags, machine, median, renderedAt, serve, servers, stop, template } from "./common.mjs";

const args = flags();
const runs = args.number("--runs", 5);
const edits = args.number("--edits", 20);
const coldRuns = args.number("--cold", 3);
const hotserve = args.hotserve();

const { work, app } = template("react-ts");
const appFile = join(app, "src/App.tsx");
const original = readFileSync(appFile, "utf8");
const heading = "<h1>Get started</h1>";
if (!original.includes(heading)) throw new Error(`App.tsx has no ${heading}`);

const counter = () => document.querySelector("button.counter")?.textContent;

/** Open a fresh context, then spawn a server and load the app: ms from spawn to the rendered
 * app, and of that the page's own navigation-start-to-render. The browser's context and tab
 * are made before the clock starts: they cost the same whichever server answers, and on a
 * busy machine they alone can take hundreds of milliseconds. */
async function start(browser, server) {
  const context = await browser.newContext();
  const page = await context.newPage();
  return { context, page, ...(await load(page, server)) };
}

/** Spawn a server and load the app in `page`: ms from spawn to the rendered app. */
async function load(page, [name, cmd, argv]) {
  const spawned = Date.now();
  const server = await serve(name, cmd, argv, app);
  const banner = Date.now() - spawned;
  await page.goto(server.url, COMMIT);
  const rendered = await renderedAt(page, () => document.querySelector("button.counter")?.textContent === "Count is 0");
  return { server, ms: Math.round(rendered.at - spawned), banner, render: rendered.ms };
}

/** Save `edits` edits of the heading; ms from each write to the text on screen. */
async function saves(page) {
  await page.evaluate(() => {
    window.__seen = {};
    new MutationObserver(() => {
      const text = document.querySelector("h1")?.textContent;
      if (text && !(text in window.__seen)) window.__seen[text] = Date.now();
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  for (let i = 0; i < 3; i++) await page.click("button.counter");
  await page.waitForFunction(() => document.querySelector("button.counter")?.textContent === "Count is 3");
  const times = [];
  for (let i = 0; i < edits; i++) {
    const text = `Edit ${i} ${Math.random().toString(36).slice(2, 7)}`;
    // Let the watcher settle between saves, as a person typing would.
    await new Promise((r) => setTimeout(r, 150));
    const written = Date.now();
    writeFileSync(appFile, original.replace(heading, `<h1>${text}</h1>`));
    await page.waitForFunction((t) => t in window.__seen, text, { timeout: 30000 });
    times.push((await page.evaluate((t) => window.__seen[t], text)) - written);
  }
  const count = await page.evaluate(counter);
  if (count !== "Count is 3") throw new Error(`the state was lost: ${count}`);
  writeFileSync(appFile, original);
  return times;
}

const browser = await launch();
const rows = [];
try {
  // Fixed ports, so that a tab kept across a restart keeps its origin and its cache.
  const fixed = servers(hotserve, app).map(([name, cmd, argv]) =>
    name === "hotserve" ? [name, cmd, [".", "--port", "5198", "--strict-port"]] : [name, cmd, argv],
  );
  for (const server of fixed) {
    const colds = [];
    for (let i = 0; i < coldRuns; i++) {
      rmSync(join(app, "node_modules/.vite"), { recursive: true, force: true });
      rmSync(join(app, "node_modules/.hotserve"), { recursive: true, force: true });
      const cold = await start(browser, server);
      colds.push(cold.ms);
      await cold.context.close();
      await stop(cold.server);
    }
    const warm = [];
    const banners = [];
    const renders = [];
    let last;
    for (let i = 0; i < runs; i++) {
      if (last) {
        await last.context.close();
        await stop(last.server);
      }
      last = await start(browser, server);
      warm.push(last.ms);
      banners.push(last.banner);
      renders.push(last.render);
    }
    // Restarts with the tab kept, as a developer restarting the server and reloading sees
    // them: the browser has the dependencies in its cache (their URLs carry the version).
    const kept = [];
    for (let i = 0; i < runs; i++) {
      // Away from the app first: its client would reload the tab itself once the server
      // is back, racing the measured navigation.
      await last.page.goto("about:blank");
      await stop(last.server);
      const again = await load(last.page, server);
      last.server = again.server;
      kept.push(again.ms);
    }
    try {
      const times = await saves(last.page);
      const sorted = [...times].sort((a, b) => a - b);
      // hotserve logs each update with the time from the first file event to the send.
      const sent = [...last.server.log().replace(/\x1b\[[0-9;]*m/g, "").matchAll(/hmr update \/src\/App\.tsx \(([\d.]+)(ms|µs)\)/g)]
        .map(([, n, unit]) => Number(n) / (unit === "µs" ? 1000 : 1));
      const sentSorted = [...sent].sort((a, b) => a - b);
      rows.push({
        server: server[0],
        "cold start ms (median)": median(colds),
        "warm start ms (median)": median(warm),
        "warm: banner / navigation -> render ms": `${median(banners)} / ${median(renders).toFixed(0)}`,
        "warm start, tab kept ms (median)": median(kept),
        "save -> screen p50 ms": median(times),
        "save -> screen p90 ms": sorted[Math.floor(sorted.length * 0.9)],
        "event -> update sent p50/max ms": sent.length ? `${median(sent).toFixed(2)} / ${sentSorted.at(-1).toFixed(2)}` : "-",
      });
    } finally {
      await last.context.close();
      await stop(last.server);
    }
  }
} finally {
  await browser.close();
  rmSync(work, { recursive: true, force: true });
}
console.log(`react-ts template as generated, ${coldRuns} cold starts, ${runs} warm starts and ${edits} edits each, ${hotserve}; ${machine()}`);
console.table(rows);

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

import { rmSync } from "node:fs";
import { join } from "node:path";
import { browser as launch, COMMIT, flags, machine, median, renderedAt, serve, servers, stop, template } from "./common.mjs";

const args = flags();
const runs = args.number("--runs", 5);
const hotserve = args.hotserve();

// The template's devDependency is Vite 8: the comparison runs against exactly that.
const { work, app } = template("lit");

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
    // Navigation start to render, from the page's own clock.
    const { ms } = await renderedAt(page, rendered, 60000);
    // Every request of the page counted (images and the favicon may come after the render).
    await page.waitForLoadState("load");
    return { ms, wall: Date.now() - started, requests };
  };
  const first = await once(() => page.goto(url, COMMIT));
  const reloads = [];
  for (let i = 0; i < runs; i++) reloads.push(await once(() => page.reload(COMMIT)));
  await context.close();
  return { first, reloads };
}

const browser = await launch();
const rows = [];
try {
  for (const [name, cmd, argv] of servers(hotserve, app)) {
    // Cold: from spawning the server to the rendered app, nothing cached anywhere.
    rmSync(join(app, "node_modules/.vite"), { recursive: true, force: true });
    rmSync(join(app, "node_modules/.hotserve"), { recursive: true, force: true });
    const spawned = Date.now();
    const server = await serve(name, cmd, argv, app);
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(server.url, COMMIT);
      const cold = Math.round((await renderedAt(page, rendered, 60000)).at - spawned);
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
      await stop(server);
    }
  }
} finally {
  await browser.close();
  rmSync(work, { recursive: true, force: true });
}
console.log(`lit template as generated, ${runs} runs each, ${hotserve}; ${machine()}`);
console.table(rows);

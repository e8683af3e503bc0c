// Benchmark: a generated project of ~2,000 TypeScript modules served by hotserve and by
// Vite 8, side by side. Prints, for each server, the time from starting it to the rendered
// page in Chromium (cold: the server's first request), and the median first load of a fresh
// browser context once the server is warm, from navigation start, with the request count.
//
//   cargo build --release
//   node examples/bench/typescript.mjs [target/release/hotserve] [--runs 5] [--modules 2000]
//
// Needs `npm ci --prefix tests/js` (playwright-core and the pinned create-vite), Chromium
// (HOTSERVE_CHROMIUM, default /usr/bin/chromium) and the npm registry: create-vite's
// `vanilla-ts` template and its Vite 8 are installed into a temporary folder at run time,
// never committed, and its `src/` is replaced by the generated modules.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { browser as launch, COMMIT, flags, machine, median, renderedAt, serve, servers, stop, template } from "./common.mjs";

const args = flags();
const runs = args.number("--runs", 5);
const wanted = args.number("--modules", 2000);
const hotserve = args.hotserve();

// The template's devDependencies are Vite 8 and TypeScript: the comparison runs against
// exactly that Vite.
const { work, app } = template("vanilla-ts");

// The project: main.ts imports `groups` index modules, each of which imports `per` leaf
// modules with types, an interface, an enum and a class. 2,000 leaves + indexes + main.
const per = 50;
const groups = Math.max(1, Math.round(wanted / per));
rmSync(join(app, "src"), { recursive: true, force: true });
for (let g = 0; g < groups; g++) {
  const dir = join(app, "src/groups", `g${g}`);
  mkdirSync(dir, { recursive: true });
  const index = [];
  for (let i = 0; i < per; i++) {
    writeFileSync(
      join(dir, `m${i}.ts`),
      `export interface Shape${i} { kind: Kind${i}; size: number }
export enum Kind${i} { Square = 'square', Circle = 'circle' }
type Scale = (n: number) => number;
const double: Scale = (n) => n * 2;
export class Box${i} implements Shape${i} {
  kind: Kind${i} = Kind${i}.Square;
  constructor(public size: number) {}
  area(): number { return this.kind === Kind${i}.Square ? this.size ** 2 : 0; }
}
export function value${i}(): number { return double(new Box${i}(${i % 7}).area()); }
`,
    );
    index.push(`import { value${i} } from './m${i}.ts';`);
  }
  index.push(`export const total: number = [${[...Array(per).keys()].map((i) => `value${i}()`).join(", ")}].reduce((a, b) => a + b, 0);`);
  writeFileSync(join(dir, "index.ts"), index.join("\n") + "\n");
}
const main = [...Array(groups).keys()].map((g) => `import { total as t${g} } from './groups/g${g}/index.ts';`);
main.push(`const sum: number = ${[...Array(groups).keys()].map((g) => `t${g}`).join(" + ")};`);
main.push(`document.querySelector<HTMLDivElement>('#app')!.textContent = \`sum \${sum}\`;`);
writeFileSync(join(app, "src/main.ts"), main.join("\n") + "\n");
const modules = groups * per + groups + 1;

const rendered = () => document.querySelector("#app")?.textContent.startsWith("sum ");

/** A first load in a fresh browser context: ms from navigation start, and requests. */
async function load(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let requests = 0;
  page.on("request", () => requests++);
  await page.goto(url, COMMIT);
  const { ms } = await renderedAt(page, rendered);
  const text = await page.evaluate(() => document.querySelector("#app").textContent);
  await context.close();
  return { ms, requests, text };
}

const browser = await launch();
const rows = [];
const texts = new Set();
try {
  for (const [name, cmd, argv] of servers(hotserve, app)) {
    const started = performance.now();
    const server = await serve(name, cmd, argv, app);
    try {
      const ready = performance.now() - started;
      // Cold: nothing compiled yet on the server.
      const cold = await load(browser, server.url);
      const coldTotal = performance.now() - started;
      texts.add(cold.text);
      const warm = [];
      for (let i = 0; i < runs; i++) warm.push((await load(browser, server.url)).ms);
      rows.push({
        server: name,
        "banner ms": ready.toFixed(0),
        "start to rendered ms (cold)": coldTotal.toFixed(0),
        "cold page load ms": cold.ms.toFixed(0),
        "warm first load ms (median)": median(warm).toFixed(0),
        requests: cold.requests,
      });
    } finally {
      await stop(server);
    }
  }
} finally {
  await browser.close();
  rmSync(work, { recursive: true, force: true });
}
if (texts.size !== 1) throw new Error(`the servers rendered different pages: ${[...texts].join(" / ")}`);
console.log(`${modules} TypeScript modules (vanilla-ts template), ${runs} warm runs each, ${hotserve}; ${machine()}`);
console.table(rows);

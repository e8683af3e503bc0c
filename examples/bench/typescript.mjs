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

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const js = join(repo, "tests/js");
const require = createRequire(join(js, "package.json"));
const { chromium } = require("playwright-core");

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args.splice(at, 2)[1]) : fallback;
};
const runs = option("--runs", 5);
const wanted = option("--modules", 2000);
const hotserve = resolve(args[0] || join(repo, "target/release/hotserve"));

const work = mkdtempSync(join(tmpdir(), "hotserve-bench-ts-"));
const app = join(work, "app");
const run = (cmd, argv, cwd) => {
  const r = spawnSync(cmd, argv, { cwd, stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed`);
};
run("node", [join(js, "node_modules/create-vite/index.js"), "app", "--template", "vanilla-ts", "--no-interactive", "--no-immediate"], work);
// The template's devDependencies are Vite 8 and TypeScript: the comparison runs against
// exactly that Vite.
run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], app);

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

/** Start a server; resolves with its URL (read from its banner) and when it printed it. */
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

const rendered = () => document.querySelector("#app")?.textContent.startsWith("sum ");

/** A first load in a fresh browser context: ms from navigation start, and requests. */
async function load(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let requests = 0;
  page.on("request", () => requests++);
  await page.goto(url);
  await page.waitForFunction(rendered, null, { polling: "raf", timeout: 120000 });
  const ms = await page.evaluate(() => performance.now());
  const text = await page.evaluate(() => document.querySelector("#app").textContent);
  await context.close();
  return { ms, requests, text };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({
  executablePath: process.env.HOTSERVE_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking"],
});
const rows = [];
const texts = new Set();
try {
  for (const [name, cmd, argv] of [
    ["hotserve", hotserve, [".", "--port", "0"]],
    ["vite 8", join(app, "node_modules/.bin/vite"), ["--port", "5199", "--strictPort", "--host", "127.0.0.1"]],
  ]) {
    const started = performance.now();
    const server = await serve(name, cmd, argv);
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
      server.child.kill();
    }
  }
} finally {
  await browser.close();
  rmSync(work, { recursive: true, force: true });
}
if (texts.size !== 1) throw new Error(`the servers rendered different pages: ${[...texts].join(" / ")}`);
console.log(`${modules} TypeScript modules (vanilla-ts template), ${runs} warm runs each, ${hotserve}; ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.table(rows);

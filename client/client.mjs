// hotserve's browser client, served at /@vite/client. It speaks Vite's HMR protocol
// (docs/protocol.md): one socket, payloads applied in order, `import.meta.hot` contexts.
// Plain ES module, no build step; kept small because every page load downloads it.

/** Filled in by the server (src/client.rs) with JSON; `null` when served as is.
 * @type {null | {token?: string, host?: string | null, port?: number | null, path?: string,
 *   directHost?: string | null, directPort?: number | null, spa?: boolean}} */
const __HOTSERVE_CONFIG__ = /*CONFIG*/null;

const cfg = __HOTSERVE_CONFIG__ || {};
const here = new URL(import.meta.url);
const scheme = here.protocol === "https:" ? "wss" : "ws";
// `hotserve-in-place=1` tells the server this client swaps imported stylesheets and images
// in place (swapAssets below); without it the server sends those changes as full reloads.
const query = `?token=${encodeURIComponent(cfg.token || "")}&hotserve-in-place=1`;
const path = cfg.path || "/";
/** @param {string} host @param {string | number | null | undefined} port */
const wsUrl = (host, port) => `${scheme}://${host}${port ? `:${port}` : ""}${path}${query}`;
const primaryUrl = wsUrl(cfg.host || here.hostname, cfg.port || here.port);
const directUrl = wsUrl(cfg.directHost || here.hostname, cfg.directPort || here.port);

const log = (/** @type {any[]} */ ...a) => console.debug("[vite]", ...a);

/** @typedef {{deps: string[], fn: (mods: any[]) => void}} Callback */
/** @type {Map<string, Callback[]>} */ const hotModules = new Map();
/** @type {Map<string, (data: any) => any>} */ const disposers = new Map();
/** @type {Map<string, (data: any) => any>} */ const pruners = new Map();
/** @type {Map<string, any>} */ const dataMap = new Map();
/** @type {Map<string, Function[]>} */ const listeners = new Map();
/** @type {Map<string, Map<string, Function[]>>} */ const ctxListeners = new Map();
/** @type {string | undefined} */ let currentFirstInvalidatedBy;

// ---- socket -------------------------------------------------------------------------

/** @type {WebSocket | undefined} */ let socket;
/** @type {string[]} */ const outbox = [];
let unloading = false;
addEventListener("beforeunload", () => (unloading = true));

/** @param {string} url @param {boolean} fallback */
function connect(url, fallback) {
  const ws = new WebSocket(url, "vite-hmr");
  let opened = false;
  ws.addEventListener("open", () => {
    opened = true;
    socket = ws;
    if (fallback) console.info("[vite] connected through the direct address fallback.");
    notify("vite:ws:connect", { webSocket: ws });
    flush();
  });
  ws.addEventListener("message", ({ data }) => {
    try {
      enqueue(JSON.parse(data));
    } catch (e) {
      console.error("[vite] bad message", e);
    }
  });
  ws.addEventListener("close", () => {
    if (!opened) {
      // Like Vite: the configured address failed on the first try, so try the server's
      // own address once (a proxy or port mapping that does not pass WebSockets).
      if (!fallback && directUrl !== url) return connect(directUrl, true);
      console.error(`[vite] failed to connect to websocket (${url.replace(/\?.*/, "")}).`);
      return;
    }
    socket = undefined;
    notify("vite:ws:disconnect", { webSocket: ws });
    if (!unloading) {
      console.log("[vite] server connection lost. Polling for restart...");
      waitForServer(url.replace(/\?.*/, "")).then(() => location.reload());
    }
  });
}

function flush() {
  if (socket?.readyState !== WebSocket.OPEN) return;
  for (const m of outbox.splice(0)) socket.send(m);
}

/** @param {string} msg */
function send(msg) {
  outbox.push(msg);
  flush();
}

// Heartbeat (Vite's default interval); the server ignores the content.
setInterval(() => socket?.readyState === WebSocket.OPEN && socket.send('{"type":"ping"}'), 30e3);

/** Open a `vite-ping` socket every second while the tab is visible; resolve once one opens.
 * @param {string} url */
async function waitForServer(url) {
  const ping = () =>
    new Promise((resolve) => {
      const ws = new WebSocket(url, "vite-ping");
      ws.onopen = () => (resolve(true), ws.close());
      ws.onerror = () => resolve(false);
    });
  const visible = () =>
    new Promise((resolve) => {
      const check = () => {
        if (document.visibilityState !== "visible") return;
        document.removeEventListener("visibilitychange", check);
        resolve(undefined);
      };
      document.addEventListener("visibilitychange", check);
      check();
    });
  for (;;) {
    await visible();
    if (await ping()) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---- payloads -----------------------------------------------------------------------

let queue = Promise.resolve();
/** Every payload goes through one queue so updates apply in the order they were sent.
 * @param {any} p */
function enqueue(p) {
  queue = queue.then(() => handle(p)).catch((e) => console.error("[vite]", e));
}

let firstUpdate = true;
let reloadTimer = 0;
/** The `hotserve:reload` data that came just before a full-reload: why it reloads. */
let reloadReason = /** @type {any} */ (undefined);
// Several reloads in a row (many files saved at once) collapse into one.
const reload = () => (clearTimeout(reloadTimer), (reloadTimer = setTimeout(() => location.reload(), 20)));

/** @param {any} p */
async function handle(p) {
  switch (p.type) {
    case "connected":
      log("connected.");
      break;
    case "update":
      await notify("vite:beforeUpdate", p);
      // An overlay before the first update means the page failed to load at all; only a
      // reload can recover it.
      if (firstUpdate && overlays().length) return location.reload();
      firstUpdate = false;
      clearOverlay();
      for (const apply of await Promise.all(
        p.updates.map((/** @type {any} */ u) => (u.type === "js-update" ? fetchUpdate(u) : swapCss(u))),
      ))
        apply?.();
      await notify("vite:afterUpdate", p);
      break;
    case "full-reload": {
      const why = reloadReason;
      reloadReason = undefined;
      await notify("vite:beforeFullReload", p);
      if (!p.path || !/\.html?$/.test(p.path) || showing(p.path)) {
        // Say why before the page goes (kept with the console's "Preserve log").
        console.info("[vite] page reload:", why?.message ?? p.triggeredBy ?? p.path ?? "requested");
        reload();
      }
      break;
    }
    case "prune":
      await notify("vite:beforePrune", p);
      for (const path of p.paths) await disposers.get(path)?.(dataMap.get(path));
      for (const path of p.paths) await pruners.get(path)?.(dataMap.get(path));
      break;
    case "error":
      await notify("vite:error", p);
      clearOverlay();
      document.body.appendChild(new ErrorOverlay(p.err));
      break;
    case "custom":
      if (p.event === "hotserve:assets") swapAssets(p.data);
      // Why the full-reload that follows reloads (hotserve's own payload).
      if (p.event === "hotserve:reload") reloadReason = p.data;
      await notify(p.event, p.data);
      break;
    // "ping" and anything unknown: nothing to do.
  }
}

/** Whether this page shows the HTML file at `file` (`/` and `/index.html` are one page).
 * @param {string} file */
function showing(file) {
  let page = decoded(location.pathname);
  if (page.endsWith("/")) page += "index.html";
  // A single-page app serves the root index.html for routes without a file extension.
  return page === file || (!!cfg.spa && file === "/index.html" && !/\.[^/]*$/.test(page));
}

/** @param {string} event @param {any} data */
async function notify(event, data) {
  await Promise.allSettled((listeners.get(event) || []).map((fn) => fn(data)));
}

/** Links already replaced by a fresh clone, waiting for it to load. */
const outdated = new WeakSet();

/** Swap each `<link>` whose href contains the path (on this server) for a fresh clone; the
 * old one goes only once the new one has loaded (or failed), so the page never shows
 * unstyled.
 * @param {{path: string, timestamp: number}} u */
async function swapCss({ path, timestamp }) {
  const links = [...document.querySelectorAll("link")].filter((el) => {
    const url = el.href && new URL(el.href);
    return url && url.origin === here.origin && !outdated.has(el) && decoded(url.pathname).includes(path);
  });
  await Promise.all(
    links.map(
      (el) =>
        new Promise((resolve) => {
          const url = new URL(el.href);
          url.searchParams.delete("t");
          const fresh = /** @type {HTMLLinkElement} */ (el.cloneNode());
          fresh.href = new URL(injectQuery(url.pathname + url.search, `t=${timestamp}`), url).href;
          const done = () => (el.remove(), log(`css hot updated: ${path}`), resolve(undefined));
          fresh.addEventListener("load", done);
          fresh.addEventListener("error", done);
          outdated.add(el);
          el.after(fresh);
        }),
    ),
  );
}

// ---- in-place assets (hotserve's own payload: a `custom` event, so the wire stays Vite's) --

/** Point every element that shows one of the changed files (`<img src>`, `srcset` of
 * `<img>` and `<picture><source>`, `<video poster>`, icons, inline `style` URLs) at a fresh
 * copy: no reload, so scroll position, form input and script state stay. A page that loaded
 * such a file some other way (a `fetch`, a `<style>` element) reloads, since it would
 * otherwise keep showing the old file.
 * @param {{timestamp: number, assets: {path: string, sheets: string[]}[]}} data */
function swapAssets({ timestamp, assets }) {
  for (const { path, sheets } of assets) {
    /** The attribute value pointing at a fresh copy, or `null` when it names another file.
     * @param {string | null} value */
    const fresh = (value) => {
      if (!value) return null;
      const url = new URL(value, document.baseURI);
      if (url.origin !== here.origin || decoded(url.pathname) !== path) return null;
      url.searchParams.delete("t");
      return injectQuery(url.pathname + url.search, `t=${timestamp}`) + url.hash;
    };
    let swapped = 0;
    /** @param {Element} el @param {string} name @param {(v: string) => string | null} edit */
    const update = (el, name, edit) => {
      const value = el.getAttribute(name);
      const next = value === null ? null : edit(value);
      if (next !== null && next !== value) (el.setAttribute(name, next), swapped++);
    };
    for (const el of document.querySelectorAll("img[src], input[type=image][src]")) update(el, "src", fresh);
    for (const el of document.querySelectorAll("video[poster]")) update(el, "poster", fresh);
    for (const el of document.querySelectorAll("link[href]")) {
      if (/\bicon\b/i.test(el.getAttribute("rel") || "")) update(el, "href", fresh);
    }
    for (const el of document.querySelectorAll("img[srcset], source[srcset]")) {
      update(el, "srcset", (v) => freshSrcset(v, fresh));
    }
    for (const el of document.querySelectorAll("[style]")) {
      const style = /** @type {HTMLElement} */ (el).style;
      for (const name of [...style]) {
        // The browser serializes every URL in a declared value as url("..."), escaped.
        const value = style.getPropertyValue(name);
        const next = value.replace(/url\("((?:[^"\\]|\\.)*)"\)/g, (whole, raw) => {
          const url = fresh(raw.replace(/\\(.)/g, "$1"));
          return url === null ? whole : `url(${JSON.stringify(url)})`;
        });
        if (next !== value) (style.setProperty(name, next, style.getPropertyPriority(name)), swapped++);
      }
    }
    // Stylesheets that use the file are swapped by the same change: `<link>`s by its
    // `css-update`s, the `<style>`s of imported stylesheets by re-importing their modules.
    const sheetHere = sheets.some(
      (sheet) =>
        [...document.querySelectorAll("link[href]")].some((el) => {
          const url = new URL(/** @type {HTMLLinkElement} */ (el).href);
          return url.origin === here.origin && decoded(url.pathname) === sheet;
        }) ||
        [...document.querySelectorAll("style[data-vite-dev-id]")].some(
          (el) => el.getAttribute("data-vite-dev-id") === sheet,
        ),
    );
    if (swapped) log(`asset hot updated: ${path}`);
    else if (!sheetHere && loadedHere(path)) {
      log(`${path} changed and this page loaded it in a way that cannot be swapped; reloading.`);
      return reload();
    }
  }
}

/** `srcset` with the candidates `fresh` recognizes replaced; descriptors kept.
 * @param {string} srcset @param {(url: string) => string | null} fresh */
function freshSrcset(srcset, fresh) {
  // Candidates: a URL (no spaces; trailing commas end it), optional descriptors, a comma.
  return srcset.replace(/(^|,)(\s*)([^\s,][^\s]*?)(,*)(?=\s|$)/g, (whole, lead, space, url, commas) => {
    const next = fresh(url);
    return next === null ? whole : `${lead}${space}${next}${commas}`;
  });
}

/** Whether this page fetched the file at `path` from this server (resource timing).
 * @param {string} path */
function loadedHere(path) {
  return performance.getEntriesByType("resource").some((entry) => {
    const url = new URL(entry.name);
    return url.origin === here.origin && decoded(url.pathname) === path;
  });
}

/** @param {string} path */
function decoded(path) {
  try {
    return decodeURI(path);
  } catch {
    return path;
  }
}

/** Dispose the accepted module, import its new version, and return a function that runs
 * the boundary's accept callbacks (run in payload order once every import has finished).
 * @param {{path: string, acceptedPath: string, timestamp: number,
 *   explicitImportRequired?: boolean, isWithinCircularImport?: boolean,
 *   firstInvalidatedBy?: string}} u */
async function fetchUpdate(u) {
  const { path, acceptedPath, timestamp } = u;
  const callbacks = (hotModules.get(path) || []).filter((c) => c.deps.includes(acceptedPath));
  // Not loaded on this page, or nothing accepts this module here: nothing to do.
  if (!callbacks.length) return;
  await disposers.get(acceptedPath)?.(dataMap.get(acceptedPath));
  const [file, search] = acceptedPath.split("?");
  let mod;
  try {
    mod = await import(`${file}?${u.explicitImportRequired ? "import&" : ""}t=${timestamp}${search ? `&${search}` : ""}`);
  } catch (e) {
    console.error(e);
    console.error(`[hmr] Failed to reload ${acceptedPath}. See the errors above.`);
    if (u.isWithinCircularImport) reload();
    return;
  }
  return () => {
    currentFirstInvalidatedBy = u.firstInvalidatedBy;
    try {
      for (const { deps, fn } of callbacks) fn(deps.map((d) => (d === acceptedPath ? mod : undefined)));
    } finally {
      currentFirstInvalidatedBy = undefined;
    }
    log(`hot updated: ${path === acceptedPath ? path : `${acceptedPath} via ${path}`}`);
  };
}

// ---- import.meta.hot ----------------------------------------------------------------

/** The `import.meta.hot` object of the module served at `ownerPath`. A module that is
 * re-imported gets a new context: its old accept callbacks and listeners are dropped, its
 * `data` is kept.
 * @param {string} ownerPath */
export function createHotContext(ownerPath) {
  if (!dataMap.has(ownerPath)) dataMap.set(ownerPath, {});
  hotModules.set(ownerPath, []);
  for (const [event, stale] of ctxListeners.get(ownerPath) || []) {
    const kept = (listeners.get(event) || []).filter((fn) => !stale.includes(fn));
    listeners.set(event, kept);
  }
  /** @type {Map<string, Function[]>} */ const own = new Map();
  ctxListeners.set(ownerPath, own);
  /** @param {string[]} deps @param {(mods: any[]) => void} fn */
  const acceptDeps = (deps, fn) => hotModules.get(ownerPath)?.push({ deps, fn });
  /** @param {Map<string, Function[]>} map @param {string} event @param {Function} fn @param {boolean} add */
  const edit = (map, event, fn, add) => {
    const list = (map.get(event) || []).filter((f) => add || f !== fn);
    if (add) list.push(fn);
    list.length ? map.set(event, list) : map.delete(event);
  };
  return {
    get data() {
      return dataMap.get(ownerPath);
    },
    /** @param {any} [deps] @param {Function} [cb] */
    accept(deps, cb) {
      if (typeof deps === "function" || !deps) acceptDeps([ownerPath], ([m]) => deps?.(m));
      else if (typeof deps === "string") acceptDeps([deps], ([m]) => cb?.(m));
      else if (Array.isArray(deps)) acceptDeps(deps, (mods) => cb?.(mods));
      else throw new Error("invalid hot.accept() usage.");
    },
    /** Export names matter to the server only; here it is a self-accept.
     * @param {string | string[]} _ @param {Function} [cb] */
    acceptExports(_, cb) {
      acceptDeps([ownerPath], ([m]) => cb?.(m));
    },
    /** @param {(data: any) => any} cb */
    dispose: (cb) => void disposers.set(ownerPath, cb),
    /** @param {(data: any) => any} cb */
    prune: (cb) => void pruners.set(ownerPath, cb),
    decline() {},
    /** Ask the server to update this module's importers instead.
     * @param {string} [message] */
    invalidate(message) {
      const firstInvalidatedBy = currentFirstInvalidatedBy ?? ownerPath;
      const data = { path: ownerPath, message, firstInvalidatedBy };
      notify("vite:invalidate", data);
      this.send("vite:invalidate", data);
      log(`invalidate ${ownerPath}${message ? `: ${message}` : ""}`);
    },
    /** @param {string} event @param {Function} cb */
    on(event, cb) {
      edit(listeners, event, cb, true);
      edit(own, event, cb, true);
    },
    /** @param {string} event @param {Function} cb */
    off(event, cb) {
      edit(listeners, event, cb, false);
      edit(own, event, cb, false);
    },
    /** Send a custom event to the server (queued until the socket is open).
     * @param {string} event @param {any} [data] */
    send: (event, data) => send(JSON.stringify({ type: "custom", event, data })),
  };
}

// ---- helpers exported for compatibility with Vite's client --------------------------

/** @type {Map<string, HTMLStyleElement>} */ const styles = new Map();
// A page with a Content-Security-Policy names its nonce in <meta property="csp-nonce">.
const nonce = /** @type {HTMLMetaElement | null} */ (globalThis.document?.querySelector("meta[property=csp-nonce]"))?.nonce;

/** Create or replace the `<style>` element of a CSS module.
 * @param {string} id @param {string} css */
export function updateStyle(id, css) {
  let el = styles.get(id);
  if (!el) {
    el = document.createElement("style");
    el.setAttribute("type", "text/css");
    el.setAttribute("data-vite-dev-id", id);
    if (nonce) el.setAttribute("nonce", nonce);
    document.head.appendChild(el);
    styles.set(id, el);
  }
  el.textContent = css;
}

/** @param {string} id */
export function removeStyle(id) {
  styles.get(id)?.remove();
  styles.delete(id);
}

/** Add `query` first in the query string of a relative or root-relative URL; other URLs
 * are returned unchanged.
 * @param {string} url @param {string} query */
export function injectQuery(url, query) {
  if (url[0] !== "." && url[0] !== "/") return url;
  const { search, hash } = new URL(url, "http://x");
  return `${url.replace(/[?#].*$/, "")}?${query}${search ? `&${search.slice(1)}` : ""}${hash}`;
}

// ---- error overlay ------------------------------------------------------------------

const overlayTag = "vite-error-overlay";
const overlays = () => document.querySelectorAll(overlayTag);
const clearOverlay = () => overlays().forEach((el) => /** @type {ErrorOverlay} */ (el).close());

const template = `<style>
:host{position:fixed;inset:0;z-index:99999;font:14px/1.5 ui-monospace,Menlo,Consolas,monospace}
.backdrop{position:fixed;inset:0;overflow-y:auto;background:#000a}
.window{max-width:800px;margin:30px auto;padding:24px 36px;background:#181818;color:#d8d8d8;
border-top:8px solid #f55;border-radius:6px;box-shadow:0 19px 38px #0005}
pre{margin:0 0 1em;white-space:pre-wrap;word-break:break-word}
.message{color:#f55;font-weight:600}.plugin{color:#cfa4ff}.file{color:#2dd9da}
.frame{color:#e2aa53}.stack{color:#c9c9c9;font-size:13px}.tip{color:#999;font-size:13px}
</style><div class=backdrop part=backdrop><div class=window part=window>
<pre class=message part=message><span class=plugin></span><span class=body></span></pre>
<pre class=file part=file></pre><pre class=frame part=frame></pre>
<pre class=stack part=stack></pre>
<div class=tip part=tip>Click outside, press Esc, or fix the code to dismiss.</div></div></div>`;

// Outside a window (a worker importing the client) there is no HTMLElement to extend.
const Base = globalThis.HTMLElement || /** @type {any} */ (class {});

/** The error overlay: a `<vite-error-overlay>` element whose shadow DOM shows the error.
 * Everything from the payload is set as text, never parsed as HTML. */
export class ErrorOverlay extends Base {
  /** @param {{message?: string, stack?: string, id?: string, frame?: string,
   *   plugin?: string, loc?: {file?: string, line: number, column: number}}} err */
  constructor(err) {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = template;
    /** @param {string} sel @param {string | undefined} text */
    const put = (sel, text) => {
      const el = root.querySelector(sel);
      if (el && text) el.textContent = text;
    };
    put(".plugin", err.plugin && `[plugin:${err.plugin}] `);
    put(".body", String(err.message || "").trim());
    const file = (err.loc?.file || err.id || "").split("?")[0];
    put(".file", err.loc ? `${file || "unknown file"}:${err.loc.line}:${err.loc.column}` : file);
    put(".frame", err.frame?.trim());
    put(".stack", err.stack);
    root.querySelector(".window")?.addEventListener("click", (e) => e.stopPropagation());
    this.addEventListener("click", () => this.close());
    /** @param {KeyboardEvent} e */
    this.onKey = (e) => e.key === "Escape" && this.close();
    document.addEventListener("keydown", this.onKey);
  }

  close() {
    this.remove();
    document.removeEventListener("keydown", this.onKey);
  }
}
if (globalThis.customElements && !customElements.get(overlayTag)) customElements.define(overlayTag, ErrorOverlay);

log("connecting...");
connect(primaryUrl, false);

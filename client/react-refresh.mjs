// React Fast Refresh for hotserve, served at /@react-refresh.
//
// Pages load this module first (a tag right after the HMR client's), so that the refresh
// runtime sits in React's global hook before react-dom starts: react-dom looks for the
// hook once, when it is first evaluated. Compiled .jsx/.tsx modules import it to register
// their components, and their `import.meta.hot.accept` callback hands each new version here.
//
// The runtime itself is the project's own (the server puts its URL in place of the
// specifier below): the copy that @vitejs/plugin-react ships (what create-vite's React
// templates install) or the `react-refresh` package (CommonJS, pre-bundled by the server).
import * as installed from "__HOTSERVE_REFRESH_RUNTIME__";

/** The runtime's functions: named exports of an ES module, or `module.exports` of a
 * CommonJS one. */
const runtime = typeof installed.register === "function" ? installed : installed.default;

runtime.injectIntoGlobalHook(window);
// Code compiled with refresh calls that is not ours (a library built that way) still runs.
window.$RefreshReg$ ??= () => {};
window.$RefreshSig$ ??= () => (type) => type;

/** The name a module keeps across versions: its URL without hotserve's query parameters.
 * @param {string} url */
function moduleId(url) {
  const parsed = new URL(url);
  parsed.searchParams.delete("t");
  parsed.searchParams.delete("import");
  return parsed.pathname + parsed.search;
}

/** `$RefreshReg$` of a compiled module: a component declared in it, under its local name.
 * @param {unknown} type @param {string} url @param {string} name */
export function register(type, url, name) {
  runtime.register(type, `${moduleId(url)} ${name}`);
}

/** `$RefreshSig$` of a compiled module: tracks the hooks a component calls, so a change
 * of them remounts it instead of keeping state that no longer fits. */
export function signature() {
  return runtime.createSignatureFunctionForTransform();
}

/** Register the exports of a module version that are components: an export such as
 * `memo(App)` is not declared as a component in the file, so `$RefreshReg$` misses it.
 * @param {string} url @param {Record<string, unknown>} exports */
export function registerExports(url, exports) {
  const id = moduleId(url);
  if (runtime.registerExportsForReactRefresh) {
    runtime.registerExportsForReactRefresh(id, exports);
    return;
  }
  for (const [key, value] of Object.entries(exports)) {
    if (runtime.isLikelyComponentType(value)) runtime.register(value, `${id} export ${key}`);
  }
}

/** Why `next` cannot replace `previous` in place, or `null` when it can: the export names
 * stay the same, and each export is a component or a value that did not change. Otherwise
 * the importers have to run again, since they may hold the old values.
 * @param {Record<string, unknown>} previous @param {Record<string, unknown>} next */
function refusal(previous, next) {
  const names = Object.keys(next);
  if (names.length === 0) return "the module exports nothing";
  for (const name of Object.keys(previous)) {
    if (!(name in next)) return `the export "${name}" was removed`;
  }
  for (const name of names) {
    if (!(name in previous)) return `the export "${name}" is new`;
    const value = next[name];
    if (!runtime.isLikelyComponentType(value) && value !== previous[name]) {
      return `the export "${name}" is not a React component`;
    }
  }
  return null;
}

let pending = 0;

/** Re-render the changed components once every module of one update has run. */
function scheduleRefresh() {
  clearTimeout(pending);
  pending = setTimeout(() => runtime.performReactRefresh(), 16);
}

/** The accept callback of a compiled module: `previous` is the version that registered it,
 * `next` the version just imported (undefined when it failed to load: the overlay says why,
 * and the page keeps running the last good version).
 * @param {{ invalidate(message?: string): void }} hot @param {string} url
 * @param {Record<string, unknown>} previous @param {Record<string, unknown> | undefined} next */
export function update(hot, url, previous, next) {
  if (!next) return;
  const id = moduleId(url);
  registerExports(url, next);
  // plugin-react's runtime decides with its own rules (and schedules the refresh itself).
  const why = runtime.validateRefreshBoundaryAndEnqueueUpdate
    ? runtime.validateRefreshBoundaryAndEnqueueUpdate(id, previous, next)
    : refusal(previous, next);
  if (why) {
    hot.invalidate(`Fast Refresh cannot update ${id} in place: ${why}`);
    return;
  }
  if (!runtime.validateRefreshBoundaryAndEnqueueUpdate) scheduleRefresh();
}

// Preact Fast Refresh for hotserve, served at /@prefresh.
//
// Pages load this module right after the HMR client, so that @prefresh/core has hooked
// into Preact's options before the first component renders. Compiled .jsx/.tsx modules
// import it to register their components and the hooks each one calls, and their
// `import.meta.hot.accept` callback hands each new version here. @prefresh/core and
// @prefresh/utils are the project's own (create-vite's Preact templates install them
// through @preact/preset-vite), imported by name and resolved when this file is served.
import "@prefresh/core";
import { flush, isComponent } from "@prefresh/utils";

/** The name a module keeps across versions: its URL without hotserve's query parameters.
 * @param {string} url */
function moduleId(url) {
  const parsed = new URL(url);
  parsed.searchParams.delete("t");
  parsed.searchParams.delete("import");
  return parsed.pathname + parsed.search;
}

/** `$RefreshReg$` of a compiled module: a component declared in it, under its local name.
 * A second version under the same name becomes a pending replacement.
 * @param {unknown} type @param {string} url @param {string} name */
export function register(type, url, name) {
  self.__PREFRESH__.register(type, `${moduleId(url)} ${name}`);
}

/** `$RefreshSig$` of a compiled module, for one component. The compiled code calls the
 * returned function once with the component, its hooks' key and whether to reset, and then
 * once per render without arguments, when custom hooks can be asked for their own keys. */
export function signature() {
  let component;
  let customHooks = false;
  let collected = false;
  return (type, key, forceReset, getCustomHooks) => {
    if (typeof key === "string") {
      if (!component) {
        component = type;
        customHooks = typeof getCustomHooks === "function";
      }
      if (type != null) self.__PREFRESH__.sign(type, key, forceReset, getCustomHooks, "begin");
    } else if (customHooks && !collected) {
      collected = true;
      self.__PREFRESH__.sign(component, undefined, undefined, undefined, "needsHooks");
    }
    return type;
  };
}

/** Prefresh knows components only through `$RefreshReg$`: nothing more to register. */
export function registerExports() {}

/** The accept callback of a compiled module: `previous` is the version that registered it,
 * `next` the version just imported (undefined when it failed to load: the overlay says why,
 * and the page keeps running the last good version). As with React, a module that exports
 * something other than components, changed, sends the update to its importers.
 * @param {{ invalidate(message?: string): void }} hot @param {string} url
 * @param {Record<string, unknown>} previous @param {Record<string, unknown> | undefined} next */
export function update(hot, url, previous, next) {
  if (!next) return;
  const changed = Object.keys(next).find(
    (name) => !(name in previous) || (!isComponent(next[name]) && next[name] !== previous[name]),
  );
  const removed = Object.keys(previous).find((name) => !(name in next));
  const why = removed ?? changed;
  if (why !== undefined) {
    hot.invalidate(`Fast Refresh cannot update ${moduleId(url)} in place: the export "${why}" changed`);
    return;
  }
  try {
    flush();
  } catch (err) {
    console.error("[hotserve] Preact refresh failed, reloading:", err);
    location.reload();
  }
}

//! The runtime helpers compiled modules import from [`HELPERS_BASE`]`/helpers/<name>`.
//!
//! With the options hotserve compiles with (no syntax lowering except what a tsconfig asks
//! for), only legacy decorators and `useDefineForClassFields: false` need helpers. They are
//! written here, small and dependency-free, rather than requiring `@oxc-project/runtime` in
//! every project. A helper not written here answers with a module that fails with a message
//! naming it, so the page says what is missing instead of failing to resolve a URL.

pub(crate) use super::script::HELPERS_BASE;

/// The module for the helper at `path` (`/@hotserve/runtime/helpers/decorate`), or `None` if
/// `path` is not under the helpers' URL.
pub(crate) fn module_for(path: &str) -> Option<String> {
    let name = path
        .strip_prefix(HELPERS_BASE)?
        .strip_prefix("/helpers/")?
        .trim_end_matches(".js");
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some(match body(name) {
        Some(body) => body.to_owned(),
        None => format!(
            "throw new Error({});\n",
            serde_json::Value::from(format!(
                "hotserve does not provide the compiler helper \"{name}\" that this module \
                 needs; please report it with the code that needs it"
            ))
        ),
    })
}

fn body(name: &str) -> Option<&'static str> {
    Some(match name {
        // TypeScript's legacy decorators: called with (decorators, class) for a class, and
        // with (decorators, prototype or class, key, descriptor) for a member, where the
        // descriptor is `null` for methods/accessors (read it) and `undefined` for fields
        // (defined only if a decorator returns a descriptor). Decorators apply last to
        // first, each getting what the previous one returned.
        "decorate" => {
            r#"export default function decorate(decorators, target, key, descriptor) {
  const member = arguments.length > 2;
  let value = !member ? target
    : descriptor === null ? Object.getOwnPropertyDescriptor(target, key)
    : descriptor;
  for (let i = decorators.length - 1; i >= 0; i--) {
    const decorator = decorators[i];
    if (!decorator) continue;
    const result = member ? decorator(target, key, value) : decorator(value);
    if (result) value = result;
  }
  if (member && value) Object.defineProperty(target, key, value);
  return value;
}
"#
        }
        "decorateParam" => {
            r#"export default function decorateParam(index, decorator) {
  return (target, key) => decorator(target, key, index);
}
"#
        }
        "decorateMetadata" => {
            r#"export default function decorateMetadata(key, value) {
  if (typeof Reflect === "object" && typeof Reflect.metadata === "function") {
    return Reflect.metadata(key, value);
  }
}
"#
        }
        "toPropertyKey" => {
            r#"export default function toPropertyKey(value) {
  return typeof value === "symbol" ? value : String(value);
}
"#
        }
        "defineProperty" => {
            r#"export default function defineProperty(target, key, value) {
  Object.defineProperty(target, typeof key === "symbol" ? key : String(key), {
    value, enumerable: true, configurable: true, writable: true,
  });
  return target;
}
"#
        }
        // Loose private fields: a unique string key on the instance, non-enumerable.
        "classPrivateFieldLooseKey" => {
            r#"let next = 0;
export default function classPrivateFieldLooseKey(name) {
  return "__private_" + next++ + "_" + name;
}
"#
        }
        "classPrivateFieldLooseBase" => {
            r#"export default function classPrivateFieldLooseBase(receiver, key) {
  if (!Object.prototype.hasOwnProperty.call(receiver, key)) {
    throw new TypeError("attempted to use private field on non-instance");
  }
  return receiver;
}
"#
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_helpers_are_modules_with_a_default_export() {
        for name in [
            "decorate",
            "decorateParam",
            "decorateMetadata",
            "defineProperty",
        ] {
            let module = module_for(&format!("/@hotserve/runtime/helpers/{name}")).unwrap();
            assert!(module.contains(&format!("export default function {name}(")));
        }
    }

    #[test]
    fn an_unknown_helper_is_a_module_that_names_it() {
        let module = module_for("/@hotserve/runtime/helpers/usingCtx").unwrap();
        assert!(module.starts_with("throw new Error("), "{module}");
        assert!(module.contains("\\\"usingCtx\\\""), "{module}");
    }

    #[test]
    fn paths_outside_the_helpers_or_with_odd_names_are_not_helpers() {
        for path in [
            "/@hotserve/runtime/decorate",
            "/@hotserve/runtime/helpers/",
            "/@hotserve/runtime/helpers/../x",
            "/@hotserve/runtime/helpers/a/b",
            "/src/decorate",
        ] {
            assert_eq!(module_for(path), None, "{path}");
        }
    }
}

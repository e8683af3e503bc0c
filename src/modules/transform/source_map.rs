//! Source maps travel inside the module they describe, as a `data:` URL in the last line.
//!
//! Inline rather than a separate `.map` URL: the map is always the one of the code it came
//! with (no second request that could see a newer save), and nothing else needs routing. The
//! hot-context preamble and the `?t=` rewrites never add or remove lines, so a map made for
//! the transform's output stays right, line for line, for what is sent.

use base64::Engine;

/// Appends `//# sourceMappingURL=data:...` for `map_json` to `code`.
pub(crate) fn inline(code: &mut String, map_json: &str) {
    if !code.is_empty() && !code.ends_with('\n') {
        code.push('\n');
    }
    code.push_str("//# sourceMappingURL=data:application/json;charset=utf-8;base64,");
    code.push_str(&base64::engine::general_purpose::STANDARD.encode(map_json));
    code.push('\n');
}

/// Appends `/*# sourceMappingURL=data:... */` for `map_json` to the stylesheet `code`.
pub(crate) fn inline_css(code: &mut String, map_json: &str) {
    if !code.is_empty() && !code.ends_with('\n') {
        code.push('\n');
    }
    code.push_str("/*# sourceMappingURL=data:application/json;charset=utf-8;base64,");
    code.push_str(&base64::engine::general_purpose::STANDARD.encode(map_json));
    code.push_str(" */\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inlined_map_is_a_base64_data_url_on_its_own_last_line() {
        let mut code = String::from("let a = 1;");
        inline(&mut code, r#"{"version":3}"#);
        assert_eq!(
            code,
            "let a = 1;\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,\
             eyJ2ZXJzaW9uIjozfQ==\n"
        );
    }
}

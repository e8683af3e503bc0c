//! The module scripts of an HTML page: where the start-up crawl begins, and the inline
//! blocks whose imports a served page gets resolved. A small scanner, not an HTML parser:
//! `<script` tags with their attributes in any quoting and case.

/// The `src` of each `<script type="module">` in `html`, and where the code of inline ones
/// lies in it.
pub(crate) fn module_scripts(html: &str) -> (Vec<String>, Vec<std::ops::Range<usize>>) {
    let lower = html.to_ascii_lowercase();
    let mut sources = Vec::new();
    let mut inline = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find("<script") {
        let start = at + found + "<script".len();
        let Some(close) = lower[start..].find('>') else {
            break;
        };
        let tag = &html[start..start + close];
        let body_start = start + close + 1;
        let body_end = lower[body_start..]
            .find("</script")
            .map_or(html.len(), |i| body_start + i);
        at = body_end;
        let attrs = attributes(tag);
        let is_module = attrs
            .iter()
            .any(|(k, v)| k == "type" && v.eq_ignore_ascii_case("module"));
        if !is_module {
            continue;
        }
        match attrs.into_iter().find(|(k, _)| k == "src") {
            Some((_, src)) => sources.push(src),
            None => inline.push(body_start..body_end),
        }
    }
    (sources, inline)
}

/// The attributes of a start tag's inside, names lowercased, values unquoted.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = tag.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'/')
        {
            i += 1;
        }
        if name_start == i {
            break;
        }
        let name = tag[name_start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && matches!(bytes[i], b'"' | b'\'') {
                let quote = bytes[i];
                let start = i + 1;
                let end = tag[start..]
                    .find(quote as char)
                    .map_or(tag.len(), |e| start + e);
                value = tag[start..end].to_owned();
                i = end + 1;
            } else {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = tag[start..i].to_owned();
            }
        }
        out.push((name, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_scripts_are_found_with_any_quoting_and_case() {
        let html = "<script src=/classic.js></script>\n\
                    <SCRIPT TYPE=module SRC=\"/src/main.jsx\"></SCRIPT>\n\
                    <script type='module'>import 'react';</script>\n\
                    <script async type=\"module\" src='./b.js?x=1'/></script>";
        let (sources, inline) = module_scripts(html);
        assert_eq!(sources, ["/src/main.jsx", "./b.js?x=1"]);
        let code: Vec<&str> = inline.into_iter().map(|range| &html[range]).collect();
        assert_eq!(code, ["import 'react';"]);
    }
}

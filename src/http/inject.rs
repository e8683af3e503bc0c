//! Put the client's `<script>` into served HTML pages.
//!
//! The tag goes at the top of `<head>` so the client loads before the page's own modules.
//! Finding `<head>` takes a small scanner rather than a substring search: `<header>`,
//! comments, quoted attribute values and the text of `<script>`/`<style>`/`<title>` may all
//! contain `<head`. Pages without a head get the tag after `<html ...>`, else after a
//! leading `<!doctype ...>`, else at the very start; never after `</html>` (which would
//! put it outside the document, a mistake other dev servers make).

use std::path::Path;

/// The tag inserted into every served page.
pub(crate) const CLIENT_TAG: &str = concat!(
    r#"<script type="module" src=""#,
    crate::client::client_path!(),
    r#""></script>"#
);

/// Whether a file is an HTML page that gets the client (`.html`, `.htm`, any case).
pub(crate) fn is_html(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
}

/// The entity tag of a page served with the client (and `preamble`, the refresh runtime's
/// tag, if any), whose inline modules import packages of `deps_version`: the file's tag
/// with markers, so a copy cached with other tags or package URLs is never taken for this
/// one.
pub(crate) fn injected_etag(
    etag: &str,
    preamble: Option<&str>,
    deps_version: Option<&str>,
) -> String {
    let refresh = if preamble.is_some() { "-refresh" } else { "" };
    let version = deps_version.map(|v| format!("-{v}")).unwrap_or_default();
    format!("{}-hmr{refresh}{version}\"", etag.trim_end_matches('"'))
}

/// `html` with [`CLIENT_TAG`] inserted once. The result is always
/// `html.len() + CLIENT_TAG.len()` bytes long.
pub(crate) fn inject_client(html: &[u8]) -> Vec<u8> {
    inject_page(html, None)
}

/// How many bytes [`inject_page`] adds.
pub(crate) fn injected_len(preamble: Option<&str>) -> usize {
    CLIENT_TAG.len() + preamble.map_or(0, str::len)
}

/// `html` with [`CLIENT_TAG`] inserted once, followed by `preamble` (the Fast Refresh
/// runtime's tag), which must run before the page's own modules.
pub(crate) fn inject_page(html: &[u8], preamble: Option<&str>) -> Vec<u8> {
    let at = insertion_point(html);
    let mut out = Vec::with_capacity(html.len() + injected_len(preamble));
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(CLIENT_TAG.as_bytes());
    out.extend_from_slice(preamble.unwrap_or_default().as_bytes());
    out.extend_from_slice(&html[at..]);
    out
}

/// Elements whose content is text, not markup: a `<head` inside them is not a tag.
const RAW_TEXT: [&[u8]; 9] = [
    b"script",
    b"style",
    b"title",
    b"textarea",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
];

fn insertion_point(html: &[u8]) -> usize {
    // Never insert before a byte order mark: it must stay first to be recognized.
    let start = if html.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut after_doctype = None;
    let mut after_html = None;
    let mut i = start;
    while let Some(offset) = html[i..].iter().position(|&b| b == b'<') {
        let lt = i + offset;
        let rest = &html[lt..];
        if rest.starts_with(b"<!--") {
            match find(html, lt + 4, b"-->") {
                Some(end) => i = end + 3,
                None => break,
            }
        } else if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            let Some(end) = find(html, lt, b">") else {
                break;
            };
            if after_doctype.is_none() && after_html.is_none() && starts_with_ci(rest, b"<!doctype")
            {
                after_doctype = Some(end + 1);
            }
            i = end + 1;
        } else if rest.starts_with(b"</") {
            let name = tag_name(&rest[2..]);
            // The head (or the whole document) is over: use the best point seen so far.
            if name.eq_ignore_ascii_case(b"html") || name.eq_ignore_ascii_case(b"head") {
                break;
            }
            i = lt + 2;
        } else if rest.get(1).is_some_and(u8::is_ascii_alphabetic) {
            let name = tag_name(&rest[1..]);
            let Some(end) = tag_end(html, lt + 1 + name.len()) else {
                break;
            };
            if name.eq_ignore_ascii_case(b"head") {
                return end;
            }
            if name.eq_ignore_ascii_case(b"body") {
                break;
            }
            if name.eq_ignore_ascii_case(b"html") {
                after_html.get_or_insert(end);
            }
            i = end;
            if let Some(raw) = RAW_TEXT.iter().find(|r| name.eq_ignore_ascii_case(r)) {
                match find_closing(html, end, raw) {
                    Some(close) => i = close,
                    None => break,
                }
            }
        } else {
            i = lt + 1;
        }
    }
    after_html.or(after_doctype).unwrap_or(start)
}

/// The tag name at the start of `bytes` (letters, digits, `-`, `:`).
fn tag_name(bytes: &[u8]) -> &[u8] {
    let len = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b':'))
        .unwrap_or(bytes.len());
    &bytes[..len]
}

/// The index just past the `>` that ends a start tag, skipping quoted attribute values.
fn tag_end(html: &[u8], mut i: usize) -> Option<usize> {
    let mut quote = None;
    while let Some(&b) = html.get(i) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(i + 1),
            None => {}
        }
        i += 1;
    }
    None
}

/// The index of the `</name` that closes a raw-text element opened before `from`.
fn find_closing(html: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut i = from;
    while let Some(lt) = find(html, i, b"</") {
        let after = &html[lt + 2..];
        if starts_with_ci(after, name)
            && after
                .get(name.len())
                .is_none_or(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
        {
            return Some(lt);
        }
        i = lt + 2;
    }
    None
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn starts_with_ci(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn injected(html: &str) -> String {
        let out = inject_client(html.as_bytes());
        assert_eq!(out.len(), html.len() + CLIENT_TAG.len());
        String::from_utf8(out).unwrap()
    }

    /// The input with the tag where `|` stands.
    fn expect(marked: &str) -> String {
        marked.replacen('|', CLIENT_TAG, 1)
    }

    fn check(marked: &str) {
        assert_eq!(injected(&marked.replacen('|', "", 1)), expect(marked));
    }

    #[test]
    fn the_tag_goes_right_after_the_head_open_tag() {
        check("<!doctype html><html><head>|<title>x</title></head><body></body></html>");
    }

    #[test]
    fn head_tags_match_in_any_case_and_with_attributes() {
        check("<HTML><HEAD>|</HEAD></HTML>");
        check("<html><Head data-x=\"a > b\" lang='en'>|<meta charset=utf-8></head>");
        check("<html><head\n  id=h>|</head>");
    }

    #[test]
    fn a_header_element_is_not_a_head() {
        check("<!doctype html><html lang=en>|<body><header>top</header></body></html>");
        check("|<header>x</header>");
    }

    #[test]
    fn head_inside_comments_scripts_and_attributes_before_the_real_one_is_skipped() {
        check("<!-- <head> --><html><head>|</head>");
        check("<script>let s = '<head>';</script><head>|</head>");
        check("<title><head></title><head>|</head>");
        check("<meta content=\"<head>\"><head>|</head>");
        check("<STYLE>a::after{content:'<head>'}</style ><head>|</head>");
    }

    #[test]
    fn without_a_head_the_tag_follows_the_html_open_tag() {
        check("<!doctype html>\n<html lang=\"en\">|\n<body>hi</body></html>");
    }

    #[test]
    fn without_html_or_head_the_tag_follows_a_leading_doctype() {
        check("<!DOCTYPE html>|<meta charset=utf-8><title>404</title><h1>Not found</h1>");
        check("<!doctype html>|<body><head></head></body>");
    }

    #[test]
    fn a_bare_fragment_gets_the_tag_at_the_very_start() {
        check("|<h1>hi</h1>");
        check("|");
        check("|plain text, no markup");
    }

    #[test]
    fn a_byte_order_mark_stays_first() {
        check("\u{feff}|<h1>hi</h1>");
    }

    #[test]
    fn the_tag_never_goes_after_the_closing_html_tag() {
        check("<!doctype html>|</html><head></head>");
        check("|</html><html><head></head>");
    }

    #[test]
    fn an_unterminated_comment_or_script_falls_back_to_the_earlier_points() {
        check("<!doctype html>|<!-- <head>");
        check("<html>|<script><head>");
        check("<html>|<head");
    }

    #[test]
    fn non_utf8_bytes_are_kept_as_they_are() {
        let html = b"<html><head><title>\xff\xfe</title></head>";
        let out = inject_client(html);
        let at = b"<html><head>".len();
        assert_eq!(&out[..at], &html[..at]);
        assert_eq!(&out[at..at + CLIENT_TAG.len()], CLIENT_TAG.as_bytes());
        assert_eq!(&out[at + CLIENT_TAG.len()..], &html[at..]);
    }

    #[test]
    fn html_and_htm_files_of_any_case_are_pages() {
        assert!(is_html(Path::new("index.html")));
        assert!(is_html(Path::new("a/B.HTM")));
        assert!(!is_html(Path::new("style.css")));
        assert!(!is_html(Path::new("html")));
    }

    #[test]
    fn injected_pages_have_their_own_entity_tag() {
        assert_eq!(injected_etag("\"1a-2b\"", None, None), "\"1a-2b-hmr\"");
        assert_eq!(
            injected_etag("\"1a-2b\"", Some("<script></script>"), Some("9f")),
            "\"1a-2b-hmr-refresh-9f\""
        );
    }
}

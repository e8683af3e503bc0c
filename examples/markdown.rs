//! A build tool's transform: `.md` files become JavaScript modules that export their HTML,
//! through [`Config::transform`] and the pulldown-cmark crate. A page imports them like any
//! module; saving a `.md` file hot-updates the importers that accept it.
//!
//! ```sh
//! cargo run --example markdown              # serves a small demo site from a temp folder
//! cargo run --example markdown -- FOLDER    # serves FOLDER, with its .md files as modules
//! ```
//! `cargo test --example markdown` runs the test at the bottom.

use hotserve::{Config, Output, Server, TransformError};
use std::path::{Path, PathBuf};

/// Markdown to a module: `export default` (and `export const html`) the rendered HTML, and
/// `export const headings` for a table of contents. A file that starts a front-matter block
/// (`---`) and never closes it is an error with its position, to show the overlay.
fn markdown(_path: &Path, source: &str) -> Result<Option<Output>, TransformError> {
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd, html};

    let body = match source.strip_prefix("---\n") {
        Some(rest) => match rest.find("\n---\n") {
            Some(end) => &rest[end + 5..],
            None => {
                return Err(
                    TransformError::new("front matter opened with `---` is never closed").at(1, 1),
                );
            }
        },
        None => source,
    };
    let mut headings = Vec::new();
    let mut in_heading = false;
    let events: Vec<Event> = Parser::new(body).collect();
    for event in &events {
        match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1 | HeadingLevel::H2,
                ..
            }) => {
                in_heading = true;
                headings.push(String::new());
            }
            Event::End(TagEnd::Heading(_)) => in_heading = false,
            Event::Text(text) | Event::Code(text) if in_heading => {
                if let Some(last) = headings.last_mut() {
                    last.push_str(text);
                }
            }
            _ => {}
        }
    }
    let mut rendered = String::new();
    html::push_html(&mut rendered, events.into_iter());
    let html = serde_json::Value::from(rendered);
    let headings = serde_json::Value::from(headings);
    Ok(Some(Output::js(format!(
        "export const html = {html};\nexport const headings = {headings};\nexport default html;\n"
    ))))
}

/// The server with the Markdown transform registered.
fn config(root: &Path) -> Config {
    Config::new(root).transform(["md", "markdown"], markdown)
}

fn demo_site() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hotserve-markdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Markdown</title><main id=doc></main>\n\
         <script type=module src=/main.js></script>\n",
    )?;
    std::fs::write(
        dir.join("main.js"),
        "import html from './README.md';\n\
         const show = (html) => { document.getElementById('doc').innerHTML = html; };\n\
         show(html);\n\
         // Edits to the Markdown swap the HTML without reloading the page.\n\
         import.meta.hot?.accept('./README.md', (module) => show(module.default));\n",
    )?;
    std::fs::write(
        dir.join("README.md"),
        "# Hello\n\nEdit `README.md` and save: this page updates in place.\n",
    )?;
    Ok(dir)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = match std::env::args().nth(1) {
        Some(folder) => PathBuf::from(folder),
        None => demo_site()?,
    };
    let server = Server::bind(config(&root)).await?;
    println!(
        "serving {} at http://{}/",
        root.display(),
        server.local_addr()
    );
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[test]
    fn markdown_becomes_a_module_exporting_html_and_headings() {
        let out = markdown(
            Path::new("a.md"),
            "# Title\n\nSome *text*.\n\n## Part `two`\n",
        )
        .unwrap()
        .unwrap();
        assert!(
            out.code
                .contains(r#"export const html = "<h1>Title</h1>\n<p>Some <em>text</em>.</p>"#)
        );
        assert!(
            out.code
                .contains(r#"export const headings = ["Title","Part two"];"#)
        );
        assert!(out.code.contains("export default html;"));
    }

    #[test]
    fn unclosed_front_matter_is_an_error_at_the_start() {
        let err = markdown(Path::new("a.md"), "---\ntitle: x\n# Body\n").unwrap_err();
        assert_eq!((err.line(), err.column()), (Some(1), Some(1)));
    }

    #[tokio::test]
    async fn the_server_serves_markdown_as_a_javascript_module_and_errors_with_a_500() {
        let site = tempfile::tempdir().unwrap();
        std::fs::write(site.path().join("doc.md"), "# Served\n").unwrap();
        std::fs::write(site.path().join("bad.md"), "---\nnever closed\n").unwrap();
        let server = Server::bind(config(site.path()).port(0)).await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));

        let response = get(addr, "/doc.md").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.contains("content-type: text/javascript"),
            "{response}"
        );
        assert!(
            response.contains(r#"export const html = "<h1>Served</h1>\n";"#),
            "{response}"
        );

        let response = get(addr, "/bad.md").await;
        assert!(response.starts_with("HTTP/1.1 500"), "{response}");
        assert!(response.contains("bad.md:1:1"), "{response}");

        let _ = stop.send(());
        running.await.unwrap();
    }
}

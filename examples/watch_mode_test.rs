//! A watch-mode test: start the server on a temp folder, edit a file, await the matching
//! event. `cargo test` runs it (see `[[example]]` in Cargo.toml); `cargo run --example
//! watch_mode_test` runs the same steps as a program.

use hotserve::{Config, Event, Server};
use std::time::Duration;

async fn edit_and_await_update() -> Result<(), Box<dyn std::error::Error>> {
    let site = tempfile::tempdir()?;
    std::fs::write(site.path().join("style.css"), "body { color: red }")?;
    let server = Server::bind(Config::new(site.path()).port(0)).await?;
    let mut events = server.service().events();
    let url = format!("http://{}/style.css", server.local_addr());
    let shutdown = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = shutdown.1.await;
    }));

    // A browser loads the stylesheet (here: one plain HTTP request).
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /style.css HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    stream.read_to_end(&mut Vec::new()).await?;

    // Edit it, and wait for the update that names it.
    std::fs::write(site.path().join("style.css"), "body { color: teal }")?;
    let event = events
        .wait_for(|e| e.mentions("/style.css"), Duration::from_secs(5))
        .await
        .ok_or("no update for /style.css within 5 s")?;
    if let Event::PayloadSent { payload, .. } = &event {
        println!("got {}", serde_json::to_string(payload)?);
    }
    let _ = shutdown.0.send(());
    running.await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    edit_and_await_update().await
}

#[tokio::test]
async fn editing_a_loaded_stylesheet_yields_an_update_event() {
    edit_and_await_update().await.expect("update event");
}

//! The browser client: `client/client.mjs`, embedded at build time and served at
//! [`CLIENT_PATH`] with this server's values (token, HMR address) filled in.
//!
//! The values go in as one JSON object that replaces a placeholder, so nothing from the
//! configuration is ever pasted into the script as raw text. The client is rendered once at
//! startup and the same bytes are served on every request.

use bytes::Bytes;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::OnceLock;

/// The reserved URL of the client, the one Vite uses, as a literal for `concat!`.
macro_rules! client_path {
    () => {
        "/@vite/client"
    };
}
pub(crate) use client_path;

/// The reserved URL of the client, the one Vite uses: modules import
/// `createHotContext` from it, and injected pages load it.
pub(crate) const CLIENT_PATH: &str = client_path!();

/// The client's source, as written.
const SOURCE: &str = include_str!("../client/client.mjs");

/// Replaced by the JSON configuration; the client reads `null` as "all defaults".
const PLACEHOLDER: &str = "/*CONFIG*/null";

/// What the client needs to know about the server, serialized into the script.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientConfig {
    /// The secret the socket URL carries (`?token=`).
    pub token: String,
    /// Host the browser connects the socket to; `None`: the page's host.
    pub host: Option<String>,
    /// Port the browser connects the socket to; `None`: the page's port.
    pub port: Option<u16>,
    /// URL path of the socket, starting with `/`.
    pub path: String,
    /// Host of the server's own address, tried once when the first connection fails;
    /// `None`: the page's host (the server listens on every interface).
    pub direct_host: Option<String>,
    /// Port of the server's own address, for the same fallback.
    pub direct_port: Option<u16>,
    /// The server answers unknown routes with the root `index.html`, so a change to it
    /// reloads pages showing such routes.
    pub spa: bool,
}

impl ClientConfig {
    /// What the served client needs to know from `config`; the direct address comes once
    /// the server is bound ([`with_direct`](Self::with_direct)).
    pub fn of(config: &crate::Config, token: &str) -> Self {
        ClientConfig {
            token: token.to_owned(),
            host: config.hmr_host.as_deref().map(url_host),
            port: config.hmr_port,
            path: config.hmr_path.clone(),
            direct_host: None,
            direct_port: None,
            spa: config.spa,
        }
    }

    /// Point the direct-address fallback at the address the server is bound to.
    pub fn with_direct(mut self, addr: SocketAddr) -> Self {
        self.direct_port = Some(addr.port());
        self.direct_host = match addr {
            _ if addr.ip().is_unspecified() => None,
            SocketAddr::V4(v4) => Some(v4.ip().to_string()),
            SocketAddr::V6(v6) => Some(format!("[{}]", v6.ip())),
        };
        self
    }
}

/// Brackets around an IPv6 literal, so it can stand before `:port` in a URL.
pub(crate) fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The client as served: the rendered source and its entity tag.
#[derive(Clone, Debug)]
pub(crate) struct Rendered {
    /// The script, with the configuration filled in.
    pub body: Bytes,
    /// A strong entity tag of `body`: it changes with the token, so a restarted server's
    /// client is never taken from the browser's cache.
    pub etag: String,
}

impl Rendered {
    /// Render the client for `cfg`.
    pub fn new(cfg: &ClientConfig) -> Self {
        let body = client_source(cfg);
        let etag = format!(
            "\"c{:x}-{:x}\"",
            body.len(),
            crate::sync::content_hash(&body)
        );
        Rendered { body, etag }
    }
}

/// The client of one server. Rendered at startup without a direct address (a service
/// mounted in someone else's server does not know its address); [`ServedClient::bind`]
/// renders it once more when the server has bound its listener.
#[derive(Debug)]
pub(crate) struct ServedClient {
    config: ClientConfig,
    unbound: Rendered,
    bound: OnceLock<Rendered>,
}

impl ServedClient {
    /// Render the client for `cfg`.
    pub fn new(cfg: ClientConfig) -> Self {
        ServedClient {
            unbound: Rendered::new(&cfg),
            config: cfg,
            bound: OnceLock::new(),
        }
    }

    /// Use `addr` (where the server listens) as the direct address to fall back to. Only
    /// the first call counts.
    pub fn bind(&self, addr: SocketAddr) {
        self.bound
            .get_or_init(|| Rendered::new(&self.config.clone().with_direct(addr)));
    }

    /// The client to serve now.
    pub fn current(&self) -> &Rendered {
        self.bound.get().unwrap_or(&self.unbound)
    }
}

/// The client's source with `cfg` filled in, as served at [`CLIENT_PATH`].
pub(crate) fn client_source(cfg: &ClientConfig) -> Bytes {
    // JSON is a JavaScript expression, and it stays one inside this script: the script is
    // served as its own file, never inlined into HTML, so `</script>` in a value is harmless.
    let json = serde_json::to_string(cfg).unwrap_or_else(|err| {
        tracing::warn!(%err, "cannot serialize the client configuration");
        "null".to_owned()
    });
    Bytes::from(SOURCE.replacen(PLACEHOLDER, &json, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig {
            token: "abc_DEF-123".into(),
            path: "/".into(),
            ..ClientConfig::default()
        }
    }

    fn rendered(cfg: &ClientConfig) -> String {
        String::from_utf8(client_source(cfg).to_vec()).unwrap()
    }

    #[test]
    fn the_source_has_exactly_one_placeholder_on_the_config_line() {
        assert_eq!(SOURCE.matches(PLACEHOLDER).count(), 1);
        assert!(SOURCE.contains(&format!("const __HOTSERVE_CONFIG__ = {PLACEHOLDER};")));
    }

    #[test]
    fn the_rendered_client_carries_the_token_and_overrides_as_json() {
        let cfg = ClientConfig {
            host: Some("dev.example.test".into()),
            port: Some(443),
            path: "/hmr".into(),
            ..config()
        }
        .with_direct("127.0.0.1:5173".parse().unwrap());
        let text = rendered(&cfg);
        assert!(text.contains(
            r#"const __HOTSERVE_CONFIG__ = {"token":"abc_DEF-123","host":"dev.example.test","port":443,"path":"/hmr","directHost":"127.0.0.1","directPort":5173,"spa":false};"#
        ));
        assert!(!text.contains(PLACEHOLDER));
    }

    #[test]
    fn values_with_quotes_and_newlines_stay_inside_their_json_strings() {
        let cfg = ClientConfig {
            token: "a\"b\n</script>\\".into(),
            ..config()
        };
        let text = rendered(&cfg);
        let line = text
            .lines()
            .find(|l| l.starts_with("const __HOTSERVE_CONFIG__"))
            .unwrap();
        let json = line
            .trim_start_matches("const __HOTSERVE_CONFIG__ = ")
            .trim_end_matches(';');
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(value["token"], "a\"b\n</script>\\");
    }

    #[test]
    fn the_direct_address_leaves_the_host_to_the_page_when_bound_to_every_interface() {
        let cfg = config().with_direct("0.0.0.0:4000".parse().unwrap());
        assert_eq!((cfg.direct_host, cfg.direct_port), (None, Some(4000)));
        let cfg = config().with_direct("[::1]:4000".parse().unwrap());
        assert_eq!(cfg.direct_host.as_deref(), Some("[::1]"));
    }

    #[test]
    fn modules_and_pages_import_the_client_by_its_served_path() {
        // A second URL for the client would start a second instance with its own socket.
        assert_eq!(CLIENT_PATH, crate::modules::CLIENT_URL);
        assert!(crate::http::inject::CLIENT_TAG.contains(&format!("src=\"{CLIENT_PATH}\"")));
    }

    #[test]
    fn ipv6_hosts_get_brackets_for_urls() {
        assert_eq!(url_host("::1"), "[::1]");
        assert_eq!(url_host("[::1]"), "[::1]");
        assert_eq!(url_host("example.test"), "example.test");
    }

    #[test]
    fn the_etag_changes_with_the_token() {
        let a = Rendered::new(&config());
        let b = Rendered::new(&ClientConfig {
            token: "other".into(),
            ..config()
        });
        assert_ne!(a.etag, b.etag);
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
    }

    #[test]
    fn binding_fills_in_the_direct_address_once() {
        let client = ServedClient::new(config());
        let unbound = String::from_utf8(client.current().body.to_vec()).unwrap();
        assert!(unbound.contains(r#""directHost":null,"directPort":null"#));
        client.bind("127.0.0.1:4000".parse().unwrap());
        client.bind("127.0.0.1:5000".parse().unwrap());
        let bound = String::from_utf8(client.current().body.to_vec()).unwrap();
        assert!(bound.contains(r#""directHost":"127.0.0.1","directPort":4000"#));
    }
}

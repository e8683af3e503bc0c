//! Routing as a decision: what to do with a request, worked out from the request and the
//! site's fixed policy before anything is read, forwarded or upgraded.
//!
//! [`route`] returns a [`Route`]; [`Site::act`](super::Site) carries it out. A new kind of
//! answer (a package route, `public/`) is a new variant here and one arm there, so the
//! order of the checks stays readable in one place.

use super::fragment::FragmentSeen;
use super::host::{self, HostFault, HostPolicy};
use super::resolve::{self, SafePath};
use super::ws;
use crate::client::CLIENT_PATH;
use crate::packages::FS_PREFIX;
use hyper::{Method, Request};

/// The fixed policy routing reads: who may ask, and where the special routes are.
#[derive(Debug)]
pub(crate) struct Routes {
    pub hosts: HostPolicy,
    /// Where the HMR socket listens.
    pub hmr_path: String,
    /// The backends requests are forwarded to, if any.
    #[cfg(feature = "proxy")]
    pub proxy: Option<super::proxy::Proxy>,
}

/// What to do with one request.
#[derive(Debug)]
pub(crate) enum Route<'a> {
    /// Forward to a backend (a matching proxy prefix, or proxy-everything mode).
    #[cfg(feature = "proxy")]
    Proxy(&'a super::proxy::Proxy, &'a super::proxy::Target),
    /// A WebSocket upgrade offering this subprotocol: the handshake (`ws`) checks the rest
    /// and hands the socket to the HMR channel.
    Upgrade(&'static str),
    /// The browser client script.
    Client,
    /// A package file outside the root, through `/@fs/`: the rest of the path (from its
    /// `/`, still percent-encoded) names an absolute path that the package stage checks
    /// against the folders imports resolved to.
    OutsideRoot(String),
    /// A pre-bundled dependency chunk under `/@deps/`: the rest of the path as sent, which
    /// the package stage looks up by name in memory (it names no file).
    #[cfg(feature = "bundle")]
    Deps(String),
    /// A runtime helper that compiled modules import (`/@hotserve/runtime/helpers/...`).
    #[cfg(feature = "transform")]
    Helper(String),
    /// A Fast Refresh runtime module (`/@react-refresh`, `/@prefresh`), made from the
    /// project's own refresh package.
    #[cfg(feature = "transform")]
    Refresh,
    /// A path under the root, already checked component by component. After the load
    /// stage, a file that is not there may still go to a backend
    /// ([`Routes::after_missing_file`]).
    File(SafePath),
    /// Refused without looking any further.
    Refuse(Refusal<'a>),
}

/// Why a request is refused; each reason has its own status and page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal<'a> {
    /// An HMR upgrade at a path other than `socket`, the HMR socket's (404).
    NotTheSocketPath { socket: &'a str },
    /// An upgrade offering none of our subprotocols (400).
    NoSubprotocol,
    /// A `Host` not on the allow list: DNS rebinding protection (403).
    BlockedHost(String),
    /// Two `Host` headers, none on an HTTP/1.1 request, or one that is not text (400).
    BadHost(HostFault),
    /// A `#` in the request target: browsers never send one (400).
    Fragment,
    /// Anything but GET and HEAD (405).
    Method,
    /// A path that does not decode (400).
    MalformedPath,
    /// A path outside the root or on the deny list (403).
    Forbidden,
}

impl Refusal<'_> {
    /// Whether the request asked to leave HTTP: its connection is closed after the answer.
    pub fn was_upgrade(&self) -> bool {
        matches!(
            self,
            Refusal::NotTheSocketPath { .. } | Refusal::NoSubprotocol
        )
    }
}

/// Decide what to do with `req`. Pure: reads the request and the policy only.
///
/// The order matters: a request whose host cannot be told is refused first (RFC 9112
/// §3.2), then proxied prefixes (the backend may own WebSockets too), then
/// upgrades (the handshake does its own Host and token checks, and `vite-ping` needs none),
/// then Host, fragment, method, the client, and last the path.
pub(crate) fn route<'a, B>(req: &Request<B>, routes: &'a Routes) -> Route<'a> {
    let wire = req.extensions().get::<ws::Peer>().is_some();
    let claimed = match host::claimed_hosts(req, wire) {
        Ok(claimed) => claimed,
        Err(fault) => return Route::Refuse(Refusal::BadHost(fault)),
    };
    let fragment = req.extensions().get::<FragmentSeen>().is_some();
    #[cfg(feature = "proxy")]
    if let Some(proxy) = &routes.proxy
        && !fragment
        && let Some(target) = proxy.route(req)
    {
        // The DNS-rebinding check protects the backend too.
        return match blocked_host(&claimed, &routes.hosts) {
            Some(refusal) => Route::Refuse(refusal),
            None => Route::Proxy(proxy, target),
        };
    }
    if ws::is_upgrade(req) {
        return match ws::offered_protocol(req) {
            Some(ws::PING_PROTOCOL) => Route::Upgrade(ws::PING_PROTOCOL),
            Some(protocol) if req.uri().path() == routes.hmr_path => Route::Upgrade(protocol),
            Some(_) => Route::Refuse(Refusal::NotTheSocketPath {
                socket: &routes.hmr_path,
            }),
            None => Route::Refuse(Refusal::NoSubprotocol),
        };
    }
    if let Some(refusal) = blocked_host(&claimed, &routes.hosts) {
        return Route::Refuse(refusal);
    }
    if fragment {
        return Route::Refuse(Refusal::Fragment);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Route::Refuse(Refusal::Method);
    }
    if req.uri().path() == CLIENT_PATH {
        return Route::Client;
    }
    if let Some(rest) = req.uri().path().strip_prefix(FS_PREFIX) {
        // Keep the `/` that starts the absolute path.
        return Route::OutsideRoot(format!("/{rest}"));
    }
    #[cfg(feature = "bundle")]
    if let Some(rest) = req
        .uri()
        .path()
        .strip_prefix(crate::packages::prebundle::DEPS_PREFIX)
    {
        return Route::Deps(rest.to_owned());
    }
    #[cfg(feature = "transform")]
    if let Some(module) = crate::modules::transform::helpers::module_for(req.uri().path()) {
        return Route::Helper(module);
    }
    #[cfg(feature = "transform")]
    if crate::modules::transform::refresh::is_runtime_url(req.uri().path()) {
        return Route::Refresh;
    }
    match resolve::resolve(req.uri().path()) {
        // The pre-bundle cache: served from memory at `/@deps/`, never as files.
        #[cfg(feature = "bundle")]
        Ok(safe)
            if safe
                .segments
                .windows(2)
                .any(|w| w[0] == "node_modules" && w[1] == ".hotserve") =>
        {
            Route::Refuse(Refusal::Forbidden)
        }
        Ok(safe) => Route::File(safe),
        Err(resolve::Refusal::BadRequest) => Route::Refuse(Refusal::MalformedPath),
        Err(resolve::Refusal::Forbidden) => Route::Refuse(Refusal::Forbidden),
    }
}

impl Routes {
    /// Where a request for a file that is not there goes instead of a 404, if anywhere.
    #[cfg(feature = "proxy")]
    pub fn after_missing_file(&self) -> Option<(&super::proxy::Proxy, &super::proxy::Target)> {
        let proxy = self.proxy.as_ref()?;
        Some((proxy, proxy.after_files()?))
    }
}

/// The first claimed host the policy refuses (an absolute-form target's authority counts).
fn blocked_host<'a>(claimed: &[&str], hosts: &HostPolicy) -> Option<Refusal<'a>> {
    let host = claimed.iter().find(|host| !hosts.allows(host))?;
    Some(Refusal::BlockedHost((*host).to_owned()))
}

/// The host the client asked for: `Host` in HTTP/1, the authority in HTTP/2.
#[cfg(feature = "proxy")]
pub(crate) fn request_host<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header;

    fn routes() -> Routes {
        Routes {
            hosts: HostPolicy::new("localhost", &[]),
            hmr_path: "/".into(),
            #[cfg(feature = "proxy")]
            proxy: None,
        }
    }

    fn get(target: &str) -> Request<()> {
        Request::get(target)
            .header(header::HOST, "localhost:5173")
            .body(())
            .unwrap()
    }

    #[test]
    fn a_plain_get_routes_to_the_file_it_names() {
        let routes = routes();
        let Route::File(safe) = route(&get("/css/site.css"), &routes) else {
            panic!("not a file route");
        };
        assert_eq!(safe.segments, ["css", "site.css"]);
    }

    #[test]
    fn the_client_path_routes_to_the_client() {
        assert!(matches!(route(&get(CLIENT_PATH), &routes()), Route::Client));
    }

    #[test]
    fn the_fs_prefix_routes_outside_the_root_with_the_absolute_path_still_encoded() {
        let routes = routes();
        let req = get("/@fs/home/a%20b/node_modules/x.js?v=1");
        assert!(matches!(
            route(&req, &routes),
            Route::OutsideRoot(path) if path == "/home/a%20b/node_modules/x.js"
        ));
        // `/@fs` alone is an ordinary path under the root.
        assert!(matches!(route(&get("/@fs"), &routes), Route::File(_)));
    }

    #[test]
    fn an_unknown_host_is_refused_before_the_path_is_looked_at() {
        let req = Request::get("/%2e%2e/x")
            .header(header::HOST, "evil.example:5173")
            .body(())
            .unwrap();
        assert!(matches!(
            route(&req, &routes()),
            Route::Refuse(Refusal::BlockedHost(host)) if host == "evil.example:5173"
        ));
    }

    #[test]
    fn a_fragment_is_refused() {
        let mut req = get("/index.html");
        req.extensions_mut().insert(FragmentSeen);
        assert!(matches!(
            route(&req, &routes()),
            Route::Refuse(Refusal::Fragment)
        ));
    }

    #[test]
    fn methods_other_than_get_and_head_are_refused() {
        let mut req = get("/index.html");
        *req.method_mut() = Method::POST;
        assert!(matches!(
            route(&req, &routes()),
            Route::Refuse(Refusal::Method)
        ));
    }

    #[test]
    fn upgrades_route_by_subprotocol_and_path() {
        let upgrade = |path: &str, protocol: Option<&str>| {
            let mut req = get(path);
            let headers = req.headers_mut();
            headers.insert(header::UPGRADE, "websocket".parse().unwrap());
            headers.insert(header::CONNECTION, "Upgrade".parse().unwrap());
            if let Some(protocol) = protocol {
                headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol.parse().unwrap());
            }
            req
        };
        let routes = routes();
        let hmr = upgrade("/", Some("vite-hmr"));
        assert!(matches!(route(&hmr, &routes), Route::Upgrade("vite-hmr")));
        let ping = upgrade("/elsewhere", Some("vite-ping"));
        assert!(matches!(route(&ping, &routes), Route::Upgrade("vite-ping")));
        let misplaced = upgrade("/elsewhere", Some("vite-hmr"));
        assert!(matches!(
            route(&misplaced, &routes),
            Route::Refuse(Refusal::NotTheSocketPath { socket: "/" })
        ));
        let bare = upgrade("/", None);
        assert!(matches!(
            route(&bare, &routes),
            Route::Refuse(Refusal::NoSubprotocol)
        ));
    }

    #[test]
    fn paths_that_climb_out_or_do_not_decode_are_refused() {
        let routes = routes();
        assert!(matches!(
            route(&get("/a/%2e%2e/%2e%2e/etc/passwd"), &routes),
            Route::Refuse(Refusal::Forbidden)
        ));
        assert!(matches!(
            route(&get("/%ff"), &routes),
            Route::Refuse(Refusal::MalformedPath)
        ));
    }
}

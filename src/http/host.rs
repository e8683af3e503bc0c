//! The `Host` check that stops DNS-rebinding attacks.
//!
//! A page on `evil.example` can make its name resolve to 127.0.0.1 and then read our
//! responses as same-origin. Browsers always send the name they resolved in `Host`, so
//! refusing unknown names closes that hole (Vite's `server.allowedHosts`).

use std::net::IpAddr;

/// Which `Host` values are accepted.
#[derive(Clone, Debug)]
pub(crate) struct HostPolicy {
    any: bool,
    exact: Vec<String>,
    suffixes: Vec<String>,
}

impl HostPolicy {
    /// `bound` is the host the server listens on; `extra` the configured entries.
    pub fn new(bound: &str, extra: &[String]) -> Self {
        let mut policy = HostPolicy {
            any: false,
            exact: vec![bound.to_ascii_lowercase()],
            suffixes: Vec::new(),
        };
        for entry in extra {
            let entry = entry.to_ascii_lowercase();
            if entry == "all" || entry == "*" {
                policy.any = true;
            } else if let Some(domain) = entry.strip_prefix('.') {
                policy.exact.push(domain.to_owned());
                policy.suffixes.push(format!(".{domain}"));
            } else {
                policy.exact.push(entry);
            }
        }
        policy
    }

    /// Whether a `Host` header value (with optional port) is allowed.
    pub fn allows(&self, host_header: &str) -> bool {
        if self.any {
            return true;
        }
        let name = strip_port(host_header).to_ascii_lowercase();
        // One trailing dot is the same name, fully qualified (`localhost.` is `localhost`:
        // RFC 6761 reserves it, so no one can point it elsewhere). More dots, or a dot
        // alone, name nothing and are refused.
        let name = name.strip_suffix('.').unwrap_or(&name);
        if name.is_empty() || name.ends_with('.') {
            return false;
        }
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        // An IP literal cannot be rebound: the attacker's page would be cross-origin.
        let unbracketed = name.trim_start_matches('[').trim_end_matches(']');
        if unbracketed.parse::<IpAddr>().is_ok() {
            return true;
        }
        self.exact.iter().any(|h| h == name) || self.suffixes.iter().any(|s| name.ends_with(s))
    }
}

/// Why a request's host cannot be checked at all (400, RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostFault {
    /// More than one `Host` field line: which one a proxy in front would have used is
    /// anyone's guess, so none is trusted.
    Duplicate,
    /// An HTTP/1.1 request that arrived on a connection without `Host`.
    Missing,
    /// A `Host` that is not visible text.
    Unreadable,
}

/// The names a request says it is for: the authority of an absolute-form target (RFC 9112
/// §3.2.2: it is the request's host, whatever `Host` says; in HTTP/2 the `:authority`) and
/// the `Host` header. Every one of them must pass the policy.
///
/// `wire` says the request was read from a connection (tagged by
/// [`Connection`](crate::Connection)): only then is a missing `Host` a fault, so that an
/// embedder's hand-built test requests still work.
pub(crate) fn claimed_hosts<B>(
    req: &hyper::Request<B>,
    wire: bool,
) -> Result<Vec<&str>, HostFault> {
    let mut values = req.headers().get_all(hyper::header::HOST).iter();
    let host = values.next();
    if values.next().is_some() {
        return Err(HostFault::Duplicate);
    }
    let mut names = Vec::with_capacity(2);
    if let Some(authority) = req.uri().authority() {
        names.push(authority.as_str());
    }
    match host {
        Some(value) => names.push(value.to_str().map_err(|_| HostFault::Unreadable)?),
        None if wire && req.version() == hyper::Version::HTTP_11 => {
            return Err(HostFault::Missing);
        }
        None => {}
    }
    Ok(names)
}

/// `example.test:5173` -> `example.test`; `[::1]:80` -> `[::1]`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_and_ip_literals_are_allowed() {
        let policy = HostPolicy::new("127.0.0.1", &[]);
        for host in [
            "localhost",
            "localhost:5173",
            "LOCALHOST",
            "app.localhost:80",
            "127.0.0.1:5173",
            "192.168.1.20",
            "[::1]:5173",
            "[::1]",
        ] {
            assert!(policy.allows(host), "{host}");
        }
    }

    #[test]
    fn other_names_are_refused_until_configured() {
        let policy = HostPolicy::new("127.0.0.1", &[]);
        assert!(!policy.allows("evil.example:5173"));
        assert!(!policy.allows("localhost.evil.example"));
        let policy = HostPolicy::new("127.0.0.1", &["dev.test".into(), ".corp.test".into()]);
        assert!(policy.allows("dev.test:5173"));
        assert!(policy.allows("corp.test"));
        assert!(policy.allows("a.b.corp.test"));
        assert!(!policy.allows("xcorp.test"));
        assert!(HostPolicy::new("127.0.0.1", &["all".into()]).allows("anything"));
    }

    #[test]
    fn a_single_trailing_dot_is_the_same_name_and_more_are_refused() {
        let policy = HostPolicy::new("127.0.0.1", &["dev.test".into()]);
        assert!(policy.allows("localhost.:5173"));
        assert!(policy.allows("dev.test."));
        assert!(!policy.allows("localhost..:5173"));
        assert!(!policy.allows(".:5173"));
        assert!(!policy.allows("evil.example."));
    }

    #[test]
    fn two_host_headers_or_a_missing_one_on_the_wire_are_faults() {
        let two = hyper::Request::get("/")
            .header("host", "localhost")
            .header("host", "evil.example")
            .body(())
            .unwrap();
        assert_eq!(claimed_hosts(&two, false), Err(HostFault::Duplicate));
        let none = hyper::Request::get("/").body(()).unwrap();
        assert_eq!(claimed_hosts(&none, true), Err(HostFault::Missing));
        assert_eq!(claimed_hosts(&none, false), Ok(vec![]));
        let old = hyper::Request::get("/")
            .version(hyper::Version::HTTP_10)
            .body(())
            .unwrap();
        assert_eq!(claimed_hosts(&old, true), Ok(vec![]));
    }

    #[test]
    fn an_absolute_form_target_claims_its_authority_beside_the_host_header() {
        let req = hyper::Request::get("http://evil.example/x")
            .header("host", "127.0.0.1:5173")
            .body(())
            .unwrap();
        assert_eq!(
            claimed_hosts(&req, true),
            Ok(vec!["evil.example", "127.0.0.1:5173"])
        );
    }

    #[test]
    fn the_bound_host_is_allowed() {
        assert!(HostPolicy::new("mybox", &[]).allows("mybox:5173"));
    }
}

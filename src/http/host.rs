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
        let name = name.trim_end_matches('.');
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
    fn the_bound_host_is_allowed() {
        assert!(HostPolicy::new("mybox", &[]).allows("mybox:5173"));
    }
}

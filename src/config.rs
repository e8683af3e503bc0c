//! What a server serves and how: every knob with its default, validated once at startup.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings for a [`Server`](crate::Server). Build with [`Config::new`] and the by-value setters.
///
/// ```
/// let config = hotserve::Config::new("site").port(0).spa(true);
/// assert_eq!(config.root(), std::path::Path::new("site"));
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) root: PathBuf,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) strict_port: bool,
    pub(crate) spa: bool,
    pub(crate) allowed_hosts: Vec<String>,
    pub(crate) deny: Vec<String>,
    pub(crate) token: Option<String>,
    pub(crate) hmr_path: String,
    pub(crate) hmr_host: Option<String>,
    pub(crate) hmr_port: Option<u16>,
    pub(crate) inject: bool,
    pub(crate) watch: bool,
    pub(crate) poll: Option<Duration>,
    pub(crate) debounce: Duration,
    pub(crate) ignore: Vec<String>,
    pub(crate) reload_on: Vec<String>,
    pub(crate) unbundled: Vec<String>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::TlsConfig>,
    #[cfg(feature = "proxy")]
    pub(crate) proxy: crate::http::proxy::ProxyConfig,
    pub(crate) keepalive: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) mode: String,
    pub(crate) transforms: crate::modules::transform::Transforms,
}

/// The port Vite uses, so muscle memory and bookmarks carry over.
pub const DEFAULT_PORT: u16 = 5173;

/// See [`Config::header_timeout`]: longer than any honest client needs for a head, short
/// enough that slow-header connections cannot pile up.
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

impl Config {
    /// Serve the folder `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Config {
            root: root.into(),
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            strict_port: false,
            spa: false,
            allowed_hosts: Vec::new(),
            deny: Vec::new(),
            token: None,
            hmr_path: "/".into(),
            hmr_host: None,
            hmr_port: None,
            inject: true,
            watch: true,
            poll: None,
            debounce: Duration::from_millis(2),
            ignore: Vec::new(),
            reload_on: Vec::new(),
            unbundled: Vec::new(),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "proxy")]
            proxy: Default::default(),
            keepalive: crate::hmr::DEFAULT_KEEPALIVE,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            mode: crate::modules::env::DEFAULT_MODE.into(),
            transforms: Default::default(),
        }
    }

    /// The folder being served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The interface to listen on: an IP address or a name such as `localhost`.
    /// `0.0.0.0` exposes the server to the network. Defaults to `127.0.0.1`.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port to listen on; `0` picks a free one. Defaults to `5173`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Fail when the port is taken instead of trying the next ones. Defaults to `false`.
    pub fn strict_port(mut self, strict: bool) -> Self {
        self.strict_port = strict;
        self
    }

    /// Answer unknown paths that accept HTML with the root `index.html`, for client-side
    /// routers. Defaults to `false`.
    pub fn spa(mut self, spa: bool) -> Self {
        self.spa = spa;
        self
    }

    /// Also accept requests whose `Host` is `host`. A leading dot (`.example.test`) allows
    /// the name and all its subdomains; `all` turns the check off. Localhost, `*.localhost`,
    /// IP literals and the bound host are always allowed. Defaults to none.
    pub fn allowed_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// The secret a browser must present (as `?token=`) to open the HMR socket, for
    /// embedders that serve their own client. Defaults to 12 random base64url characters,
    /// new for every process (like Vite's).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The URL path of the HMR WebSocket. Defaults to `/` (Vite's default).
    pub fn hmr_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.hmr_path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        self
    }

    /// The host browsers connect the HMR socket to, when it differs from the page's (a
    /// reverse proxy in front of hotserve). The server itself does not listen there.
    /// Defaults to the page's host.
    pub fn hmr_host(mut self, host: impl Into<String>) -> Self {
        self.hmr_host = Some(host.into());
        self
    }

    /// The port browsers connect the HMR socket to, when it differs from the page's (a
    /// reverse proxy or a Docker port mapping). The server itself does not listen there.
    /// Defaults to the page's port.
    pub fn hmr_port(mut self, port: u16) -> Self {
        self.hmr_port = Some(port);
        self
    }

    /// Put the client's `<script type="module" src="/@vite/client">` into every served HTML
    /// page, so pages reload and update by themselves. The client stays available at
    /// `/@vite/client` either way. Defaults to `true`.
    pub fn inject(mut self, inject: bool) -> Self {
        self.inject = inject;
        self
    }

    /// Watch the root and turn saves into HMR payloads. Build tools that write their own
    /// output turn this off and push changes through the [`Hub`](crate::Hub). Defaults to
    /// `true`.
    pub fn watch(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    /// Poll the file system every `interval` instead of using native events (inotify,
    /// FSEvents): for WSL2 folders, Docker bind mounts and network drives, where native events
    /// do not arrive. Defaults to `None` (native events; polling only as a fallback when they
    /// cannot start).
    pub fn poll(mut self, interval: Option<Duration>) -> Self {
        self.poll = interval;
        self
    }

    /// How long the file system must be quiet before a batch of changes goes out. Bursts
    /// are still flushed at least every 50 ms. Defaults to 2 ms.
    pub fn debounce(mut self, settle: Duration) -> Self {
        self.debounce = settle;
        self
    }

    /// Do not watch paths matching this gitignore-style glob, on top of `.gitignore`,
    /// `.ignore`, `node_modules/`, `.git/` and editor temp files. Defaults to none.
    pub fn ignore(mut self, glob: impl Into<String>) -> Self {
        self.ignore.push(glob.into());
        self
    }

    /// How often the server pings each HMR socket; a client that stays silent for two and a
    /// half intervals is dropped. Defaults to 30 seconds.
    pub fn keepalive(mut self, interval: Duration) -> Self {
        self.keepalive = interval.max(Duration::from_millis(10));
        self
    }

    /// How long a connection may take to send a request's head, counted from when the server
    /// starts waiting for it: after the connection opens, and again after each response on
    /// a kept-alive connection (so this also closes idle keep-alive connections). An HTTP/2
    /// connection with no request in flight for this long is told to go away (GOAWAY). A
    /// slow client (one header byte a second) is cut off after it; a response being
    /// downloaded, or an HMR socket, never is. Defaults to 30 seconds.
    pub fn header_timeout(mut self, limit: Duration) -> Self {
        self.header_timeout = limit.max(Duration::from_millis(10));
        self
    }

    /// Refuse (403) paths matching this glob, in addition to the built-in list (`.env`,
    /// `.env.*`, certificates and keys, `.npmrc`, `.yarnrc.yml`, `.git/`). Matched
    /// case-insensitively against the path from the root (`secrets/**`) and against each file
    /// name (`*.sqlite`). Defaults to none.
    pub fn deny(mut self, pattern: impl Into<String>) -> Self {
        self.deny.push(pattern.into());
        self
    }

    /// The mode, as in Vite: `import.meta.env.MODE`, and which `.env.[mode]` and
    /// `.env.[mode].local` files add to `.env` and `.env.local` (only their `VITE_`
    /// variables reach the browser). Checked at startup: a plain name, not `local`.
    /// Defaults to `development`.
    pub fn mode(mut self, mode: impl Into<String>) -> Self {
        self.mode = mode.into();
        self
    }

    /// Send `full-reload` to every page when a file matching this glob changes, whether or
    /// not a browser loaded it: for templates a backend renders behind
    /// [`proxy`](Config::proxy). Matched against the path from the root
    /// (`templates/**/*.html`); a pattern without `/` also matches file names (`*.jinja`).
    /// Defaults to none.
    pub fn reload_on(mut self, glob: impl Into<String>) -> Self {
        self.reload_on.push(glob.into());
        self
    }

    /// Serve the installed ES package `package` (`lit`, `@scope/name`) file by file instead of
    /// pre-bundling it with the others: Vite's `optimizeDeps.exclude`, for stepping through a
    /// dependency's own files. CommonJS packages are bundled regardless (a browser cannot load
    /// them). Has an effect with the `bundle` feature only. Defaults to none.
    pub fn exclude_from_prebundle(mut self, package: impl Into<String>) -> Self {
        self.unbundled.push(package.into());
        self
    }

    /// Serve HTTPS, and the HMR socket as WSS, on the server's port. HTTP/2 is offered
    /// through ALPN. Defaults to plain HTTP.
    #[cfg(feature = "tls")]
    pub fn https(mut self, tls: crate::TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Forward requests that no file under the root answers (any method, and WebSocket
    /// upgrades other than HMR) to the backend at `target` (`http://127.0.0.1:8000`). HTML
    /// pages coming back get the HMR client. Checked at startup: the target must be an
    /// `http://` or `https://` URL. Defaults to no proxy.
    #[cfg(feature = "proxy")]
    pub fn proxy(mut self, target: impl Into<String>) -> Self {
        self.proxy.fallback = Some(target.into());
        self
    }

    /// Forward requests whose path is `prefix` or starts with `prefix/` to `target`, before
    /// looking for files, like Vite's `server.proxy` (`"/api"`, `"http://127.0.0.1:8000"`).
    /// The path is forwarded unchanged; the longest matching prefix wins. Defaults to none.
    #[cfg(feature = "proxy")]
    pub fn proxy_path(mut self, prefix: impl Into<String>, target: impl Into<String>) -> Self {
        self.proxy.prefixes.push((prefix.into(), target.into()));
        self
    }

    /// Send every request to the [`proxy`](Config::proxy) target, even when a file under the
    /// root matches; only hotserve's own routes (the client and the HMR socket) stay here.
    /// Defaults to `false`.
    #[cfg(feature = "proxy")]
    pub fn proxy_all(mut self, all: bool) -> Self {
        self.proxy.all = all;
        self
    }

    /// How long a backend may take to connect and send its response headers before the
    /// browser gets 504. Defaults to 30 seconds.
    #[cfg(feature = "proxy")]
    pub fn proxy_timeout(mut self, timeout: Duration) -> Self {
        self.proxy.timeout = timeout;
        self
    }

    /// Compile files with these extensions (`["md"]`, `["vue"]`, without the dot, any case)
    /// with `transform` before serving them: a build tool's Markdown, Vue, Svelte or Sass
    /// compiler. The output (JavaScript or CSS) is served as a module, joins the module graph
    /// and hot updates like a `.js` file, and its errors reach the browser's overlay and the
    /// terminal. Several transforms for one extension are tried in the order registered until
    /// one accepts; they run before hotserve's own TypeScript/JSX compile. Defaults to none.
    pub fn transform(
        mut self,
        extensions: impl IntoIterator<Item = impl AsRef<str>>,
        transform: impl crate::Transform,
    ) -> Self {
        self.transforms.add(extensions, transform);
        self
    }
}

/// Compile patterns from the configuration into one set. `glob_of` turns a pattern into
/// the glob actually matched; an invalid one is reported as the pattern the user wrote.
pub(crate) fn glob_set(
    patterns: &[String],
    glob_of: impl Fn(&str) -> String,
    case_insensitive: bool,
) -> Result<globset::GlobSet, crate::Error> {
    let mut set = globset::GlobSetBuilder::new();
    for pattern in patterns {
        let glob = globset::GlobBuilder::new(&glob_of(pattern))
            .case_insensitive(case_insensitive)
            .literal_separator(true)
            .build()
            .map_err(|err| crate::Error::BadPattern {
                pattern: pattern.clone(),
                source: Box::new(err),
            })?;
        set.add(glob);
    }
    set.build().map_err(|err| crate::Error::BadPattern {
        pattern: patterns.join(", "),
        source: Box::new(err),
    })
}

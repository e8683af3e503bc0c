//! The `hotserve` command: arguments -> Config -> Server, run until Ctrl-C or SIGTERM.
//! Uses only the library's public API.

use clap::Parser;
use hotserve::{CertificateSource, Config, Server, TlsConfig};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A dev server with Vite-compatible hot module reload for any frontend folder.
#[derive(Debug, Parser)]
#[command(version, about, max_term_width = 100)]
struct Args {
    /// The folder to serve.
    #[arg(default_value = ".")]
    root: PathBuf,

    /// Interface to listen on. Use 0.0.0.0 to expose the server to your network.
    #[arg(long, default_value = "127.0.0.1", env = "HOTSERVE_HOST")]
    host: String,

    /// Port to listen on (0 picks a free one). When taken, the next free port is used.
    #[arg(long, short, default_value_t = hotserve::DEFAULT_PORT, env = "HOTSERVE_PORT")]
    port: u16,

    /// Exit with an error instead of trying the next port when the port is taken.
    #[arg(long)]
    strict_port: bool,

    /// Open the served page in the default browser once ready.
    #[arg(long)]
    open: bool,

    /// Single-page app: unknown paths that accept HTML get the root index.html.
    #[arg(long)]
    spa: bool,

    /// Also accept requests for this host name (repeatable). `.example.test` allows all
    /// subdomains; `all` disables the check.
    #[arg(long = "allowed-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,

    /// Refuse paths matching this glob with 403, on top of the built-in list (repeatable).
    #[arg(long, value_name = "GLOB")]
    deny: Vec<String>,

    /// Serve this installed ES package file by file instead of pre-bundling it (repeatable):
    /// Vite's optimizeDeps.exclude.
    #[arg(long, value_name = "PACKAGE")]
    exclude_dep: Vec<String>,

    /// Do not put the HMR client's <script> into served HTML pages.
    #[arg(long)]
    no_inject: bool,

    /// Host browsers connect the HMR socket to (a reverse proxy in front of hotserve).
    #[arg(long, value_name = "HOST")]
    hmr_host: Option<String>,

    /// Port browsers connect the HMR socket to (a reverse proxy or a Docker port mapping).
    #[arg(long, value_name = "PORT")]
    hmr_port: Option<u16>,

    /// URL path of the HMR socket (default /).
    #[arg(long, value_name = "PATH")]
    hmr_path: Option<String>,

    /// Do not watch ROOT for changes (serve only).
    #[arg(long)]
    no_watch: bool,

    /// Poll for changes every MS milliseconds (default 300) instead of native events: for
    /// WSL2, Docker bind mounts and network drives.
    #[arg(long, value_name = "MS", num_args = 0..=1, default_missing_value = "300")]
    poll: Option<u64>,

    /// Send a batch of changes once files have been quiet this long (milliseconds).
    #[arg(long, value_name = "MS", default_value_t = 2)]
    debounce: u64,

    /// Do not watch paths matching this gitignore-style glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    ignore: Vec<String>,

    /// Serve HTTPS (and the HMR socket as WSS). Without --cert/--key, a self-signed
    /// certificate for localhost is made once and kept in the cache folder.
    #[arg(long)]
    https: bool,

    /// Certificate chain (PEM) for HTTPS, e.g. made by mkcert. Implies --https.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,

    /// Private key (PEM) belonging to --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,

    /// Forward requests to a backend (repeatable): `URL` for everything no file under ROOT
    /// answers, `/prefix=URL` for paths under a prefix (checked before files).
    #[arg(long, value_name = "[/PREFIX=]URL")]
    proxy: Vec<String>,

    /// Send every request to the --proxy URL, even when a file under ROOT matches.
    #[arg(long, requires = "proxy")]
    proxy_all: bool,

    /// Seconds a backend may take to connect and send its response headers (then 504).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    proxy_timeout: u64,

    /// Reload every page when a file matching this glob changes (repeatable), e.g. the
    /// templates a --proxy backend renders.
    #[arg(long, value_name = "GLOB")]
    reload_on: Vec<String>,

    /// The mode, as in Vite: `import.meta.env.MODE`, and which `.env.[mode]` files are read.
    #[arg(long, value_name = "NAME", default_value = "development")]
    mode: String,

    /// Print events as newline-delimited JSON on stdout (the banner and logs go to stderr),
    /// for scripts and test runners: `hotserve --json | jq`.
    #[arg(long)]
    json: bool,

    /// Exit (status 0) after the first hot update or page reload has been sent.
    #[arg(long)]
    once: bool,

    /// Log level: error, warn, info, debug (request logs) or trace. RUST_LOG overrides it.
    #[arg(long, default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    log_level: String,
}

/// What to do about a startup error, in terms of this command's flags (the library's
/// messages speak of its settings only).
fn cli_hint(err: &hotserve::Error) -> &'static str {
    match err {
        hotserve::Error::PortInUse { .. } => " (drop --strict-port to try the next free port)",
        hotserve::Error::NoFreePort { .. } => "; choose another with --port",
        hotserve::Error::BindDenied { .. } => {
            " (ports below 1024 need privileges; try --port 5173)"
        }
        _ => "",
    }
}

fn main() -> ExitCode {
    let started = Instant::now();
    let args = Args::parse();
    init_logs(&args.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args, started))
}

async fn run(args: Args, started: Instant) -> ExitCode {
    let mut config = Config::new(&args.root)
        .host(&args.host)
        .port(args.port)
        .strict_port(args.strict_port)
        .spa(args.spa)
        .watch(!args.no_watch)
        .poll(args.poll.map(Duration::from_millis))
        .debounce(Duration::from_millis(args.debounce));
    for glob in &args.ignore {
        config = config.ignore(glob);
    }
    for host in &args.allowed_hosts {
        config = config.allowed_host(host);
    }
    for pattern in &args.deny {
        config = config.deny(pattern);
    }
    for glob in &args.reload_on {
        config = config.reload_on(glob);
    }
    for package in &args.exclude_dep {
        config = config.exclude_from_prebundle(package);
    }
    config = config.mode(&args.mode);
    match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => config = config.https(TlsConfig::pem_files(cert, key)),
        _ if args.https => config = config.https(TlsConfig::self_signed()),
        _ => {}
    }
    if args.proxy.iter().filter(|p| !p.starts_with('/')).count() > 1 {
        eprintln!(
            "error: --proxy URL (without /prefix=) can be given once; use --proxy /prefix=URL \
             for more backends"
        );
        return ExitCode::FAILURE;
    }
    for proxy in &args.proxy {
        config = match proxy.split_once('=') {
            Some((prefix, url)) if prefix.starts_with('/') => config.proxy_path(prefix, url),
            _ => config.proxy(proxy),
        };
    }
    config = config
        .proxy_all(args.proxy_all)
        .proxy_timeout(Duration::from_secs(args.proxy_timeout));
    config = config.inject(!args.no_inject);
    if let Some(host) = &args.hmr_host {
        config = config.hmr_host(host);
    }
    if let Some(port) = args.hmr_port {
        config = config.hmr_port(port);
    }
    if let Some(path) = &args.hmr_path {
        config = config.hmr_path(path);
    }
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("error: {err}{}", cli_hint(&err));
            return ExitCode::FAILURE;
        }
    };
    // Before the banner: whoever reads the URL may signal at once, or change a file at once
    // (an event sent before the subscription would be missed by --once and --json).
    let signals = shutdown_signal();
    let events = (args.json || args.once).then(|| server.service().events());
    let addr = server.local_addr();
    let scheme = if server.is_https() { "https" } else { "http" };
    let url = format!("{scheme}://{}/", display_addr(addr));
    let mut banner = banner(scheme, addr, server.service().root(), started);
    if let Some(source) = server.certificate() {
        banner.push_str(&certificate_lines(source));
    }
    for proxy in &args.proxy {
        banner.push_str(&format!("  ➜  Proxy:   {proxy}\n"));
    }
    if !args.proxy.is_empty() {
        banner.push('\n');
    }
    // With --json, stdout carries only events; people read the banner on stderr.
    if args.json {
        eprint!("{banner}");
    } else {
        use std::io::Write;
        // A closed pipe (`hotserve | head -3`) is no reason to stop serving.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    if let Some(events) = events {
        if args.json {
            print_json(&serde_json::json!({
                "event": "ready",
                "url": url,
                "root": server.service().root(),
                "version": env!("CARGO_PKG_VERSION"),
            }));
        }
        tokio::spawn(follow_events(events, args.json, args.once, done_tx));
    }
    if args.open {
        open_browser(&url);
    }
    let done = async {
        if done_rx.await.is_ok() {
            tracing::info!("--once: the first update went out; exiting");
        } else {
            std::future::pending::<()>().await;
        }
    };
    server
        .run(async {
            tokio::select! {
                () = signals => {}
                () = done => {}
            }
        })
        .await;
    ExitCode::SUCCESS
}

/// Print events as JSON lines (`--json`) and/or stop after the first update (`--once`).
async fn follow_events(
    mut events: hotserve::Events,
    json: bool,
    once: bool,
    done: tokio::sync::oneshot::Sender<()>,
) {
    while let Some(event) = events.next().await {
        if json {
            print_json(&event);
        }
        if once
            && let hotserve::Event::PayloadSent { payload, .. } = &event
            && matches!(payload.kind(), "update" | "full-reload")
        {
            let _ = done.send(());
            return;
        }
    }
}

fn print_json(value: &impl serde::Serialize) {
    use std::io::Write;
    if let Ok(line) = serde_json::to_string(value) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not worth a panic.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn banner(scheme: &str, addr: SocketAddr, root: &std::path::Path, started: Instant) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n  hotserve v{}  ready in {} ms\n",
        env!("CARGO_PKG_VERSION"),
        started.elapsed().as_millis()
    );
    let _ = writeln!(out, "  ➜  Serving: {}", root.display());
    if addr.ip().is_unspecified() {
        let _ = writeln!(out, "  ➜  Local:   {scheme}://localhost:{}/", addr.port());
        for ip in network_addresses(addr.ip()) {
            let _ = writeln!(
                out,
                "  ➜  Network: {scheme}://{}/",
                display_addr(SocketAddr::new(ip, addr.port()))
            );
        }
        let _ = writeln!(
            out,
            "\n  warning: the server is exposed to your network; anyone who can reach this \
             machine can read the served folder."
        );
    } else {
        let _ = writeln!(out, "  ➜  Local:   {scheme}://{}/", display_addr(addr));
    }
    out.push('\n');
    out
}

/// Where the HTTPS certificate came from, for the banner.
fn certificate_lines(source: &CertificateSource) -> String {
    match source {
        CertificateSource::Files { cert, .. } => {
            format!("  ➜  HTTPS:   certificate {}\n\n", cert.display())
        }
        CertificateSource::SelfSigned { cache, reused } => {
            let made = if *reused { "reused" } else { "generated" };
            let kept = match cache {
                Some(dir) => format!("kept in {}", dir.display()),
                None => "not cached: the browser will ask again next time".into(),
            };
            format!(
                "  ➜  HTTPS:   self-signed certificate for localhost ({made}); your browser asks \
                 you to accept it once\n              {kept}\n              (use --cert/--key \
                 with mkcert for a certificate browsers trust)\n\n"
            )
        }
        _ => String::new(),
    }
}

/// Host part for URLs: brackets around IPv6.
fn display_addr(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
    }
}

/// The machine's non-loopback addresses of the same family as `bound`.
fn network_addresses(bound: IpAddr) -> Vec<IpAddr> {
    let Ok(interfaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    interfaces
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| !ip.is_loopback() && ip.is_ipv4() == bound.is_ipv4())
        .collect()
}

fn init_logs(level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("hotserve={level},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_timer(ClockTime)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR"),
            std::env::var_os("CLICOLOR_FORCE"),
        ))
        .init();
}

/// Whether log lines get colour: only on a terminal (a file, a pipe or a CI log would keep
/// the escape codes), never with `NO_COLOR` set to anything (no-color.org), always with
/// `CLICOLOR_FORCE` set to anything but `0` (bixense.com/clicolors). `NO_COLOR` wins: it is
/// the person at the keyboard saying no.
fn colour(
    terminal: bool,
    no_color: Option<std::ffi::OsString>,
    force: Option<std::ffi::OsString>,
) -> bool {
    if no_color.is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if force.is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    terminal
}

/// `HH:MM:SS` (UTC) log timestamps: short, like Vite's.
struct ClockTime;

impl tracing_subscriber::fmt::time::FormatTime for ClockTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let day = secs % 86_400;
        write!(
            w,
            "{:02}:{:02}:{:02}",
            day / 3600,
            day % 3600 / 60,
            day % 60
        )
    }
}

/// Resolves on Ctrl-C or SIGTERM.
/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called (before
/// the banner), so a signal sent right after the URL appears is not fatal.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}

fn open_browser(url: &str) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(program)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(_) => {}
        Err(err) => {
            tracing::warn!("cannot open a browser with {program}: {err}; open {url} yourself")
        }
    }
}

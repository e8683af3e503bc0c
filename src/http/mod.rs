//! The request path, as stages:
//!
//! ```text
//! request -> route (router.rs: a decision) -> load (files.rs) -> transform (modules, css,
//!            inject)
//!         -> respond (respond.rs)                 and: what was served -> ServedLog
//! ```
//!
//! [`router::route`] decides what a request is (a file, the client, the HMR upgrade, a
//! proxied path, or a refusal) without touching anything; [`Site::act`] carries that out.
//! Loading a file is blocking file-system work on the blocking pool and returns a value;
//! the transform stage compiles TypeScript, JSX and the embedder's file types
//! ([`Modules::compile`]) and resolves a JavaScript module's package imports
//! ([`Packages::prepare`]), both on the blocking pool (compiling is CPU work, resolving
//! reads `package.json` files), hands modules to [`Modules::transform`] and stylesheets to [`Stylesheets::transform`], and puts
//! the client's tag into pages; rendering a response is a function of what was loaded. The
//! only thing this room tells the rest of the server is [`Served`], through the
//! [`ServedLog`] the composition root (`service.rs`) passes in. An HMR upgrade is checked
//! here (`ws.rs`) and the socket handed to the HMR channel.

pub(crate) mod body;
pub(crate) mod connection;
pub(crate) mod files;
pub(crate) mod fragment;
pub(crate) mod host;
pub(crate) mod inject;
#[cfg(feature = "proxy")]
pub(crate) mod proxy;
#[cfg(all(feature = "proxy", feature = "tls"))]
pub(crate) mod proxy_tls;
pub(crate) mod resolve;
pub(crate) mod respond;
pub(crate) mod router;
pub(crate) mod ws;

pub use body::Body;
#[cfg(any(feature = "proxy", feature = "tls"))]
pub(crate) use respond::escape_html;
#[cfg(feature = "proxy")]
pub(crate) use respond::html_response;
#[cfg(feature = "tls")]
pub(crate) use respond::page;
pub(crate) use respond::{empty, full};
#[cfg(feature = "proxy")]
pub(crate) use router::request_host;

use crate::client::ServedClient;
use crate::css::Stylesheets;
use crate::hmr::Hub;
use crate::modules::transform::OutputKind;
use crate::modules::{Kind, Modules};
use crate::packages::{ModuleError, Packages, Prepared};
use crate::{Config, Error};
use bytes::Bytes;
use files::{FileBody, FileRequest, FoundFile, Outcome, Rewrite};
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request, Response, StatusCode};
use resolve::{DenyList, SafePath};
use router::{Route, Routes};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What a request body may fail with.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Marks a request that arrived over TLS (set by the server, read by the proxy).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OverTls;

/// What one response gave a browser: the planner needs it to know which files a change
/// concerns and whether their bytes really changed.
#[derive(Debug)]
pub(crate) struct Served {
    /// The real path of the file.
    pub path: PathBuf,
    /// The URL path as requested (not decoded, no query).
    pub url: String,
    /// The file's entity tag (of the file, not of a rewritten module).
    pub etag: String,
    /// The file's bytes, when the server held them whole.
    pub body: Option<Bytes>,
    /// Modules a served module stopped importing and nothing else imports (for `prune`).
    pub pruned: Vec<String>,
    /// Served as a module (transformed), not as the file a page asked for: a change to it
    /// follows the module graph, while a `<link>`ed stylesheet gets a `css-update`.
    pub module: bool,
    /// The file could not be made into a module: show this in the browsers' overlay.
    pub error: Option<crate::protocol::ErrorInfo>,
    /// `path` is a folder whose listing page was sent: files that come and go in it
    /// change the page.
    pub listing: bool,
}

/// Where the request path reports what it served; wired by the composition root.
pub(crate) trait ServedLog: Send + Sync + std::fmt::Debug {
    /// Called once per response that sent (or confirmed, with a 304) a file.
    fn served(&self, served: Served);
}

/// What the transform stage hands to the respond stage.
#[derive(Debug)]
pub(crate) enum Ready {
    /// Sent as loaded: a file as it is, or any other outcome (304, 416, redirect, 404...).
    Loaded(Outcome),
    /// An HTML page with the client's `<script>` tag at the top of its head.
    Page(FoundFile),
    /// A module after [`Modules::transform`].
    Module { code: Bytes },
    /// The transform failed (500); the error also goes to the overlay through [`Served`].
    Broken(crate::protocol::ErrorInfo),
    /// A module that cannot run (an import that does not resolve, a CommonJS package):
    /// sent as a module that shows the error overlay and throws.
    Failed(Box<ModuleError>),
    /// A stylesheet whose references to hot-updated files were rewritten
    /// ([`Stylesheets::transform`]), or that a transform compiled (Sass for a `<link>`).
    Stylesheet { code: Bytes },
    /// A compiler helper that compiled modules import (`/@hotserve/runtime/helpers/...`).
    #[cfg(feature = "transform")]
    Helper(String),
}

/// What the steps before the module rewrite (compile, packages) made of a module's source.
#[derive(Debug)]
enum Staged {
    /// The loaded bytes, as they are.
    AsLoaded,
    /// This source instead, as a module of `kind` (a compiled `.ts` is JavaScript; compiled
    /// CSS that a module imports is a style module).
    Module(Kind, Bytes),
    /// Compiled to CSS for a page's `<link>`.
    Stylesheet(Bytes),
    /// Every transform declined: the file goes out as it is.
    Declined,
    /// The file did not compile: a 500, and the overlay.
    Broken(Box<crate::protocol::ErrorInfo>),
    /// A module that cannot run (an import that does not resolve).
    Failed(Box<ModuleError>),
    /// A page whose inline module scripts had imports resolved.
    #[cfg_attr(not(feature = "node"), allow(dead_code))]
    Page(Bytes),
}

/// The request path's state, shared by all connections.
#[derive(Debug)]
pub(crate) struct Site {
    /// Canonical root folder.
    root: PathBuf,
    deny: DenyList,
    /// What directory listings leave out (the configuration's ignore globs).
    unlisted: files::Unlisted,
    spa: bool,
    /// Put the client's `<script>` into served HTML pages.
    inject: bool,
    routes: Routes,
    /// Small files by request path.
    cache: files::FileCache,
    /// `public/` under the root (canonical), if it exists: its files are served at `/` as
    /// they are, ahead of the root's (Vite's `publicDir`). Looked up again when a file under
    /// it changes, so a `public/` made (or removed) while the server runs counts.
    public: std::sync::RwLock<Option<PathBuf>>,
    /// Small files of `public/` by request path (the same paths as the root's, so apart).
    public_cache: files::FileCache,
    /// The browser client served at [`CLIENT_PATH`](crate::client::CLIENT_PATH).
    client: ServedClient,
    /// The per-process secret a browser must present to open the HMR socket.
    token: String,
    /// Where upgraded HMR sockets go.
    hub: Hub,
    /// The transform stage's module graph.
    modules: Arc<Modules>,
    /// npm packages: bare specifiers, versions, the `/@fs/` route.
    packages: Arc<Packages>,
    /// The transform stage's stylesheet graph.
    styles: Arc<Stylesheets>,
    served: Arc<dyn ServedLog>,
}

impl Site {
    /// The request path for `config` serving the canonical `root`: upgrades go to `hub`,
    /// modules through `packages` and `modules`, and every file served is reported to
    /// `served`.
    pub fn new(
        config: &Config,
        root: PathBuf,
        token: String,
        hub: Hub,
        (packages, modules, styles): (Arc<Packages>, Arc<Modules>, Arc<Stylesheets>),
        served: Arc<dyn ServedLog>,
    ) -> Result<Self, Error> {
        Ok(Site {
            routes: Routes {
                hosts: host::HostPolicy::new(&config.host, &config.allowed_hosts),
                hmr_path: config.hmr_path.clone(),
                #[cfg(feature = "proxy")]
                proxy: proxy::Proxy::new(&config.proxy, &token, config.inject)?,
            },
            deny: DenyList::new(&config.deny)?,
            unlisted: files::Unlisted::new(&root, &config.ignore)?,
            spa: config.spa,
            inject: config.inject,
            cache: Default::default(),
            public: std::sync::RwLock::new(public_dir(&root)),
            public_cache: Default::default(),
            client: ServedClient::new(crate::client::ClientConfig::of(config, &token)),
            root,
            token,
            hub,
            modules,
            packages,
            styles,
            served,
        })
    }

    /// The canonical folder being served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The secret browsers present to open the HMR socket.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Tell the served client where the server listens, for its direct-address fallback.
    pub fn bound_to(&self, addr: std::net::SocketAddr) {
        self.client.bind(addr);
    }

    /// Forget cached copies of files that changed.
    pub fn forget<'a>(&self, real_paths: impl IntoIterator<Item = &'a Path> + Clone) {
        self.cache.forget(real_paths.clone());
        self.public_cache.forget(real_paths.clone());
        let under_public = self.root.join("public");
        if real_paths.into_iter().any(|p| p.starts_with(&under_public)) {
            let now = public_dir(&self.root);
            let mut public = self.public.write().unwrap_or_else(|e| e.into_inner());
            if *public != now {
                // The root's cached answers may be for paths that `public/` now takes.
                self.cache.clear();
                self.public_cache.clear();
                *public = now;
            }
        }
    }

    /// `public/`, if it exists now.
    fn public(&self) -> Option<PathBuf> {
        self.public
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// End proxied WebSocket tunnels (shutdown).
    pub fn close_tunnels(&self) {
        #[cfg(feature = "proxy")]
        if let Some(proxy) = &self.routes.proxy {
            proxy.close_tunnels();
        }
    }

    /// Answer one request. Never fails: every problem is a status code.
    pub async fn handle<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let response = self.act(req).await;
        tracing::debug!(
            "{method} {path} {} {:.1?}",
            response.status().as_u16(),
            started.elapsed()
        );
        response
    }

    /// Route the request, then carry the decision out.
    async fn act<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let head = req.method() == Method::HEAD;
        let res = match router::route(&req, &self.routes) {
            #[cfg(feature = "proxy")]
            Route::Proxy(proxy, target) => return proxy.forward(req, target).await,
            Route::Upgrade(protocol) => {
                let hosts = &self.routes.hosts;
                let mut res = ws::upgrade(req, protocol, hosts, &self.token, &self.hub);
                if res.status() != StatusCode::SWITCHING_PROTOCOLS {
                    ws::close_after(&mut res);
                }
                res
            }
            Route::Client => respond::client(
                self.client.current(),
                &file_request(&req, self.inject, None),
            ),
            #[cfg(feature = "transform")]
            Route::Helper(module) => respond::respond(
                Ready::Helper(module),
                &file_request(&req, self.inject, None),
                req.uri(),
            ),
            #[cfg(feature = "transform")]
            Route::Refresh => {
                let file_req = file_request(&req, false, None);
                self.clone()
                    .refresh_runtime(file_req, req.uri().clone())
                    .await
            }
            Route::File(safe) => self.clone().file(req, safe).await,
            Route::OutsideRoot(encoded) => self.clone().outside(req, encoded).await,
            #[cfg(feature = "bundle")]
            Route::Deps(name) => {
                let file_req = file_request(&req, false, None);
                self.deps(file_req, req.uri().clone(), &name).await
            }
            Route::Refuse(refusal) => respond::refusal(&refusal),
        };
        if head { respond::head_of(res) } else { res }
    }

    /// load -> transform -> report what was served -> respond.
    async fn file<B>(self: Arc<Self>, req: Request<B>, safe: SafePath) -> Response<Body>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let mut file_req = file_request(&req, self.inject, Some(&self.modules));
        if self.inject {
            file_req.deps_version = self.packages.version();
        }
        let Some((outcome, file_req)) = self.clone().load(safe, file_req).await else {
            return respond::internal_error();
        };
        #[cfg(feature = "proxy")]
        // A folder without a page is the backend's to answer too.
        if matches!(outcome, Outcome::NotFound | Outcome::Listing(_))
            && let Some((proxy, target)) = self.routes.after_missing_file()
        {
            return proxy.forward(req, target).await;
        }
        self.finish(outcome, &file_req, req.uri()).await
    }

    /// A file outside the root through `/@fs/`: only inside package folders that imports
    /// resolved to (see [`crate::packages`]); `encoded` is the absolute path as sent.
    async fn outside<B>(self: Arc<Self>, req: Request<B>, encoded: String) -> Response<Body> {
        use crate::packages::FsTarget;
        let file_req = file_request(&req, false, None);
        let site = self.clone();
        let decided = tokio::task::spawn_blocking(move || {
            let outcome = match site.packages.fs_target(&encoded, &site.deny) {
                FsTarget::File(real) => Ok(files::open_outside(real, &file_req)),
                FsTarget::NotFound => Ok(Outcome::NotFound),
                FsTarget::Refused(refusal) => Err(refusal),
            };
            (outcome, file_req)
        })
        .await;
        match decided {
            Ok((Ok(outcome), file_req)) => self.finish(outcome, &file_req, req.uri()).await,
            Ok((Err(resolve::Refusal::BadRequest), _)) => {
                respond::refusal(&router::Refusal::MalformedPath)
            }
            Ok((Err(resolve::Refusal::Forbidden), _)) => {
                respond::refusal(&router::Refusal::Forbidden)
            }
            Err(err) => {
                tracing::warn!(%err, "file task failed");
                respond::internal_error()
            }
        }
    }

    /// A pre-bundled dependency chunk, from memory once its build is done. A chunk whose
    /// URL names its content is cached for good.
    #[cfg(feature = "bundle")]
    async fn deps(&self, file_req: FileRequest, uri: hyper::Uri, name: &str) -> Response<Body> {
        use crate::packages::prebundle::DepsFile;
        let ready = match self.packages.deps_file(name, uri.query()).await {
            DepsFile::Code { code, immutable } => {
                let mut res = respond::respond(Ready::Module { code }, &file_req, &uri);
                if immutable && res.status() == StatusCode::OK {
                    res.headers_mut().insert(
                        header::CACHE_CONTROL,
                        header::HeaderValue::from_static("max-age=31536000, immutable"),
                    );
                }
                return res;
            }
            DepsFile::Failed(err) => {
                tracing::error!("{}", err.message);
                self.hub
                    .send(crate::protocol::Payload::Error { err: err.info() });
                Ready::Failed(err)
            }
            DepsFile::NotFound => Ready::Loaded(Outcome::NotFound),
            DepsFile::Refused => return respond::refusal(&router::Refusal::Forbidden),
            DepsFile::Unavailable => return respond::unavailable(),
        };
        respond::respond(ready, &file_req, &uri)
    }

    /// The Fast Refresh runtime module, its bare imports resolved as an application module's
    /// at the root would be (to the project's own refresh package, pre-bundled). Not found
    /// when the project does not have the runtime installed.
    #[cfg(feature = "transform")]
    async fn refresh_runtime(
        self: Arc<Self>,
        file_req: FileRequest,
        uri: hyper::Uri,
    ) -> Response<Body> {
        let runtime = self.modules.refresh_runtime();
        let Some(runtime) = runtime.filter(|r| r.url() == uri.path()) else {
            return respond::respond(Ready::Loaded(Outcome::NotFound), &file_req, &uri);
        };
        let site = self.clone();
        let source = runtime.source();
        let prepared = tokio::task::spawn_blocking(move || {
            let at = runtime.resolve_from(&site.root);
            let prepared = site.packages.prepare(&at, runtime.url(), &source, None);
            (prepared, source)
        })
        .await;
        let ready = match prepared {
            Ok((Prepared::Code(code), _)) => Ready::Module {
                code: Bytes::from(code),
            },
            Ok((Prepared::Unchanged, source)) => Ready::Module {
                code: Bytes::from(source),
            },
            Ok((Prepared::Failed(err), _)) => {
                tracing::error!("{}", err.message);
                self.hub
                    .send(crate::protocol::Payload::Error { err: err.info() });
                Ready::Failed(err)
            }
            Err(err) => {
                tracing::warn!(%err, "refresh runtime task failed");
                return respond::internal_error();
            }
        };
        respond::respond(ready, &file_req, &uri)
    }

    /// transform -> report what was served -> respond.
    async fn finish(
        self: Arc<Self>,
        outcome: Outcome,
        file_req: &FileRequest,
        uri: &hyper::Uri,
    ) -> Response<Body> {
        let mut for_good = match &outcome {
            Outcome::File(found) => self.packages.cache_for_good(&found.path, uri.query()),
            _ => false,
        };
        let staged = self.clone().prepare(&outcome, uri).await;
        let (ready, served) = self.transform(outcome, uri.path(), staged, file_req);
        if let Some(served) = served {
            self.served.served(served);
        }
        if let Ready::Failed(err) = &ready {
            tracing::error!("{}", err.message);
            self.hub
                .send(crate::protocol::Payload::Error { err: err.info() });
            for_good = false;
        }
        let mut res = respond::respond(ready, file_req, uri);
        if for_good && res.status() == StatusCode::OK {
            // The URL carries the dependency version, which changes whenever the packages
            // do: the browser never needs to ask again.
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("max-age=31536000, immutable"),
            );
        }
        res
    }

    /// The steps before the module rewrite, on the blocking pool: a file a transform takes
    /// (TypeScript, JSX, an embedder's type) is compiled; then, for JavaScript, the package
    /// step: bare specifiers resolved, and in package code every import versioned and
    /// `process.env.NODE_ENV` replaced.
    async fn prepare(self: Arc<Self>, outcome: &Outcome, uri: &hyper::Uri) -> Staged {
        let Outcome::File(found) = outcome else {
            return Staged::AsLoaded;
        };
        #[cfg(feature = "node")]
        if let (Rewrite::Page, FileBody::Bytes(bytes)) = (found.rewrite, &found.body)
            && crate::packages::has_inline_modules(bytes)
        {
            let (bytes, real, url) = (bytes.clone(), found.path.clone(), uri.path().to_owned());
            return tokio::task::spawn_blocking(move || self.stage_page(&real, &url, &bytes))
                .await
                .unwrap_or(Staged::AsLoaded);
        }
        let (Rewrite::Module(kind), FileBody::Bytes(bytes)) = (found.rewrite, &found.body) else {
            return Staged::AsLoaded;
        };
        let compiled = matches!(kind, Kind::Compiled { .. });
        if !compiled && (kind != Kind::JavaScript || !cfg!(feature = "node")) {
            return Staged::AsLoaded;
        }
        let (bytes, real) = (bytes.clone(), found.path.clone());
        let url = percent_encoding::percent_decode_str(uri.path())
            .decode_utf8_lossy()
            .into_owned();
        tokio::task::spawn_blocking(move || self.stage(kind, &real, &url, bytes))
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(%err, "transform task failed");
                Staged::AsLoaded
            })
    }

    /// [`prepare`](Self::prepare)'s blocking part for the page at `real`, served at `url`:
    /// the imports of its inline modules resolved; one that does not resolve gets the
    /// terminal line and the overlay, as a module's would.
    #[cfg(feature = "node")]
    fn stage_page(&self, real: &Path, url: &str, bytes: &Bytes) -> Staged {
        let Ok(html) = std::str::from_utf8(bytes) else {
            return Staged::AsLoaded;
        };
        let page = self.packages.prepare_page(real, url, html);
        for err in page.errors {
            tracing::error!("{}", err.message);
            self.hub
                .send(crate::protocol::Payload::Error { err: err.info() });
        }
        match page.html {
            Some(html) => Staged::Page(Bytes::from(html)),
            None => Staged::AsLoaded,
        }
    }

    /// [`prepare`](Self::prepare)'s blocking part for the module at `real`, served at `url`
    /// (decoded).
    fn stage(&self, kind: Kind, real: &Path, url: &str, source: Bytes) -> Staged {
        // The file as written, when it compiles: errors point into it.
        let written = source.clone();
        let compiled = matches!(kind, Kind::Compiled { .. });
        let (source, kind) = match kind {
            Kind::Compiled { imported } => match self.modules.compile(real, url, &source) {
                Err(err) => return Staged::Broken(err),
                Ok(None) if crate::modules::kind_of(real) == Some(Kind::JavaScript) => {
                    (source, Kind::JavaScript)
                }
                Ok(None) => return Staged::Declined,
                Ok(Some(out)) => {
                    let code = Bytes::from(out.code.clone());
                    match out.kind {
                        OutputKind::Js => (code, Kind::JavaScript),
                        OutputKind::Css if imported => {
                            let style = Kind::Wrapped(crate::modules::wrap::Wrap::Style);
                            return Staged::Module(style, code);
                        }
                        OutputKind::Css => return Staged::Stylesheet(code),
                    }
                }
            },
            other => (source, other),
        };
        let Ok(text) = std::str::from_utf8(&source) else {
            return Staged::Module(kind, source);
        };
        let written = std::str::from_utf8(&written).ok().filter(|_| compiled);
        match self.packages.prepare(real, url, text, written) {
            Prepared::Unchanged => Staged::Module(kind, source),
            Prepared::Code(code) => Staged::Module(kind, Bytes::from(code)),
            Prepared::Failed(err) => Staged::Failed(err),
        }
    }

    /// The load stage: the cache, or the file system on the blocking pool. `None` when the
    /// blocking task failed (logged).
    async fn load(
        self: Arc<Self>,
        safe: SafePath,
        file_req: FileRequest,
    ) -> Option<(Outcome, FileRequest)> {
        // Vite serves `public/` first: `/vite.svg` is `public/vite.svg` even when the root
        // has one too. Directories (and so pages at `/`) always come from the root.
        let try_public = !safe.trailing_slash && !safe.segments.is_empty();
        if let Some(public) = self.public().filter(|_| try_public) {
            let as_is = FileRequest {
                as_is: true,
                ..file_req.clone()
            };
            if let Some(outcome) = self.public_cache.lookup(&public, &safe, &as_is) {
                return Some((outcome, as_is));
            }
        }
        if let Some(outcome) = self.cache.lookup(&self.root, &safe, &file_req) {
            return Some((outcome, file_req));
        }
        let decided = tokio::task::spawn_blocking(move || {
            let site = &self;
            if let Some(public) = site.public().filter(|_| try_public) {
                let as_is = FileRequest {
                    as_is: true,
                    ..file_req.clone()
                };
                // No SPA fallback here: a miss goes on to the root.
                let outcome = files::decide(
                    &public,
                    &site.deny,
                    false,
                    &site.public_cache,
                    &safe,
                    &as_is,
                    &site.unlisted,
                );
                if !matches!(outcome, Outcome::NotFound | Outcome::AddSlash) {
                    return (outcome, as_is);
                }
            }
            let outcome = files::decide(
                &site.root,
                &site.deny,
                site.spa,
                &site.cache,
                &safe,
                &file_req,
                &site.unlisted,
            );
            (outcome, file_req)
        })
        .await;
        decided
            .inspect_err(|err| tracing::warn!(%err, "file task failed"))
            .ok()
    }

    /// The transform stage: modules go through [`Modules::transform`], stylesheets through
    /// [`Stylesheets::transform`], pages get the client's tag, everything else passes as
    /// loaded. Also says what was served, for the planner: `url` is the request path as
    /// received.
    ///
    /// `staged` is what the compile and package steps made of a module; `req` decides
    /// conditionals and ranges of a file sent as it is.
    fn transform(
        &self,
        outcome: Outcome,
        url: &str,
        staged: Staged,
        req: &FileRequest,
    ) -> (Ready, Option<Served>) {
        let served = |path: &Path, etag: &str, body: Option<Bytes>| Served {
            path: path.to_path_buf(),
            url: url.to_owned(),
            etag: etag.to_owned(),
            body,
            pruned: Vec::new(),
            module: false,
            error: None,
            listing: false,
        };
        match outcome {
            Outcome::File(found) => {
                let whole = match &found.body {
                    FileBody::Bytes(bytes) if found.range.is_none() => Some(bytes.clone()),
                    _ => None,
                };
                let record = served(&found.path, &found.validators.etag, whole);
                match found.rewrite {
                    Rewrite::Module(kind) => {
                        let source = match &found.body {
                            FileBody::Bytes(source) => source.clone(),
                            _ if !kind.needs_source() => Bytes::new(),
                            _ => return (Ready::Loaded(Outcome::File(found)), None),
                        };
                        let (kind, source) = match staged {
                            Staged::AsLoaded | Staged::Page(_) => (kind, source),
                            Staged::Module(kind, code) => (kind, code),
                            Staged::Failed(err) => return (Ready::Failed(err), Some(record)),
                            Staged::Broken(err) => {
                                let record = Served {
                                    module: true,
                                    error: Some((*err).clone()),
                                    ..record
                                };
                                return (Ready::Broken(*err), Some(record));
                            }
                            Staged::Stylesheet(code) => {
                                let decoded =
                                    percent_encoding::percent_decode_str(url).decode_utf8_lossy();
                                let packages = |value: &str| {
                                    self.packages.stylesheet_import(&found.path, value)
                                };
                                let code = self
                                    .styles
                                    .transform(&decoded, &code, &packages)
                                    .unwrap_or(code);
                                return (Ready::Stylesheet { code }, Some(record));
                            }
                            Staged::Declined => {
                                let ready =
                                    files::respond_as_is(found.path, found.validators, source, req);
                                return (Ready::Loaded(ready), Some(record));
                            }
                        };
                        let decoded = percent_encoding::percent_decode_str(url).decode_utf8_lossy();
                        let source = if kind.is_stylesheet() {
                            // Into the stylesheet graph, references written from the root.
                            let packages =
                                |value: &str| self.packages.stylesheet_import(&found.path, value);
                            self.styles.transform_inlined(&decoded, &source, &packages)
                        } else {
                            source
                        };
                        let module = self.modules.transform(kind, &decoded, &source);
                        let record = Served {
                            pruned: module.pruned,
                            module: true,
                            error: module.failure.clone(),
                            ..record
                        };
                        let ready = match module.failure {
                            Some(failure) => Ready::Broken(failure),
                            None => Ready::Module { code: module.code },
                        };
                        (ready, Some(record))
                    }
                    Rewrite::Stylesheet => {
                        let FileBody::Bytes(source) = &found.body else {
                            return (Ready::Loaded(Outcome::File(found)), None);
                        };
                        let decoded = percent_encoding::percent_decode_str(url).decode_utf8_lossy();
                        let packages =
                            |value: &str| self.packages.stylesheet_import(&found.path, value);
                        let ready = match self.styles.transform(&decoded, source, &packages) {
                            Some(code) => Ready::Stylesheet { code },
                            // Nothing rewritten: the file's own validators and ranges apply.
                            None => Ready::Loaded(files::respond_as_is(
                                found.path,
                                found.validators,
                                source.clone(),
                                req,
                            )),
                        };
                        (ready, Some(record))
                    }
                    Rewrite::Page => {
                        let preamble = self.modules.refresh_preamble();
                        let (body, len) = match (staged, found.body) {
                            (Staged::Page(html), _) | (_, FileBody::Bytes(html)) => {
                                let page = inject::inject_page(&html, preamble);
                                let len = page.len() as u64;
                                (FileBody::Bytes(Bytes::from(page)), len)
                            }
                            (_, other) => {
                                (other, found.len + inject::injected_len(preamble) as u64)
                            }
                        };
                        let page = FoundFile { len, body, ..found };
                        (Ready::Page(page), Some(record))
                    }
                    Rewrite::None => (Ready::Loaded(Outcome::File(found)), Some(record)),
                }
            }
            Outcome::Listing(listing) => {
                // Recorded by the folder's path: files added to or removed from it reload
                // the pages that show the listing.
                let record = Served {
                    listing: true,
                    ..served(&listing.path, "", None)
                };
                (Ready::Loaded(Outcome::Listing(listing)), Some(record))
            }
            Outcome::NotModified { path, validators } => {
                let record = served(&path, &validators.etag, None);
                let ready = Ready::Loaded(Outcome::NotModified { path, validators });
                (ready, Some(record))
            }
            other => (Ready::Loaded(other), None),
        }
    }
}

/// The request facts the load stage decides on; `modules` says which file types are
/// compiled (for file requests under the root).
fn file_request<B>(
    req: &Request<B>,
    inject_client: bool,
    modules: Option<&Arc<Modules>>,
) -> FileRequest {
    let headers = req.headers();
    let text = |name: header::HeaderName| header_text(headers, name);
    let script_destination = headers
        .get("sec-fetch-dest")
        .is_some_and(|v| v.as_bytes() == b"script");
    let compiled = modules.is_some_and(|m| m.compiles(req.uri().path()));
    FileRequest {
        if_none_match: text(header::IF_NONE_MATCH),
        if_modified_since: text(header::IF_MODIFIED_SINCE),
        range: if req.method() == Method::GET {
            text(header::RANGE)
        } else {
            None
        },
        if_range: text(header::IF_RANGE),
        head: req.method() == Method::HEAD,
        accepts_html: headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/html")),
        inject_client,
        wrap: crate::modules::wrap::decide(
            req.uri().path(),
            req.uri().query(),
            script_destination,
            compiled,
        ),
        as_is: false,
        imported: crate::modules::wrap::imported(req.uri().query(), script_destination),
        deps_version: None,
        modules: modules.cloned(),
    }
}

/// `public/` under the root, canonical, when it is a folder inside the root (a symlink
/// that leaves the root is not followed, like any other).
fn public_dir(root: &Path) -> Option<PathBuf> {
    let public = std::fs::canonicalize(root.join("public")).ok()?;
    (public.starts_with(root) && public != root && public.is_dir()).then_some(public)
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

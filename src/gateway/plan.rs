//! From what the command line asks for to a stack that can start: the
//! recipe found, the flags mapped onto the server's own, the `--cmd`
//! placeholders and the `--url` checked. Planning starts nothing and runs
//! no Python, so every stack of a matrix is planned before the first starts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::error::PlanError;
use super::proxy::{ProxyKind, ProxySpec};
use super::recipe::{self, Listen, Recipe, RecipeBook, Tuning};
use crate::http::{parse_url_with, Target};

/// What to check: a known server, a command template, or a URL.
#[derive(Debug, Clone)]
pub enum GatewayKind {
    /// A recipe by name; `version` asks for that release in a managed environment.
    Server {
        name: String,
        version: Option<String>,
    },
    Command(String),
    Url(String),
}

/// Everything needed to bring a gateway up, as the command line gives it.
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    pub kind: GatewayKind,
    /// The Python interpreter (`{python}`).
    pub python: String,
    /// Loopback address servers bind to.
    pub host: String,
    /// How long a server has to start serving the probe.
    pub start_timeout: Duration,
    /// `--workers`, `--threads`, `--worker-class`.
    pub tuning: Tuning,
    /// nginx in front, if any.
    pub proxy: Option<ProxySpec>,
    /// Serve on a unix socket rather than TCP (without a proxy).
    pub unix: bool,
    /// May a missing server be installed into a managed environment?
    pub install: bool,
    pub recipes: Arc<RecipeBook>,
    /// Load the probe behind `wsgiref.validate` (`{app}` is
    /// `wsgiprobe_app:validated_app`).
    pub validate: bool,
    /// Host this application instead of the probe (`bench --app`; a suite
    /// workload that names an app).
    pub app: Option<UserApp>,
    /// `--url https://`: accept any certificate.
    pub insecure: bool,
}

/// The user's own WSGI application, hosted instead of the probe under any
/// stack: `{app}` is its `module:callable` and the server runs in its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserApp {
    /// `module:callable`, as every gateway takes it.
    pub callable: String,
    /// The folder the module is imported from (`{app_dir}`).
    pub dir: PathBuf,
    /// The path readiness asks for: the stack is up once a request to it
    /// gets any answer (an app has no probe to ping).
    pub path: String,
}

impl UserApp {
    /// `app:app in examples/flaskapp`, for reports.
    pub fn describe(&self) -> String {
        format!("{} in {}", self.callable, self.dir.display())
    }
}

impl GatewaySpec {
    /// How the server itself listens.
    pub fn listen(&self) -> Listen {
        match self.proxy.as_ref().map(|p| p.kind) {
            Some(ProxyKind::Nginx | ProxyKind::NginxTls) => Listen::Tcp,
            Some(ProxyKind::NginxUnix) => Listen::Unix,
            Some(ProxyKind::NginxUwsgi) => Listen::Uwsgi,
            None if self.unix => Listen::Unix,
            None => Listen::Tcp,
        }
    }

    /// A short name for the stack: `gunicorn gthread x4 + nginx`.
    pub fn label(&self) -> String {
        let mut s = match &self.kind {
            GatewayKind::Server { name, version } => match version {
                Some(v) => format!("{name}=={v}"),
                None => name.clone(),
            },
            GatewayKind::Command(cmd) => format!("`{cmd}`"),
            GatewayKind::Url(url) => url.clone(),
        };
        if let Some(app) = &self.app {
            s.push_str(&format!(" [{}]", app.callable));
        }
        let t = &self.tuning;
        if let Some(c) = &t.worker_class {
            s.push_str(&format!(" {c}"));
        }
        if let Some(w) = t.workers {
            s.push_str(&format!(" w{w}"));
        }
        if let Some(n) = t.threads {
            s.push_str(&format!(" t{n}"));
        }
        if self.unix && self.proxy.is_none() {
            s.push_str(" unix");
        }
        if let Some(p) = &self.proxy {
            s.push_str(&format!(" + {}", p.kind.as_str()));
            if p.keepalive {
                s.push_str(" keepalive");
            }
        }
        if t.trust_proxy {
            s.push_str(" trusted");
        }
        if let Some(prefix) = &t.prefix {
            s.push_str(&format!(" under {prefix}"));
        }
        s
    }
}

/// A stack checked against its recipe, ready for `Gateway::start`.
#[derive(Debug, Clone)]
pub struct StackPlan {
    spec: GatewaySpec,
    pub(super) how: How,
}

/// What `Gateway::start` does with a plan.
#[derive(Debug, Clone)]
pub(super) enum How {
    Reach(UrlPlan),
    Launch(Box<LaunchPlan>),
}

/// A server wsgiprobe does not start: where it is.
#[derive(Debug, Clone)]
pub struct UrlPlan {
    pub url: String,
    pub target: Target,
    /// Path prefix every request target is joined to.
    pub base_path: String,
}

/// A command to launch: its template with the server's flags filled in.
#[derive(Debug, Clone)]
pub(super) struct LaunchPlan {
    /// `None` for `--cmd`.
    pub server: Option<ServerPlan>,
    pub template: String,
    /// Launch options to record with the stack.
    pub options: BTreeMap<String, String>,
    /// Cases the recipe's launch makes unfit to judge the server by.
    pub excuses: BTreeMap<String, String>,
}

/// A known server: which interpreter runs it is found at start.
#[derive(Debug, Clone)]
pub(super) struct ServerPlan {
    pub name: String,
    /// A pinned release, run from a managed environment.
    pub version: Option<String>,
    pub recipe: Recipe,
    /// Python modules the launch needs besides the server's own.
    pub extra_packages: Vec<String>,
}

impl StackPlan {
    /// What the command line asked for.
    pub fn spec(&self) -> &GatewaySpec {
        &self.spec
    }

    /// A short name for the stack, as `GatewaySpec::label`.
    pub fn label(&self) -> String {
        self.spec.label()
    }

    /// The same stack hosting `app` instead of the probe (a suite workload
    /// that names an app), checked as `plan` checks any stack.
    pub fn with_app(&self, app: &UserApp) -> Result<StackPlan, PlanError> {
        let mut spec = self.spec.clone();
        spec.app = Some(app.clone());
        plan(&spec)
    }

    /// For `--url`: where the server is.
    pub fn url(&self) -> Option<&UrlPlan> {
        match &self.how {
            How::Reach(u) => Some(u),
            How::Launch(_) => None,
        }
    }
}

/// What the deploy cases' verdicts need to know of a stack: what is in
/// front of the server, and whether it was told to trust it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// The server's name for messages (`gunicorn`; `the server` for a
    /// command or a URL).
    pub server: String,
    /// nginx in front, if any.
    pub proxy: Option<ProxyKind>,
    /// wsgiprobe knows the server's settings (it has a recipe).
    pub known: bool,
    /// The recipe's flags that make the server trust the proxy, if any.
    pub trust_flags: Option<String>,
    /// Those flags were applied (`--trust-proxy`).
    pub trusted: bool,
    /// What the server takes from a trusted proxy (`scheme`, `client`, `host`).
    pub trust_covers: Vec<String>,
    /// What the server does with the proxy's headers when not told.
    pub trust_default: Option<String>,
}

impl StackPlan {
    /// The stack as the deploy cases' verdicts see it.
    pub fn deployment(&self) -> Deployment {
        let spec = &self.spec;
        let mut d = Deployment {
            server: "the server".into(),
            proxy: spec.proxy.as_ref().map(|p| p.kind),
            trusted: spec.tuning.trust_proxy,
            ..Deployment::default()
        };
        if let How::Launch(launch) = &self.how {
            if let Some(server) = &launch.server {
                d.server = server.name.clone();
                d.known = true;
                d.trust_flags = server
                    .recipe
                    .trust_proxy
                    .as_ref()
                    .map(|f| f.replace("{proxy_addr}", recipe::proxy_addr(spec.listen())));
                d.trust_covers = server.recipe.trust_covers.clone();
                d.trust_default = server.recipe.trust_default.clone();
            }
        }
        d
    }
}

/// Checks a stack against its recipe and the command line's rules, and
/// resolves what can be resolved without starting anything.
pub fn plan(spec: &GatewaySpec) -> Result<StackPlan, PlanError> {
    if !matches!(spec.kind, GatewayKind::Url(_)) {
        no_control("--python", &spec.python)?;
        no_control("the host", &spec.host)?;
        if let Some(p) = &spec.proxy {
            no_control("--nginx", &p.nginx)?;
        }
    }
    if let Some(app) = &spec.app {
        check_app(spec, app)?;
    }
    let how = match &spec.kind {
        GatewayKind::Url(url) => How::Reach(plan_url(spec, url)?),
        GatewayKind::Server { name, version } => {
            let recipe = spec.recipes.get(name)?;
            let prepared = recipe.prepare(name, spec.listen(), &spec.tuning)?;
            if version.is_some() && recipe.package.is_none() {
                return Err(PlanError::Unsupported {
                    server: name.clone(),
                    what:
                        "a pinned version: it is part of Python (pick the interpreter with --python)"
                            .into(),
                });
            }
            How::Launch(Box::new(LaunchPlan {
                server: Some(ServerPlan {
                    name: name.clone(),
                    version: version.clone(),
                    recipe: recipe.clone(),
                    extra_packages: prepared.extra_packages,
                }),
                template: prepared.template,
                options: prepared.options,
                excuses: prepared.excuses,
            }))
        }
        GatewayKind::Command(template) => {
            if !spec.tuning.is_default() {
                return Err(PlanError::Unsupported {
                    server: "--cmd".into(),
                    what: "--workers, --threads, --worker-class, --trust-proxy or --prefix: put the server's own flags in the command (or give it a recipe with --recipes)".into(),
                });
            }
            let (placeholder, why) = match spec.listen() {
                Listen::Tcp => (
                    "{port}",
                    "TCP: wsgiprobe picks a free port and the server must bind it",
                ),
                _ => (
                    "{socket}",
                    "a unix socket: wsgiprobe picks its path and the server must bind it",
                ),
            };
            if !template.contains(placeholder) {
                return Err(PlanError::CmdPlaceholder { placeholder, why });
            }
            How::Launch(Box::new(LaunchPlan {
                server: None,
                template: template.clone(),
                options: BTreeMap::new(),
                excuses: BTreeMap::new(),
            }))
        }
    };
    Ok(StackPlan {
        spec: spec.clone(),
        how,
    })
}

/// Refuses a value bound for a command line if it holds a control
/// character (a newline would start another shell command).
fn no_control(what: &'static str, value: &str) -> Result<(), PlanError> {
    match value.char_indices().find(|(_, c)| c.is_control()) {
        Some((at, ch)) => Err(PlanError::ControlCharacter {
            what,
            value: value.to_string(),
            at,
            ch,
        }),
        None => Ok(()),
    }
}

/// A user's app must name a callable the way every server's command line
/// takes it (it goes into the command unquoted), in a folder that holds it.
fn check_app(spec: &GatewaySpec, app: &UserApp) -> Result<(), PlanError> {
    let bad = |detail: String| PlanError::BadApp {
        app: app.callable.clone(),
        detail,
    };
    let unsupported = |server: &str, what: &str| PlanError::Unsupported {
        server: server.into(),
        what: what.into(),
    };
    if matches!(spec.kind, GatewayKind::Url(_)) {
        return Err(unsupported(
            "--url",
            "--app: the server at the URL already hosts its app (bench --url measures it as it is)",
        ));
    }
    if spec.validate {
        return Err(unsupported(
            "--app",
            "--validate: the validator wraps the probe app",
        ));
    }
    let ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let Some((module, callable)) = app.callable.split_once(':') else {
        return Err(bad(
            "give MODULE:CALLABLE, as `app:app` for app.py's `app`".into()
        ));
    };
    if !module.split('.').all(ident) || !ident(callable) {
        return Err(bad(
            "MODULE:CALLABLE takes Python names only (`app:app`, `mysite.wsgi:application`)".into(),
        ));
    }
    if !app.dir.is_dir() {
        return Err(bad(format!(
            "--app-dir {} is not a folder",
            app.dir.display()
        )));
    }
    let top = module.split('.').next().unwrap_or(module);
    if !app.dir.join(format!("{top}.py")).is_file() && !app.dir.join(top).is_dir() {
        return Err(bad(format!(
            "{} has no {top}.py and no {top}/ package; point --app-dir at the folder that holds it",
            app.dir.display()
        )));
    }
    if !app.path.starts_with('/')
        || app
            .path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad(format!(
            "--path {:?} must start with / and hold no spaces",
            app.path
        )));
    }
    Ok(())
}

fn plan_url(spec: &GatewaySpec, url: &str) -> Result<UrlPlan, PlanError> {
    let extra = if spec.proxy.is_some() {
        Some("--proxy")
    } else if spec.tuning.prefix.is_some() {
        Some("--prefix: the path of the URL is where the application is mounted")
    } else if !spec.tuning.is_default() {
        Some("--workers, --threads and --worker-class")
    } else if spec.unix {
        Some("--unix")
    } else {
        None
    };
    if let Some(what) = extra {
        return Err(PlanError::Unsupported {
            server: "--url".into(),
            what: format!("{what}: wsgiprobe only starts what it checks"),
        });
    }
    let (target, base_path) =
        parse_url_with(url, spec.insecure).map_err(|e| PlanError::BadUrl {
            url: url.to_string(),
            detail: e.to_string(),
        })?;
    Ok(UrlPlan {
        url: url.to_string(),
        target,
        base_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: GatewayKind) -> GatewaySpec {
        GatewaySpec {
            kind,
            python: "/nonexistent/python".into(),
            host: "127.0.0.1".into(),
            start_timeout: Duration::from_secs(1),
            tuning: Tuning::default(),
            proxy: None,
            unix: false,
            install: false,
            recipes: Arc::new(RecipeBook::builtin()),
            validate: false,
            app: None,
            insecure: false,
        }
    }

    fn server(name: &str, version: Option<&str>) -> GatewayKind {
        GatewayKind::Server {
            name: name.into(),
            version: version.map(str::to_string),
        }
    }

    #[test]
    fn control_characters_bound_for_a_command_are_refused() {
        let mut s = spec(GatewayKind::Command("serve {port}".into()));
        s.python = "python3\ntouch /tmp/owned".into();
        let e = plan(&s).unwrap_err();
        assert!(
            matches!(
                e,
                PlanError::ControlCharacter {
                    what: "--python",
                    at: 7,
                    ..
                }
            ),
            "{e}"
        );
        // A URL target starts nothing, so --python does not matter there.
        let mut s = spec(GatewayKind::Url("http://127.0.0.1:9/".into()));
        s.python = "python3\n".into();
        assert!(plan(&s).is_ok());
    }

    #[test]
    fn a_server_plan_carries_its_flags_without_running_python() {
        // The interpreter does not exist: planning must not need it.
        let mut s = spec(server("gunicorn", Some("22.0.0")));
        s.tuning.workers = Some(3);
        let p = plan(&s).unwrap();
        let How::Launch(launch) = &p.how else {
            panic!("gunicorn is launched")
        };
        assert!(
            launch.template.contains("--workers 3"),
            "{}",
            launch.template
        );
        assert_eq!(launch.options["workers"], "3");
        let server = launch.server.as_ref().unwrap();
        assert_eq!(server.version.as_deref(), Some("22.0.0"));
        assert!(p.url().is_none());
    }

    #[test]
    fn contradictions_are_refused() {
        let refused = |s: GatewaySpec| plan(&s).unwrap_err().to_string();

        let mut s = spec(server("waitress", None));
        s.tuning.workers = Some(2);
        assert!(refused(s).contains("waitress does not support --workers"));

        let mut s = spec(server("gunicorn", None));
        s.tuning.worker_class = Some("tornado9".into());
        assert!(refused(s).contains("no worker class \"tornado9\""));

        let e = plan(&spec(server("nosuch", None))).unwrap_err();
        assert!(
            e.is_unknown_server() && e.to_string().contains("gunicorn"),
            "{e}"
        );

        assert!(refused(spec(server("wsgiref", Some("1.0")))).contains("pinned version"));

        let mut s = spec(GatewayKind::Command("{python} serve.py {port}".into()));
        s.unix = true;
        assert!(refused(s).contains("--cmd must contain {socket}"));

        let mut s = spec(GatewayKind::Command("{python} serve.py {port}".into()));
        s.tuning.threads = Some(2);
        assert!(refused(s).contains("--cmd does not support --workers"));

        let mut s = spec(GatewayKind::Url("http://127.0.0.1:9/".into()));
        s.unix = true;
        assert!(refused(s).contains("--url does not support --unix"));

        let e = refused(spec(GatewayKind::Url("ftp://x/".into())));
        assert!(e.starts_with("bad --url \"ftp://x/\""), "{e}");
    }

    #[test]
    fn a_user_app_is_checked_before_anything_starts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.py"), "app = None\n").unwrap();
        let with = |callable: &str, kind: GatewayKind| {
            let mut s = spec(kind);
            s.app = Some(UserApp {
                callable: callable.into(),
                dir: dir.path().to_path_buf(),
                path: "/".into(),
            });
            plan(&s).map(|p| p.label())
        };
        let gunicorn = || server("gunicorn", None);
        assert_eq!(with("site:app", gunicorn()).unwrap(), "gunicorn [site:app]");
        for bad in [
            "site",
            "site:app; rm -rf /",
            "si te:app",
            "1site:app",
            "site:",
        ] {
            let e = with(bad, gunicorn()).unwrap_err().to_string();
            assert!(e.starts_with(&format!("bad --app {bad:?}")), "{e}");
        }
        let e = with("other:app", gunicorn()).unwrap_err().to_string();
        assert!(e.contains("no other.py"), "{e}");
        let e = with("site:app", GatewayKind::Url("http://127.0.0.1:9/".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--url does not support --app"), "{e}");
    }

    #[test]
    fn a_url_plan_is_parsed() {
        let p = plan(&spec(GatewayKind::Url("http://127.0.0.1:9/app/".into()))).unwrap();
        let u = p.url().unwrap();
        assert_eq!(u.base_path, "/app/");
        assert!(matches!(&u.target, Target::Tcp { port: 9, .. }));
    }
}

//! Server recipes: how each known server is launched, as data.
//!
//! The built-in recipes are `recipes/servers.toml`, carried in the binary; a
//! user's file (`--recipes FILE`) adds servers or replaces them. A recipe is a
//! command template with the same placeholders `--cmd` takes, so a known
//! server and a user's own command start down the same path.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::error::{GatewayError, PlanError};
use super::process::run_briefly;

/// The recipes built into the binary.
pub const BUILTIN_RECIPES: &str = include_str!("../../recipes/servers.toml");

/// How one server is started.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub description: String,
    /// What `pip install` takes; `None` for the standard library.
    pub package: Option<String>,
    /// What is imported to find the server (default: the package).
    pub module: Option<String>,
    pub tcp: String,
    pub unix: Option<String>,
    pub uwsgi: Option<String>,
    pub workers: Option<String>,
    pub threads: Option<String>,
    pub worker_class: Option<String>,
    #[serde(default)]
    pub worker_classes: Vec<String>,
    #[serde(default)]
    pub class_packages: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Cases this recipe's own launch makes unfit to judge the server by,
    /// each with why (case id -> reason): what the harness adds must not be
    /// blamed on the server.
    #[serde(default)]
    pub excuses: BTreeMap<String, String>,
    /// Flags that make the server trust the proxy in front for what its
    /// X-Forwarded-* headers say (`--trust-proxy`); `{proxy_addr}` is the
    /// address nginx connects from (`*` over a unix socket).
    pub trust_proxy: Option<String>,
    /// What the server takes from the proxy once trusted: `scheme`
    /// (X-Forwarded-Proto), `client` (X-Forwarded-For), `host`
    /// (X-Forwarded-Host and -Port).
    #[serde(default)]
    pub trust_covers: Vec<String>,
    /// What the server does when not told (recorded, and named in findings).
    pub trust_default: Option<String>,
    /// Flags that mount the application under a path (`--prefix`, `{prefix}`).
    pub prefix: Option<String>,
}

/// Where nginx connects to a server listening so, as `trust_proxy`'s
/// `{proxy_addr}` names it: the loopback address, or `*` for a unix
/// socket, which has no peer address to check.
pub fn proxy_addr(listen: Listen) -> &'static str {
    match listen {
        Listen::Tcp => "127.0.0.1",
        _ => "*",
    }
}

/// What a trusted proxy can tell a server, as recipes' `trust_covers` name it.
pub const TRUST_ASPECTS: &[&str] = &["scheme", "client", "host"];

/// How a launched server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// HTTP on a TCP port.
    Tcp,
    /// HTTP on a unix socket.
    Unix,
    /// The uwsgi protocol on a unix socket (behind nginx's `uwsgi_pass`).
    Uwsgi,
}

impl Listen {
    pub fn as_str(self) -> &'static str {
        match self {
            Listen::Tcp => "tcp",
            Listen::Unix => "unix",
            Listen::Uwsgi => "uwsgi",
        }
    }
}

/// Concurrency and deployment settings from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tuning {
    pub workers: Option<u32>,
    pub threads: Option<u32>,
    pub worker_class: Option<String>,
    /// Tell the server to trust the proxy in front (the recipe's `trust_proxy`).
    pub trust_proxy: bool,
    /// Mount the application under this path (`/app`; the recipe's `prefix`).
    pub prefix: Option<String>,
}

impl Tuning {
    pub fn is_default(&self) -> bool {
        *self == Tuning::default()
    }
}

/// A recipe ready to run: the template with its flags filled in, and the
/// options to record.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub template: String,
    pub options: BTreeMap<String, String>,
    /// The recipe's excuses (see [`Recipe::excuses`]).
    pub excuses: BTreeMap<String, String>,
    /// Python modules the launch needs besides the server's own.
    pub extra_packages: Vec<String>,
}

/// The known servers by name.
#[derive(Debug, Clone)]
pub struct RecipeBook {
    recipes: BTreeMap<String, Recipe>,
}

/// A recipe file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {detail}")]
pub struct RecipeFileError {
    pub file: String,
    pub detail: String,
}

impl RecipeBook {
    /// The built-in recipes.
    pub fn builtin() -> RecipeBook {
        let recipes = parse(BUILTIN_RECIPES, "recipes/servers.toml (built in)")
            .expect("the built-in recipes are valid (a unit test checks)");
        RecipeBook { recipes }
    }

    /// The built-in recipes with a user's file laid over them.
    pub fn with_file(path: &Path) -> Result<RecipeBook, RecipeFileError> {
        let file = path.display().to_string();
        let text = crate::textfile::read(path).map_err(|e| RecipeFileError {
            file: file.clone(),
            detail: e.to_string(),
        })?;
        let mut book = RecipeBook::builtin();
        book.recipes.extend(parse(&text, &file)?);
        Ok(book)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.recipes.keys().map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Result<&Recipe, PlanError> {
        self.recipes
            .get(name)
            .ok_or_else(|| PlanError::UnknownServer {
                name: name.to_string(),
                known: self.names().collect::<Vec<_>>().join(", "),
                suggestion: self.closest(name),
            })
    }

    /// The recipe name a misspelt `name` most likely meant: the most
    /// similar one, if it is similar enough (`gunicron`, `Waitress`, `uwsgi2`).
    pub fn closest(&self, name: &str) -> Option<String> {
        let wanted = name.to_ascii_lowercase();
        self.names()
            .map(|known| (strsim::jaro_winkler(&wanted, known), known))
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, known)| known.to_string())
    }
}

fn parse(text: &str, file: &str) -> Result<BTreeMap<String, Recipe>, RecipeFileError> {
    let recipes: BTreeMap<String, Recipe> = toml::from_str(text).map_err(|e| RecipeFileError {
        file: file.to_string(),
        detail: e.to_string(),
    })?;
    for (name, r) in &recipes {
        let bad = |detail: String| RecipeFileError {
            file: file.to_string(),
            detail: format!("server {name:?}: {detail}"),
        };
        if !r.tcp.contains("{port}") {
            return Err(bad("`tcp` must contain {port}".into()));
        }
        for (key, t) in [("unix", &r.unix), ("uwsgi", &r.uwsgi)] {
            if t.as_ref().is_some_and(|t| !t.contains("{socket}")) {
                return Err(bad(format!("`{key}` must contain {{socket}}")));
            }
        }
        if r.worker_class.is_some() && r.worker_classes.is_empty() {
            return Err(bad(
                "`worker_class` needs `worker_classes`, the names it accepts".into(),
            ));
        }
        for (case, why) in &r.excuses {
            let id_like = !case.is_empty()
                && case.split('.').all(|seg| {
                    !seg.is_empty()
                        && seg
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                });
            if !id_like {
                return Err(bad(format!("`excuses`: {case:?} is not a case id")));
            }
            if why.trim().is_empty() {
                return Err(bad(format!("`excuses`: say why {case} is excused")));
            }
        }
        if let Some(a) = r
            .trust_covers
            .iter()
            .find(|a| !TRUST_ASPECTS.contains(&a.as_str()))
        {
            return Err(bad(format!(
                "`trust_covers` takes {}, not {a:?}",
                TRUST_ASPECTS.join(", ")
            )));
        }
        if !r.trust_covers.is_empty() && r.trust_proxy.is_none() {
            return Err(bad(
                "`trust_covers` says what `trust_proxy` makes the server trust: give `trust_proxy` too".into(),
            ));
        }
        if r.prefix.as_ref().is_some_and(|p| !p.contains("{prefix}")) {
            return Err(bad("`prefix` must contain {prefix}".into()));
        }
        for key in r.defaults.keys() {
            if !["workers", "threads", "worker_class"].contains(&key.as_str()) {
                return Err(bad(format!(
                    "`defaults` takes workers, threads and worker_class, not {key:?}"
                )));
            }
        }
    }
    Ok(recipes)
}

impl Recipe {
    /// The module imported to find the server, if it is not the standard library.
    pub fn import_name(&self) -> Option<&str> {
        self.module.as_deref().or(self.package.as_deref())
    }

    /// The template for `listen`, with `tuning` mapped onto the server's
    /// flags; a flag the server does not have is refused.
    pub fn prepare(
        &self,
        name: &str,
        listen: Listen,
        tuning: &Tuning,
    ) -> Result<Prepared, PlanError> {
        let unsupported = |what: &str| PlanError::Unsupported {
            server: name.to_string(),
            what: what.to_string(),
        };
        let base = match listen {
            Listen::Tcp => &self.tcp,
            Listen::Unix => self
                .unix
                .as_ref()
                .ok_or_else(|| unsupported("listening on a unix socket"))?,
            Listen::Uwsgi => self
                .uwsgi
                .as_ref()
                .ok_or_else(|| unsupported("the uwsgi protocol (nginx-uwsgi needs uWSGI)"))?,
        };
        let mut options = self.options.clone();
        let mut flags = Vec::new();
        let mut extra = Vec::new();

        let pick =
            |given: Option<String>, key: &str| given.or_else(|| self.defaults.get(key).cloned());
        if let Some(n) = pick(tuning.workers.map(|n| n.to_string()), "workers") {
            let flag = self
                .workers
                .as_ref()
                .ok_or_else(|| unsupported("--workers (it runs one process)"))?;
            flags.push(flag.replace("{n}", &n));
            options.insert("workers".into(), n);
        }
        if let Some(n) = pick(tuning.threads.map(|n| n.to_string()), "threads") {
            let flag = self
                .threads
                .as_ref()
                .ok_or_else(|| unsupported("--threads"))?;
            flags.push(flag.replace("{n}", &n));
            options.insert("threads".into(), n);
        }
        if let Some(class) = pick(tuning.worker_class.clone(), "worker_class") {
            let flag = self
                .worker_class
                .as_ref()
                .ok_or_else(|| unsupported("--worker-class"))?;
            if !self.worker_classes.contains(&class) {
                return Err(PlanError::UnknownWorkerClass {
                    server: name.to_string(),
                    class,
                    known: self.worker_classes.join(", "),
                });
            }
            flags.push(flag.replace("{name}", &class));
            if let Some(p) = self.class_packages.get(&class) {
                extra.extend(p.iter().cloned());
            }
            options.insert("worker_class".into(), class);
        }
        if tuning.trust_proxy {
            let flag = self.trust_proxy.as_ref().ok_or_else(|| {
                unsupported(
                    "--trust-proxy (it has no setting to trust a proxy's X-Forwarded-* headers)",
                )
            })?;
            let flag = flag.replace("{proxy_addr}", proxy_addr(listen));
            options.insert("trust_proxy".into(), flag.clone());
            flags.push(flag);
        } else if let Some(default) = &self.trust_default {
            let state = if self.trust_proxy.is_some() {
                "not set"
            } else {
                "no setting"
            };
            options.insert("trust_proxy".into(), format!("{state} ({default})"));
        }
        if let Some(prefix) = &tuning.prefix {
            let flag = self.prefix.as_ref().ok_or_else(|| {
                unsupported("--prefix (it has no setting to mount the application under a path)")
            })?;
            let flag = flag.replace("{prefix}", prefix);
            options.insert("prefix".into(), flag.clone());
            flags.push(flag);
        }
        let template = base.replace("{flags}", &flags.join(" "));
        Ok(Prepared {
            template: collapse_spaces(&template),
            options,
            excuses: self.excuses.clone(),
            extra_packages: extra,
        })
    }
}

fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut quoted = false;
    let mut last_space = false;
    for c in s.chars() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == ' ' && !quoted {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
    }
    out.trim().to_string()
}

/// The installed version of `package` in `python`, importing `module` first
/// so that a broken install is caught here and not at launch. `Ok(None)` for
/// the standard library (`package` is `None`): the Python version is its own.
pub fn version(
    server: &str,
    recipe: &Recipe,
    python: &str,
    extra_modules: &[String],
) -> Result<Option<String>, GatewayError> {
    let (Some(package), Some(module)) = (recipe.package.as_deref(), recipe.import_name()) else {
        return Ok(None);
    };
    let mut imports = vec![module.to_string()];
    imports.extend(extra_modules.iter().cloned());
    let code = format!(
        "import {}, importlib.metadata; print(importlib.metadata.version({package:?}))",
        imports.join(", ")
    );
    let out = run_briefly(python, &["-c", &code], Duration::from_secs(30)).map_err(|source| {
        GatewayError::Python {
            python: python.to_string(),
            source,
        }
    })?;
    let mut pip = vec![package.to_string()];
    pip.extend(extra_modules.iter().cloned());
    let not_importable = |detail: String| GatewayError::NotImportable {
        server: server.to_string(),
        package: pip.join(" "),
        python: python.to_string(),
        detail,
    };
    match out {
        Some(o) if o.status.success() => {
            Ok(Some(String::from_utf8_lossy(&o.stdout).trim().to_string()))
        }
        Some(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            Err(not_importable(
                stderr.lines().last().unwrap_or("import failed").to_string(),
            ))
        }
        None => Err(not_importable(
            "the import did not finish within 30 s".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_server_gets_a_suggestion() {
        let book = RecipeBook::builtin();
        for (typo, meant) in [
            ("gunicron", Some("gunicorn")),
            ("Waitress", Some("waitress")),
            ("uwsgi2", Some("uwsgi")),
            ("granain", Some("granian")),
            ("tomcat", None),
        ] {
            assert_eq!(book.closest(typo).as_deref(), meant, "{typo}");
        }
        let e = book.get("gunicron").unwrap_err().to_string();
        assert!(e.contains("did you mean gunicorn?"), "{e}");
    }

    #[test]
    fn builtin_recipes_parse_and_cover_the_known_servers() {
        let book = RecipeBook::builtin();
        let names: Vec<_> = book.names().collect();
        for n in [
            "cheroot", "granian", "gunicorn", "uwsgi", "waitress", "wsgiref",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
    }

    #[test]
    fn builtin_excuses_name_builtin_cases_and_reach_the_prepared_launch() {
        let set = crate::spec::load_builtin().unwrap();
        let book = RecipeBook::builtin();
        for name in book.names() {
            let recipe = book.get(name).unwrap();
            for id in recipe.excuses.keys() {
                assert!(
                    set.cases.iter().any(|c| &c.case.id == id),
                    "{name} excuses {id}, which is no built-in case"
                );
            }
        }
        let p = book
            .get("wsgiref")
            .unwrap()
            .prepare("wsgiref", Listen::Tcp, &Tuning::default())
            .unwrap();
        assert!(p.excuses["environ.wsgi-multithread.truthful"].contains("ThreadingMixIn"));
    }

    #[test]
    fn an_excuse_needs_a_case_id_and_a_reason() {
        let base = "[x]\ndescription = \"x\"\ntcp = \"run {port}\"\n";
        let e = parse(
            &format!("{base}excuses = {{ \"Not An Id\" = \"why\" }}"),
            "f.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("is not a case id"), "{e}");
        let e = parse(
            &format!("{base}excuses = {{ \"environ.x\" = \" \" }}"),
            "f.toml",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("say why environ.x is excused"),
            "{e}"
        );
        assert!(parse(
            &format!("{base}excuses = {{ \"environ.x\" = \"why\" }}"),
            "f.toml"
        )
        .is_ok());
    }

    #[test]
    fn tuning_maps_onto_flags_and_is_recorded() {
        let book = RecipeBook::builtin();
        let tuning = Tuning {
            workers: Some(2),
            threads: Some(4),
            worker_class: Some("gthread".into()),
            ..Tuning::default()
        };
        let p = book
            .get("gunicorn")
            .unwrap()
            .prepare("gunicorn", Listen::Tcp, &tuning)
            .unwrap();
        assert_eq!(
            p.template,
            "{python} -m gunicorn --bind {host}:{port} --workers 2 --threads 4 --worker-class gthread {app}"
        );
        assert_eq!(p.options["worker_class"], "gthread");
        assert_eq!(p.options["threads"], "4");

        let p = book
            .get("gunicorn")
            .unwrap()
            .prepare("gunicorn", Listen::Unix, &Tuning::default())
            .unwrap();
        assert!(p
            .template
            .contains("--bind unix:{socket} --workers 1 --worker-class sync"));
        assert_eq!(p.options["workers"], "1");
    }

    #[test]
    fn flags_a_server_lacks_are_refused() {
        let book = RecipeBook::builtin();
        let workers = Tuning {
            workers: Some(2),
            ..Tuning::default()
        };
        let e = book
            .get("waitress")
            .unwrap()
            .prepare("waitress", Listen::Tcp, &workers)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("waitress does not support --workers"),
            "{e}"
        );
        let class = Tuning {
            worker_class: Some("gevent".into()),
            ..Tuning::default()
        };
        let e = book
            .get("uwsgi")
            .unwrap()
            .prepare("uwsgi", Listen::Tcp, &class)
            .unwrap_err();
        assert!(e.to_string().contains("--worker-class"), "{e}");
        let bogus = Tuning {
            worker_class: Some("eventlet2".into()),
            ..Tuning::default()
        };
        let e = book
            .get("gunicorn")
            .unwrap()
            .prepare("gunicorn", Listen::Tcp, &bogus)
            .unwrap_err();
        assert!(e.to_string().contains("sync, gthread, gevent"), "{e}");
        let e = book
            .get("wsgiref")
            .unwrap()
            .prepare("wsgiref", Listen::Unix, &Tuning::default())
            .unwrap_err();
        assert!(e.to_string().contains("unix socket"), "{e}");
        let e = book
            .get("gunicorn")
            .unwrap()
            .prepare("gunicorn", Listen::Uwsgi, &Tuning::default())
            .unwrap_err();
        assert!(e.to_string().contains("uwsgi protocol"), "{e}");
    }

    #[test]
    fn trust_and_mount_settings_map_onto_flags_and_are_recorded() {
        let book = RecipeBook::builtin();
        let deploy = Tuning {
            trust_proxy: true,
            prefix: Some("/app".into()),
            ..Tuning::default()
        };
        let p = book
            .get("waitress")
            .unwrap()
            .prepare("waitress", Listen::Unix, &deploy)
            .unwrap();
        assert!(p.template.contains("--trusted-proxy=* "), "{}", p.template);
        assert!(p.template.contains("--url-prefix=/app"), "{}", p.template);
        assert_eq!(p.options["prefix"], "--url-prefix=/app");
        let p = book
            .get("gunicorn")
            .unwrap()
            .prepare("gunicorn", Listen::Tcp, &deploy)
            .unwrap();
        assert_eq!(p.options["trust_proxy"], "--forwarded-allow-ips 127.0.0.1");
        // Untold, what the server does is recorded.
        let p = book
            .get("gunicorn")
            .unwrap()
            .prepare("gunicorn", Listen::Tcp, &Tuning::default())
            .unwrap();
        assert!(p.options["trust_proxy"].starts_with("not set ("));
        // Every built-in server records what it does with those headers.
        for name in book.names() {
            let p = book
                .get(name)
                .unwrap()
                .prepare(name, Listen::Tcp, &Tuning::default())
                .unwrap();
            assert!(p.options.contains_key("trust_proxy"), "{name}");
        }
        let p = book
            .get("cheroot")
            .unwrap()
            .prepare("cheroot", Listen::Tcp, &Tuning::default())
            .unwrap();
        assert!(p.options["trust_proxy"].starts_with("no setting ("));
        for (server, what) in [("wsgiref", "--trust-proxy"), ("cheroot", "--trust-proxy")] {
            let e = book
                .get(server)
                .unwrap()
                .prepare(server, Listen::Tcp, &deploy)
                .unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
        let mount = Tuning {
            prefix: Some("/app".into()),
            ..Tuning::default()
        };
        let e = book
            .get("bjoern")
            .unwrap()
            .prepare("bjoern", Listen::Tcp, &mount)
            .unwrap_err();
        assert!(e.to_string().contains("--prefix"), "{e}");
    }

    #[test]
    fn gevent_needs_its_package() {
        let book = RecipeBook::builtin();
        let t = Tuning {
            worker_class: Some("gevent".into()),
            ..Tuning::default()
        };
        let p = book
            .get("gunicorn")
            .unwrap()
            .prepare("gunicorn", Listen::Tcp, &t)
            .unwrap();
        assert_eq!(p.extra_packages, ["gevent", "packaging"]);
    }

    #[test]
    fn a_user_file_adds_and_bad_files_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("mine.toml");
        std::fs::write(
            &good,
            "[mine]\ndescription = \"x\"\ntcp = \"{python} serve.py {port}\"\n",
        )
        .unwrap();
        let book = RecipeBook::with_file(&good).unwrap();
        assert!(book.get("mine").is_ok() && book.get("gunicorn").is_ok());

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[mine]\ndescription = \"x\"\ntcp = \"serve.py\"\n").unwrap();
        let e = RecipeBook::with_file(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("{port}"), "{e}");

        std::fs::write(
            &bad,
            "[mine]\ndescription = \"x\"\ntcp = \"{port}\"\nport = 1\n",
        )
        .unwrap();
        let e = RecipeBook::with_file(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("port"), "{e}");

        for (extra, says) in [
            ("trust_covers = [\"scheme\"]\n", "give `trust_proxy` too"),
            (
                "trust_proxy = \"-t\"\ntrust_covers = [\"cookies\"]\n",
                "scheme, client, host",
            ),
            ("prefix = \"--mount\"\n", "{prefix}"),
        ] {
            std::fs::write(
                &bad,
                format!("[mine]\ndescription = \"x\"\ntcp = \"{{port}}\"\n{extra}"),
            )
            .unwrap();
            let e = RecipeBook::with_file(&bad).unwrap_err().to_string();
            assert!(e.contains(says), "{extra}: {e}");
        }
    }

    #[test]
    fn unknown_server_lists_the_known_ones() {
        let e = RecipeBook::builtin().get("apache").unwrap_err().to_string();
        assert!(e.contains("apache") && e.contains("gunicorn"), "{e}");
    }
}

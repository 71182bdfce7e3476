//! `wsgiprobe servers`: what can be started here, and at which versions.

use anyhow::{Context, Result};

use crate::cli::ServersArgs;
use crate::exit::Exit;
use crate::{gateway, report};

/// Runs `wsgiprobe servers`.
pub fn run(args: ServersArgs) -> Result<Exit> {
    let book = match &args.recipes {
        Some(path) => gateway::RecipeBook::with_file(path).context("invalid recipe file")?,
        None => gateway::RecipeBook::builtin(),
    };
    let python = &args.python;
    let python_version = gateway::python_version(python)
        .with_context(|| format!("cannot look for servers in {python}"))?;
    let names: Vec<&str> = book.names().collect();
    // One interpreter start per server; in parallel, as each import can take a second.
    let found: Vec<Result<Option<String>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let recipe = book.get(name).expect("listed");
                s.spawn(move || {
                    gateway::version(name, recipe, python, &[]).map_err(|e| e.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("version lookup thread"))
            .collect()
    });
    let rows: Vec<serde_json::Value> = names
        .iter()
        .zip(&found)
        .map(|(name, v)| {
            let recipe = book.get(name).expect("listed");
            let (available, version, problem) = match v {
                Ok(Some(ver)) => (true, Some(ver.clone()), None),
                Ok(None) => (true, Some(format!("Python {python_version}")), None),
                Err(e) => (
                    false,
                    None,
                    Some(e.lines().next().unwrap_or("").to_string()),
                ),
            };
            let mut options = recipe.options.clone();
            options.extend(recipe.defaults.clone());
            serde_json::json!({
                "server": name,
                "description": recipe.description,
                "available": available,
                "version": version,
                "package": recipe.package,
                "command": recipe.tcp,
                "unix": recipe.unix.is_some(),
                "uwsgi_protocol": recipe.uwsgi.is_some(),
                "workers": recipe.workers.is_some(),
                "threads": recipe.threads.is_some(),
                "trust_proxy": recipe.trust_proxy.is_some(),
                "prefix": recipe.prefix.is_some(),
                "worker_classes": recipe.worker_classes,
                "options": options,
                "problem": problem,
            })
        })
        .collect();
    let nginx = gateway::nginx_version(&args.nginx).map_err(|e| e.to_string());
    if args.json {
        let doc = serde_json::json!({
            "python": python,
            "python_version": python_version,
            "servers": rows,
            "nginx": match &nginx {
                Ok(v) => serde_json::json!({"available": true, "version": v}),
                Err(e) => serde_json::json!({"available": false, "problem": e}),
            },
            "cache": gateway::cache_dir(),
        });
        report::write_stdout(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
    } else {
        let mut text = report::render_servers(python, &python_version, &rows);
        text.push_str(&match nginx {
            Ok(v) => format!("nginx {v} ({}), for --proxy\n", args.nginx),
            Err(e) => format!("nginx: {e}\n"),
        });
        text.push_str(&format!(
            "managed environments (--server NAME==VERSION) live in {}\n",
            gateway::cache_dir().display()
        ));
        report::write_stdout(&text)?;
    }
    Ok(Exit::Clean)
}

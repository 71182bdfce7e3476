//! How each known server is launched, and how its version is read.
//!
//! A recipe is a command template with the same placeholders `--cmd` takes,
//! so a known server and a user's own command start down the same path.

use std::collections::BTreeMap;
use std::time::Duration;

use super::launch::{run_briefly, GatewayError};

/// The servers wsgiprobe knows how to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerName {
    /// `wsgiref.simple_server` from the standard library (threaded).
    Wsgiref,
    /// Gunicorn, its default sync worker.
    Gunicorn,
}

impl ServerName {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerName::Wsgiref => "wsgiref",
            ServerName::Gunicorn => "gunicorn",
        }
    }
}

/// The command template of a server.
pub fn template(name: ServerName) -> String {
    match name {
        ServerName::Wsgiref => "{python} wsgiprobe_wsgiref.py {host} {port}".into(),
        // Defaults otherwise: one sync worker is what `gunicorn app:app` runs.
        ServerName::Gunicorn => "{python} -m gunicorn --bind {host}:{port} {app}".into(),
    }
}

/// Launch options that shape behaviour, recorded with every result.
pub fn options(name: ServerName) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match name {
        ServerName::Wsgiref => &[
            (
                "server_class",
                "ThreadingMixIn + wsgiref.simple_server.WSGIServer",
            ),
            (
                "handler",
                "wsgiref.simple_server.WSGIRequestHandler (HTTP/1.0)",
            ),
        ],
        ServerName::Gunicorn => &[("worker_class", "sync"), ("workers", "1")],
    };
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The server's version, importing it from `python`; an error when it is
/// not importable, because then it could not start either.
pub fn version(name: ServerName, python: &str) -> Result<Option<String>, GatewayError> {
    let module = match name {
        // Part of the standard library: the Python version is its version.
        ServerName::Wsgiref => return Ok(None),
        ServerName::Gunicorn => "gunicorn",
    };
    let code = format!("import {module}; print({module}.__version__)");
    let out = run_briefly(python, &["-c", &code], Duration::from_secs(30)).map_err(|source| {
        GatewayError::Python {
            python: python.to_string(),
            source,
        }
    })?;
    match out {
        Some(o) if o.status.success() => {
            Ok(Some(String::from_utf8_lossy(&o.stdout).trim().to_string()))
        }
        Some(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            Err(GatewayError::NotImportable {
                server: name.as_str().to_string(),
                python: python.to_string(),
                detail: stderr.lines().last().unwrap_or("import failed").to_string(),
            })
        }
        None => Err(GatewayError::NotImportable {
            server: name.as_str().to_string(),
            python: python.to_string(),
            detail: "the import did not finish within 30 s".into(),
        }),
    }
}

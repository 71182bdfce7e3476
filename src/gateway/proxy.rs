//! nginx in front of the server: a child process (never a daemon) with a
//! generated configuration in the gateway's private folder, its own pid,
//! temp and log paths, so it touches nothing of a system nginx. In front
//! of HTTP it sends the X-Forwarded-* headers of the classic deployment;
//! `nginx-tls` terminates TLS with a certificate generated for the run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::error::GatewayError;
use super::process::run_briefly;

/// How nginx reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyKind {
    /// `proxy_pass` to the server's TCP port.
    Nginx,
    /// `proxy_pass` to the server's unix socket.
    NginxUnix,
    /// `uwsgi_pass`: the uwsgi protocol on a unix socket (uWSGI only).
    NginxUwsgi,
    /// `proxy_pass` to the server's TCP port, nginx terminating TLS with a
    /// certificate wsgiprobe generates for the run.
    NginxTls,
}

impl ProxyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyKind::Nginx => "nginx",
            ProxyKind::NginxUnix => "nginx-unix",
            ProxyKind::NginxUwsgi => "nginx-uwsgi",
            ProxyKind::NginxTls => "nginx-tls",
        }
    }
}

/// A proxy in front of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySpec {
    pub kind: ProxyKind,
    /// Upstream keep-alive: nginx reuses its connections to the server.
    pub keepalive: bool,
    /// The nginx program.
    pub nginx: String,
}

/// Where nginx sends requests.
#[derive(Clone, Copy)]
pub enum Upstream<'a> {
    Tcp { host: &'a str, port: u16 },
    Unix(&'a Path),
}

/// nginx's version (`1.22.1`), or a clear error when it cannot be run.
pub fn nginx_version(nginx: &str) -> Result<String, GatewayError> {
    let missing = |detail: String| GatewayError::NginxMissing {
        nginx: nginx.to_string(),
        detail,
    };
    let out = run_briefly(nginx, &["-v"], Duration::from_secs(10))
        .map_err(|e| missing(e.to_string()))?
        .ok_or_else(|| missing("`nginx -v` did not answer within 10 s".into()))?;
    // nginx prints `nginx version: nginx/1.22.1` on stderr.
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("nginx/"))
        .map(str::to_string)
        .ok_or_else(|| missing(format!("`{nginx} -v` said: {}", text.trim())))
}

/// The command that runs nginx in the foreground from `dir`.
pub fn nginx_command(nginx: &str, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "exec {} -p {d}/ -c {d}/nginx.conf -e {d}/error.log -g 'daemon off;'",
        quote(nginx)
    )
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The certificate and key files of `nginx-tls`, written beside the
/// configuration.
pub struct TlsFiles<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
}

/// The headers nginx adds in front of HTTP, as the classic deployment
/// (Flask's and Gunicorn's nginx examples) sets them; a server told to
/// trust the proxy takes the scheme, client address and host from them.
const FORWARDED: &[(&str, &str)] = &[
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Proto", "$scheme"),
    ("X-Forwarded-Host", "$host"),
    ("X-Forwarded-Port", "$server_port"),
];

/// The configuration; also creates the temp folders it names. Returns the
/// options to record with the stack.
pub fn write_config(
    dir: &Path,
    spec: &ProxySpec,
    listen: (&str, u16),
    upstream: Upstream,
    tls: Option<TlsFiles>,
) -> std::io::Result<BTreeMap<String, String>> {
    for sub in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.join("temp").join(sub))?;
    }
    let d = dir.display();
    let server = match upstream {
        Upstream::Tcp { host, port } => format!("{host}:{port}"),
        Upstream::Unix(path) => format!("unix:{}", path.display()),
    };
    let keepalive = if spec.keepalive { "keepalive 16;" } else { "" };
    // As root, nginx would hand its workers to `nobody`, who cannot reach
    // the server's socket in the private folder.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    let pass = match spec.kind {
        ProxyKind::NginxUwsgi => UWSGI_PASS.to_string(),
        _ => {
            let mut p = String::from(
                "proxy_pass http://wsgiprobe_upstream;\n            proxy_set_header Host $http_host;\n",
            );
            for (name, value) in FORWARDED {
                p.push_str(&format!("            proxy_set_header {name} {value};\n"));
            }
            if spec.keepalive {
                p.push_str(
                    "            proxy_http_version 1.1;\n            proxy_set_header Connection \"\";\n",
                );
            }
            p
        }
    };
    let ssl = match &tls {
        Some(files) => format!(
            " ssl;\n        ssl_certificate {};\n        ssl_certificate_key {}",
            files.cert.display(),
            files.key.display()
        ),
        None => String::new(),
    };
    let conf = format!(
        "# Generated by wsgiprobe; removed with this folder.\n\
{user}\n\
worker_processes 1;\n\
pid {d}/nginx.pid;\n\
error_log {d}/error.log warn;\n\
events {{ worker_connections 4096; }}\n\
http {{\n\
    access_log off;\n\
    client_body_temp_path {d}/temp/client_body;\n\
    proxy_temp_path {d}/temp/proxy;\n\
    fastcgi_temp_path {d}/temp/fastcgi;\n\
    uwsgi_temp_path {d}/temp/uwsgi;\n\
    scgi_temp_path {d}/temp/scgi;\n\
    upstream wsgiprobe_upstream {{\n\
        server {server};\n\
        {keepalive}\n\
    }}\n\
    server {{\n\
        listen {}:{}{ssl};\n\
        server_name localhost;\n\
        location / {{\n\
            {pass}\
        }}\n\
    }}\n\
}}\n",
        listen.0, listen.1
    );
    std::fs::write(dir.join("nginx.conf"), conf)?;

    let mut options = BTreeMap::new();
    let (pass_name, http) = match spec.kind {
        ProxyKind::NginxUwsgi => ("uwsgi_pass", "uwsgi protocol"),
        _ if spec.keepalive => ("proxy_pass", "HTTP/1.1"),
        _ => ("proxy_pass", "HTTP/1.0 (nginx's default)"),
    };
    options.insert("pass".into(), format!("{pass_name} {server}"));
    options.insert("upstream_protocol".into(), http.into());
    options.insert(
        "upstream_keepalive".into(),
        if spec.keepalive {
            "16 connections"
        } else {
            "off"
        }
        .into(),
    );
    options.insert(
        "buffering".into(),
        "nginx defaults: request and response bodies buffered".into(),
    );
    if spec.kind != ProxyKind::NginxUwsgi {
        options.insert(
            "host_header".into(),
            "$http_host (as the client sent it)".into(),
        );
        let forwarded: Vec<String> = FORWARDED
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        options.insert("forwarded_headers".into(), forwarded.join(", "));
    }
    if spec.kind == ProxyKind::NginxUwsgi {
        options.insert(
            "cgi_variables".into(),
            "uwsgi_param HTTPS $https, REMOTE_ADDR $remote_addr, SERVER_PORT $server_port, SERVER_NAME $server_name: nginx tells the server itself, no trust setting needed".into(),
        );
    }
    if tls.is_some() {
        options.insert(
            "tls".into(),
            "nginx's defaults (TLS 1.2 and 1.3), a self-signed certificate generated for the run, trusted by wsgiprobe alone".into(),
        );
    }
    Ok(options)
}

/// The variables nginx sends over the uwsgi protocol: the CGI set a WSGI
/// server builds its environ from. HTTP_* headers are added by nginx itself.
const UWSGI_PASS: &str = "uwsgi_pass wsgiprobe_upstream;
            uwsgi_param QUERY_STRING $query_string;
            uwsgi_param REQUEST_METHOD $request_method;
            uwsgi_param CONTENT_TYPE $content_type;
            uwsgi_param CONTENT_LENGTH $content_length;
            uwsgi_param REQUEST_URI $request_uri;
            uwsgi_param PATH_INFO $document_uri;
            uwsgi_param DOCUMENT_ROOT $document_root;
            uwsgi_param SERVER_PROTOCOL $server_protocol;
            uwsgi_param REQUEST_SCHEME $scheme;
            uwsgi_param HTTPS $https if_not_empty;
            uwsgi_param REMOTE_ADDR $remote_addr;
            uwsgi_param REMOTE_PORT $remote_port;
            uwsgi_param SERVER_PORT $server_port;
            uwsgi_param SERVER_NAME $server_name;
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_private_paths_and_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ProxySpec {
            kind: ProxyKind::NginxUnix,
            keepalive: true,
            nginx: "nginx".into(),
        };
        let sock = dir.path().join("server.sock");
        let opts = write_config(
            dir.path(),
            &spec,
            ("127.0.0.1", 8080),
            Upstream::Unix(&sock),
            None,
        )
        .unwrap();
        let conf = std::fs::read_to_string(dir.path().join("nginx.conf")).unwrap();
        let d = dir.path().display().to_string();
        assert!(conf.contains(&format!("pid {d}/nginx.pid;")), "{conf}");
        assert!(
            conf.contains(&format!("server unix:{};", sock.display())),
            "{conf}"
        );
        assert!(conf.contains("keepalive 16;") && conf.contains("proxy_http_version 1.1;"));
        assert!(conf.contains("listen 127.0.0.1:8080;"));
        assert!(conf.contains("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"));
        assert!(opts["forwarded_headers"].contains("X-Forwarded-Proto: $scheme"));
        assert!(dir.path().join("temp/proxy").is_dir());
        assert_eq!(opts["upstream_protocol"], "HTTP/1.1");

        let spec = ProxySpec {
            kind: ProxyKind::NginxUwsgi,
            keepalive: false,
            nginx: "nginx".into(),
        };
        write_config(
            dir.path(),
            &spec,
            ("127.0.0.1", 8080),
            Upstream::Unix(&sock),
            None,
        )
        .unwrap();
        let conf = std::fs::read_to_string(dir.path().join("nginx.conf")).unwrap();
        assert!(conf.contains("uwsgi_pass wsgiprobe_upstream;") && !conf.contains("keepalive 16"));

        let spec = ProxySpec {
            kind: ProxyKind::NginxTls,
            keepalive: false,
            nginx: "nginx".into(),
        };
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let opts = write_config(
            dir.path(),
            &spec,
            ("127.0.0.1", 8443),
            Upstream::Tcp {
                host: "127.0.0.1",
                port: 9000,
            },
            Some(TlsFiles {
                cert: &cert,
                key: &key,
            }),
        )
        .unwrap();
        let conf = std::fs::read_to_string(dir.path().join("nginx.conf")).unwrap();
        assert!(
            conf.contains(&format!(
                "listen 127.0.0.1:8443 ssl;\n        ssl_certificate {};",
                cert.display()
            )),
            "{conf}"
        );
        assert!(conf.contains("proxy_pass http://wsgiprobe_upstream;"));
        assert!(opts["tls"].contains("generated for the run"));
    }

    #[test]
    fn a_missing_nginx_says_how_to_install_it() {
        let e = nginx_version("/nonexistent/nginx").unwrap_err().to_string();
        assert!(e.contains("apt-get install nginx"), "{e}");
    }
}

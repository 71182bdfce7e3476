//! The deploy cases' side of the runner and the verdict: whether a case
//! applies to the stack at all, and, behind a proxy, whether a failure is
//! the server's or a deployment setting's, named with what fixes it.

use std::net::IpAddr;

use crate::gateway::{Deployment, ProxyKind};
use crate::http::Target;
use crate::spec::{Case, Need, Setting};

use super::config::RunTarget;

/// Why `case` does not apply to the stack `to` reaches, if it does not.
pub(super) fn not_applicable(case: &Case, to: &RunTarget) -> Option<String> {
    let tls = matches!(to.target, Target::Tls { .. });
    for need in &case.needs {
        let why = match need {
            Need::Proxy if !to.behind_proxy => {
                "no proxy in front (run with --proxy nginx or nginx-tls)"
            }
            Need::Tls if !tls => {
                "the client speaks plain HTTP (run with --proxy nginx-tls or --url https://...)"
            }
            Need::Plain if tls => "the client speaks TLS",
            Need::Prefix if to.base_path.trim_end_matches('/').is_empty() => {
                "the application is mounted at the root (run with --prefix /app)"
            }
            _ => continue,
        };
        return Some(why.to_string());
    }
    if let Some(source) = case.source_address {
        if source_address(to.target, source).is_none() {
            return Some(format!(
                "the client can send from {source} only to a server on the loopback interface"
            ));
        }
    }
    None
}

/// The address to bind the client's end to, when the target is on the
/// loopback interface, where every 127.0.0.0/8 address is the local host.
pub(super) fn source_address(target: &Target, source: IpAddr) -> Option<IpAddr> {
    let (host, _) = target.host_port()?;
    let host: IpAddr = if host == "localhost" {
        IpAddr::from([127, 0, 0, 1])
    } else {
        host.parse().ok()?
    };
    (host.is_loopback() && source.is_loopback() && host.is_ipv4() == source.is_ipv4())
        .then_some(source)
}

/// What the application would see, set right: the headers a trusted proxy
/// tells the server about, and werkzeug's ProxyFix arguments that apply
/// them in the application instead.
fn aspect(setting: Setting) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    // (recipe word, what, header, ProxyFix argument)
    Some(match setting {
        Setting::TrustScheme => (
            "scheme",
            "wsgi.url_scheme",
            "X-Forwarded-Proto",
            "x_proto=1",
        ),
        Setting::TrustClient => ("client", "REMOTE_ADDR", "X-Forwarded-For", "x_for=1"),
        Setting::TrustHost => (
            "host",
            "SERVER_NAME and SERVER_PORT",
            "X-Forwarded-Host and X-Forwarded-Port",
            "x_host=1, x_port=1",
        ),
        Setting::ProxyBuffering => return None,
    })
}

/// Behind a proxy, the deployment setting `setting` when the stack lacks
/// it: what fixes it, in a sentence. `None` when the stack has it (or no
/// proxy is in front), so a failure is the server's own.
pub fn missing_setting(d: &Deployment, setting: Setting) -> Option<String> {
    let proxy = d.proxy?;
    let Some((word, what, header, proxy_fix)) = aspect(setting) else {
        let directive = match proxy {
            ProxyKind::NginxUwsgi => "uwsgi_buffering",
            _ => "proxy_buffering",
        };
        return Some(format!(
            "nginx buffered the response ({directive} is on by default): the application can send the header `X-Accel-Buffering: no`, or the location can set `{directive} off`"
        ));
    };
    if proxy == ProxyKind::NginxUwsgi {
        // Over the uwsgi protocol nginx hands the server the CGI variables
        // itself; only SERVER_NAME comes from the server block, not Host.
        return (setting == Setting::TrustHost).then(|| {
            "over the uwsgi protocol SERVER_NAME is nginx's `uwsgi_param SERVER_NAME $server_name` (the server block's name): pass `$host` instead".to_string()
        });
    }
    let app_fix = format!("the application can apply it itself (werkzeug's ProxyFix({proxy_fix}))");
    let server = &d.server;
    Some(match &d.trust_flags {
        Some(_) if d.trusted && d.trust_covers.iter().any(|c| c == word) => return None,
        Some(flags) if d.trust_covers.iter().any(|c| c == word) => {
            let default = d
                .trust_default
                .as_deref()
                .map(|t| format!(" (not set: {t})"))
                .unwrap_or_default();
            format!(
                "{server} was not told to trust the proxy's {header}{default}: `{flags}` fixes it (wsgiprobe --trust-proxy), or {app_fix}"
            )
        }
        _ if d.known => format!(
            "{server} has no setting to take {what} from the proxy's {header}: {app_fix}"
        ),
        _ => format!(
            "wsgiprobe does not know this server's settings: tell it to trust the proxy's {header} for {what}, or {app_fix}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(proxy: Option<ProxyKind>, trusted: bool, covers: &[&str]) -> Deployment {
        Deployment {
            server: "waitress".into(),
            proxy,
            known: true,
            trust_flags: Some("--trusted-proxy=127.0.0.1".into()),
            trusted,
            trust_covers: covers.iter().map(|c| c.to_string()).collect(),
            trust_default: Some("no trusted_proxy".into()),
        }
    }

    #[test]
    fn without_a_proxy_nothing_is_a_deployment_setting() {
        let d = deployment(None, false, &["scheme"]);
        assert_eq!(missing_setting(&d, Setting::TrustScheme), None);
        assert_eq!(missing_setting(&d, Setting::ProxyBuffering), None);
    }

    #[test]
    fn a_setting_not_applied_names_the_flag_that_fixes_it() {
        let tls = Some(ProxyKind::NginxTls);
        let fix =
            missing_setting(&deployment(tls, false, &["scheme"]), Setting::TrustScheme).unwrap();
        assert!(
            fix.contains("waitress was not told to trust the proxy's X-Forwarded-Proto"),
            "{fix}"
        );
        assert!(
            fix.contains("`--trusted-proxy=127.0.0.1` fixes it (wsgiprobe --trust-proxy)"),
            "{fix}"
        );
        assert!(fix.contains("not set: no trusted_proxy"), "{fix}");
        // Applied and covering the aspect: the server's own failure.
        assert_eq!(
            missing_setting(&deployment(tls, true, &["scheme"]), Setting::TrustScheme),
            None
        );
        // Applied, but the setting does not cover the client's address.
        let fix =
            missing_setting(&deployment(tls, true, &["scheme"]), Setting::TrustClient).unwrap();
        assert!(fix.contains("has no setting to take REMOTE_ADDR"), "{fix}");
        assert!(fix.contains("ProxyFix(x_for=1)"), "{fix}");
    }

    #[test]
    fn unknown_servers_uwsgi_and_buffering_have_their_own_words() {
        let mut d = deployment(Some(ProxyKind::Nginx), false, &[]);
        d.known = false;
        d.trust_flags = None;
        let fix = missing_setting(&d, Setting::TrustHost).unwrap();
        assert!(
            fix.starts_with("wsgiprobe does not know this server's settings"),
            "{fix}"
        );
        let uwsgi = deployment(Some(ProxyKind::NginxUwsgi), false, &[]);
        assert_eq!(missing_setting(&uwsgi, Setting::TrustClient), None);
        assert!(missing_setting(&uwsgi, Setting::TrustHost)
            .unwrap()
            .contains("uwsgi_param SERVER_NAME"));
        assert!(missing_setting(&uwsgi, Setting::ProxyBuffering)
            .unwrap()
            .contains("uwsgi_buffering off"));
        assert!(missing_setting(&d, Setting::ProxyBuffering)
            .unwrap()
            .contains("X-Accel-Buffering: no"));
    }

    #[test]
    fn the_client_picks_its_address_only_on_loopback() {
        let at = |host: &str| Target::Tcp {
            host: host.into(),
            port: 80,
        };
        let two = IpAddr::from([127, 0, 0, 2]);
        assert_eq!(source_address(&at("127.0.0.1"), two), Some(two));
        assert_eq!(source_address(&at("localhost"), two), Some(two));
        assert_eq!(source_address(&at("10.0.0.5"), two), None);
        assert_eq!(source_address(&at("::1"), two), None);
        assert_eq!(source_address(&Target::Unix("/s".into()), two), None);
    }
}

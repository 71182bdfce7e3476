//! What the user sees of a stack coming up and going down: the one place
//! gateway events become text on stderr, for check and bench alike.

use crate::gateway::Event;

/// The line an event shows, or `None` for one that shows nothing (the
/// commands say what they do with a ready stack themselves).
pub fn render(event: &Event) -> Option<String> {
    Some(match event {
        Event::StackStarting { label } => format!("wsgiprobe: starting {label}..."),
        Event::ServerNotImportable { server, python } => format!(
            "wsgiprobe: {server} is not importable from {python}; using a managed environment (--no-install refuses)"
        ),
        Event::InstallingEnvironment { requirement, dir } => format!(
            "wsgiprobe: creating a managed environment for {requirement} in {}",
            dir.display()
        ),
        Event::InstallOutput { tool, line } => format!("  {tool}: {line}"),
        Event::EnvironmentReady => "wsgiprobe: environment ready".to_string(),
        Event::StackReady { .. } => return None,
        Event::ServerExited { why } => format!("wsgiprobe: {why}"),
    })
}

/// The sink the commands hand `Gateway::start`: each event on stderr.
pub fn to_stderr(event: Event) {
    if let Some(line) = render(&event) {
        say(&line);
    }
}

/// What is shown of events: everything, or (`-q`) only a server that exited.
pub fn sink(chatty: bool) -> impl Fn(Event) {
    move |event: Event| {
        if chatty || matches!(event, Event::ServerExited { .. }) {
            to_stderr(event);
        }
    }
}

/// A line on stderr. A closed stderr is no reason to stop a run.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// What is said once every server is stopped, just before the process
/// exits on a signal (also registered with `gateway::on_interrupt`, for
/// when the handler ends the process itself). Never panics: stderr may be
/// gone with the terminal.
pub fn interrupted(signal: crate::exit::Signal) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "wsgiprobe: interrupted by {}; stopped every server it started",
        signal.name()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_the_user_knows_them() {
        let cases = [
            (
                Event::StackStarting {
                    label: "gunicorn w2 + nginx".into(),
                },
                Some("wsgiprobe: starting gunicorn w2 + nginx..."),
            ),
            (
                Event::ServerNotImportable {
                    server: "cheroot".into(),
                    python: "/usr/bin/python3".into(),
                },
                Some("wsgiprobe: cheroot is not importable from /usr/bin/python3; using a managed environment (--no-install refuses)"),
            ),
            (
                Event::InstallingEnvironment {
                    requirement: "waitress==3.0.1".into(),
                    dir: "/c/envs/waitress-3.0.1-py3.11".into(),
                },
                Some("wsgiprobe: creating a managed environment for waitress==3.0.1 in /c/envs/waitress-3.0.1-py3.11"),
            ),
            (
                Event::InstallOutput {
                    tool: "pip",
                    line: "Collecting waitress==3.0.1".into(),
                },
                Some("  pip: Collecting waitress==3.0.1"),
            ),
            (Event::EnvironmentReady, Some("wsgiprobe: environment ready")),
            (
                Event::StackReady {
                    target: "http://127.0.0.1:1/".into(),
                },
                None,
            ),
            (
                Event::ServerExited {
                    why: "the server exited (exit code 3) during the run".into(),
                },
                Some("wsgiprobe: the server exited (exit code 3) during the run"),
            ),
        ];
        for (event, want) in cases {
            assert_eq!(render(&event).as_deref(), want, "{event:?}");
        }
    }
}

//! Child processes: servers in a process group of their own (registered
//! for teardown, and held by a supervisor that stops the group should
//! wsgiprobe be killed outright), short commands with a time limit,
//! commands whose output is followed line by line, and reading what they
//! left in their logs.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::cleanup;
use super::error::GatewayError;

/// A long-running child (a server or nginx) in a process group of its own.
/// Dropping it stops the whole group.
pub struct ServerProcess {
    child: Mutex<Child>,
    pub pgid: i32,
    pub log: PathBuf,
    pub command: String,
    /// `server` or `nginx`, for messages.
    pub role: &'static str,
}

impl ServerProcess {
    /// Runs `command` with `sh -c` in `dir`, its output (both streams) to
    /// `log`, with `env` added to its environment, under a supervisor that
    /// stops the whole group should wsgiprobe die without stopping it.
    pub fn spawn(
        command: &str,
        dir: &Path,
        env: &[(&str, &Path)],
        log: &Path,
        role: &'static str,
    ) -> Result<ServerProcess, GatewayError> {
        let spawn_err = |source| GatewayError::Spawn {
            command: command.to_string(),
            source,
        };
        let out = File::create(log).map_err(spawn_err)?;
        let err = out.try_clone().map_err(spawn_err)?;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(command)
            .current_dir(dir)
            .envs(env.iter().copied())
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: `supervise` makes only async-signal-safe calls (fork,
        // prctl, signal, close, waitpid, getppid, kill, nanosleep, _exit),
        // as code between fork and exec must.
        unsafe {
            cmd.pre_exec(move || supervise(parent));
        }
        let child = cmd.spawn().map_err(spawn_err)?;
        let pgid = child.id() as i32;
        cleanup::register_group(pgid);
        Ok(ServerProcess {
            child: Mutex::new(child),
            pgid,
            log: log.to_path_buf(),
            command: command.to_string(),
            role,
        })
    }

    /// How it ended, once it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().ok()?;
        child.try_wait().ok().flatten()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            cleanup::stop_groups(&[self.pgid], Duration::from_secs(3), || {
                let _ = child.try_wait();
            });
            let _ = child.wait();
        }
        cleanup::unregister_group(self.pgid);
    }
}

/// How often the supervisor looks for its server's end and its parent's.
const SUPERVISE_STEP_NS: libc::c_long = 50_000_000;
/// How long the supervisor gives the group to stop before killing it.
const ORPHAN_GRACE_STEPS: u32 = 40;

/// Runs in the child between fork and exec, as the leader of the new
/// process group: forks again, and the grandchild goes on to exec the
/// command while this process stays behind as a tiny supervisor.
///
/// Why: when wsgiprobe is killed outright (SIGKILL), no handler of its own
/// runs, and a death signal set on the child reaches only that one process:
/// `sh -c` (dash keeps the shell as the parent of a compound command),
/// not the server under it, its workers or nginx's. The supervisor waits
/// for its server and exits as it did (so wsgiprobe sees the server's own
/// exit status); should wsgiprobe die first, it stops the whole group:
/// TERM, a grace period, KILL.
///
/// # Safety
/// Only for a `pre_exec` hook: it forks, and the supervisor never returns.
unsafe fn supervise(parent: libc::pid_t) -> std::io::Result<()> {
    let server = libc::fork();
    if server < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if server == 0 {
        // The server: should the supervisor itself be killed, so is it.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        return Ok(());
    }
    // The supervisor. Signals meant for the group (teardown sends TERM to
    // it) are the server's to act on; the supervisor reports how it ended.
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        libc::signal(sig, libc::SIG_IGN);
    }
    // Holding no descriptor: the spawn's error pipe must close once the
    // server has exec'd, and the log and sockets are not ours.
    if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
        for fd in 3..4096 {
            libc::close(fd);
        }
    }
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: SUPERVISE_STEP_NS,
    };
    let mut status = 0;
    loop {
        if libc::waitpid(server, &mut status, libc::WNOHANG) == server {
            relay(status);
        }
        if libc::getppid() != parent {
            // wsgiprobe is gone: take the group (this process included) down.
            libc::kill(0, libc::SIGTERM);
            for _ in 0..ORPHAN_GRACE_STEPS {
                if libc::waitpid(server, &mut status, libc::WNOHANG) == server {
                    break;
                }
                libc::nanosleep(&pause, std::ptr::null_mut());
            }
            libc::kill(0, libc::SIGKILL);
            libc::_exit(128 + libc::SIGKILL);
        }
        libc::nanosleep(&pause, std::ptr::null_mut());
    }
}

/// Ends the supervisor as its server ended: the same exit code, or death
/// by the same signal.
unsafe fn relay(status: libc::c_int) -> ! {
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        libc::signal(sig, libc::SIG_DFL);
        libc::kill(libc::getpid(), sig);
        libc::_exit(128 + sig);
    }
    libc::_exit(libc::WEXITSTATUS(status))
}

/// A TCP port nothing listens on right now.
pub fn free_port(host: &str) -> Result<u16, GatewayError> {
    let port_err = |source| GatewayError::Port {
        host: host.to_string(),
        source,
    };
    let listener = std::net::TcpListener::bind((host, 0)).map_err(port_err)?;
    listener.local_addr().map(|a| a.port()).map_err(port_err)
}

/// `exit code 3`, `killed by signal 9`.
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "unknown status".to_string(),
    }
}

/// The last `n` lines of a log file (reads at most its last 64 KiB).
pub fn tail(path: &Path, n: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let out = lines[start..].join("\n");
    if out.trim().is_empty() {
        "(the log is empty)".to_string()
    } else {
        out
    }
}

/// Runs a short command with a time limit; `Ok(None)` when it timed out.
pub fn run_briefly(
    program: &str,
    args: &[&str],
    limit: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait()?.is_some() {
            return child.wait_with_output().map(Some);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a command in a process group of its own (registered for teardown),
/// handing each output line to `on_line` as it comes and keeping them for
/// error messages. Gives up after `limit`, stopping the group. Returns
/// whether it succeeded, and its lines.
pub fn run_streaming(
    program: &str,
    args: &[&str],
    limit: Duration,
    on_line: &mut dyn FnMut(&str),
) -> std::io::Result<(bool, Vec<String>)> {
    let mut child = Command::new(program)
        .args(args)
        .env("PIP_NO_INPUT", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let pgid = child.id() as i32;
    cleanup::register_group(pgid);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let readers: Vec<_> = [
        Box::new(child.stdout.take().expect("piped")) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().expect("piped")),
    ]
    .into_iter()
    .map(|pipe| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        })
    })
    .collect();
    drop(tx);
    let deadline = Instant::now() + limit;
    let mut lines = Vec::new();
    let mut timed_out = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                on_line(&line);
                lines.push(line);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= deadline {
            timed_out = true;
            cleanup::stop_groups(&[pgid], Duration::from_secs(2), || {
                let _ = child.try_wait();
            });
            break;
        }
    }
    let status = child.wait()?;
    cleanup::unregister_group(pgid);
    for r in readers {
        let _ = r.join();
    }
    if timed_out {
        lines.push(format!("(stopped after {} s)", limit.as_secs()));
        return Ok((false, lines));
    }
    Ok((status.success(), lines))
}

/// The interpreter's version (`3.11.7`).
pub fn python_version(python: &str) -> Result<String, GatewayError> {
    let out = run_briefly(
        python,
        &["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        Duration::from_secs(20),
    )
    .map_err(|source| GatewayError::Python {
        python: python.to_string(),
        source,
    })?;
    match out {
        Some(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Some(o) => Err(GatewayError::Python {
            python: python.to_string(),
            source: std::io::Error::other(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        }),
        None => Err(GatewayError::Python {
            python: python.to_string(),
            source: std::io::Error::other("it did not answer within 20 s"),
        }),
    }
}

//! The socket under a [`Connection`](super::Connection): plain TCP, a unix
//! socket, or TLS over TCP, opened within the connect timeout.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::client::{HttpError, Phase, Target, Timeouts};
use super::tls::TlsStream;

#[derive(Debug)]
pub(super) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(TlsStream),
}

impl Stream {
    /// Connects (and, over TLS, completes the handshake within the io
    /// timeout); `source` binds the client's end of a TCP connection.
    pub(super) fn open(
        target: &Target,
        timeouts: Timeouts,
        source: Option<IpAddr>,
    ) -> Result<Stream, HttpError> {
        Ok(match target {
            Target::Tcp { host, port } => {
                Stream::Tcp(connect_tcp(target, host, *port, timeouts, source)?)
            }
            Target::Tls { host, port, tls } => {
                let sock = connect_tcp(target, host, *port, timeouts, source)?;
                let limit = (!timeouts.io.is_zero()).then_some(timeouts.io);
                let handshake = sock
                    .set_read_timeout(limit)
                    .and_then(|()| sock.set_write_timeout(limit))
                    .and_then(|()| tls.connect(host, sock));
                Stream::Tls(handshake.map_err(|source| HttpError::Tls {
                    target: target.to_string(),
                    trust: tls.trust().to_string(),
                    source,
                })?)
            }
            // A Unix connect either succeeds or fails at once unless the
            // listener's backlog is full; std offers no timeout for it.
            Target::Unix(path) => {
                Stream::Unix(
                    UnixStream::connect(path).map_err(|source| HttpError::Connect {
                        target: target.to_string(),
                        source,
                    })?,
                )
            }
        })
    }

    pub(super) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
            Stream::Tls(s) => s.tcp().set_read_timeout(t),
        }
    }

    pub(super) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
            Stream::Tls(s) => s.tcp().set_write_timeout(t),
        }
    }

    /// Closes the sending side (over TLS, after a close_notify).
    pub(super) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
            Stream::Tls(s) => s.shutdown_write(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Connects to each address the host resolves to in turn, from `source`
/// when given (only addresses of its family are tried then).
fn connect_tcp(
    target: &Target,
    host: &str,
    port: u16,
    timeouts: Timeouts,
    source: Option<IpAddr>,
) -> Result<TcpStream, HttpError> {
    let connect_err = |source| HttpError::Connect {
        target: target.to_string(),
        source,
    };
    let addrs = (host, port).to_socket_addrs().map_err(connect_err)?;
    let mut last = None;
    for addr in addrs {
        if source.is_some_and(|s| s.is_ipv4() != addr.is_ipv4()) {
            continue;
        }
        match connect_one(addr, timeouts.connect, source) {
            Ok(stream) => {
                stream.set_nodelay(true).map_err(|source| HttpError::Io {
                    phase: Phase::Connect,
                    source,
                })?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            HttpError::Timeout {
                phase: Phase::Connect,
            }
        }
        Some(e) => connect_err(e),
        None => connect_err(io::Error::new(
            ErrorKind::NotFound,
            "host name resolved to no addresses",
        )),
    })
}

fn connect_one(
    addr: SocketAddr,
    timeout: Duration,
    source: Option<IpAddr>,
) -> io::Result<TcpStream> {
    let Some(source) = source else {
        return if timeout.is_zero() {
            TcpStream::connect(addr)
        } else {
            TcpStream::connect_timeout(&addr, timeout)
        };
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    if timeout.is_zero() {
        socket.connect(&addr.into())?;
    } else {
        socket.connect_timeout(&addr.into(), timeout)?;
    }
    Ok(socket.into())
}

//! Where the engine connects, and the non-blocking socket it reads and
//! writes (TCP, a unix socket, or TLS over TCP, behind one type).
//!
//! TLS is a rustls session driven over the non-blocking TCP socket
//! (`TlsSocket`): plain TCP and unix sockets take exactly the path they
//! took before it existed.

use std::io::{self, ErrorKind as IoKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};

use crate::http::tls::TlsClient;
use crate::http::Target;

/// Where to connect, resolved once.
#[derive(Debug, Clone)]
pub enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
    /// TLS to this address; `host` is the name the certificate must have.
    Tls {
        addr: SocketAddr,
        host: String,
        tls: TlsClient,
    },
}

impl Addr {
    /// Resolves `target` (a host name to its first address).
    pub fn resolve(target: &Target) -> io::Result<Addr> {
        match target {
            Target::Unix(p) => Ok(Addr::Unix(p.clone())),
            Target::Tcp { host, port } => first_address(host, *port).map(Addr::Tcp),
            Target::Tls { host, port, tls } => Ok(Addr::Tls {
                addr: first_address(host, *port)?,
                host: host.clone(),
                tls: tls.clone(),
            }),
        }
    }
}

fn first_address(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other(format!("{host} has no address")))
}

/// One non-blocking connection to the target.
pub enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsSocket>),
}

impl Socket {
    /// Starts connecting; the socket is usable once [`Socket::connected`] says so.
    pub fn connect(addr: &Addr) -> io::Result<Socket> {
        Ok(match addr {
            Addr::Tcp(a) => {
                let s = TcpStream::connect(*a)?;
                s.set_nodelay(true)?;
                Socket::Tcp(s)
            }
            Addr::Unix(p) => Socket::Unix(UnixStream::connect(p)?),
            Addr::Tls { addr, host, tls } => {
                let tcp = TcpStream::connect(*addr)?;
                tcp.set_nodelay(true)?;
                let session = tls.session(host).map_err(io::Error::other)?;
                Socket::Tls(Box::new(TlsSocket { tcp, session }))
            }
        })
    }

    /// Whether a read that filled less than the buffer proves the socket
    /// drained (so the next bytes come as a new edge). Not over TLS: the
    /// session hands out what it has decrypted while more may wait in the
    /// socket.
    pub fn short_read_drains(&self) -> bool {
        !matches!(self, Socket::Tls(_))
    }

    /// Over TLS, sends what the session still holds (records a full
    /// socket held back); nothing to do otherwise.
    pub fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Socket::Tls(t) => t.flush_records(),
            _ => Ok(()),
        }
    }

    /// The socket as mio registers it.
    pub fn source(&mut self) -> &mut dyn Source {
        match self {
            Socket::Tcp(s) => s,
            Socket::Unix(s) => s,
            Socket::Tls(t) => &mut t.tcp,
        }
    }

    /// `Ok(true)` once connected, `Ok(false)` while still connecting.
    pub fn connected(&self) -> io::Result<bool> {
        let (err, peer) = match self {
            Socket::Tcp(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
            Socket::Unix(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
            Socket::Tls(t) => (t.tcp.take_error()?, t.tcp.peer_addr().map(|_| ())),
        };
        if let Some(e) = err {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e)
                if e.kind() == IoKind::NotConnected || e.raw_os_error() == Some(libc::ENOTCONN) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(b),
            Socket::Unix(s) => s.read(b),
            Socket::Tls(t) => t.read(b),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(b),
            Socket::Unix(s) => s.write(b),
            Socket::Tls(t) => t.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A rustls client session over a non-blocking TCP socket. Writes queue
/// plaintext in the session and send what records the socket takes; reads
/// feed the session from the socket until it has plaintext to give or the
/// socket would block. The handshake happens on the way, driven by the
/// same calls.
pub struct TlsSocket {
    tcp: TcpStream,
    session: rustls::ClientConnection,
}

impl TlsSocket {
    /// Writes the session's pending records until done or the socket is full.
    fn flush_records(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == IoKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Read for TlsSocket {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.session.reader().read(b) {
                // Ok(0): the server closed the session cleanly.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == IoKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            match self.session.read_tls(&mut self.tcp) {
                Ok(_) => {
                    // Ok(0) is the end of the stream: the session then
                    // reports a close, clean or not, on the next read.
                    self.session
                        .process_new_packets()
                        .map_err(io::Error::other)?;
                    // The handshake's answers, and the request queued
                    // behind it once the handshake is over.
                    self.flush_records()?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for TlsSocket {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.session.writer().write(b)?;
        self.flush_records()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records()
    }
}

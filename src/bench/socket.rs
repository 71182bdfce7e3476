//! Where the engine connects, and the non-blocking socket it reads and
//! writes (TCP or a unix socket, behind one type).

use std::io::{self, ErrorKind as IoKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};

use crate::http::Target;

/// Where to connect, resolved once.
#[derive(Debug, Clone)]
pub enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Addr {
    /// Resolves `target` (a host name to its first address).
    pub fn resolve(target: &Target) -> io::Result<Addr> {
        match target {
            Target::Unix(p) => Ok(Addr::Unix(p.clone())),
            Target::Tls { .. } => Err(io::Error::other("bench does not speak TLS yet")),
            Target::Tcp { host, port } => (host.as_str(), *port)
                .to_socket_addrs()?
                .next()
                .map(Addr::Tcp)
                .ok_or_else(|| io::Error::other(format!("{host} has no address"))),
        }
    }
}

/// One non-blocking connection to the target.
pub enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
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
        })
    }

    /// The socket as mio registers it.
    pub fn source(&mut self) -> &mut dyn Source {
        match self {
            Socket::Tcp(s) => s,
            Socket::Unix(s) => s,
        }
    }

    /// `Ok(true)` once connected, `Ok(false)` while still connecting.
    pub fn connected(&self) -> io::Result<bool> {
        let (err, peer) = match self {
            Socket::Tcp(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
            Socket::Unix(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
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
        }
    }
}

impl Write for Socket {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(b),
            Socket::Unix(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

//! TLS for the client side (rustls, ring provider) and the certificate
//! wsgiprobe generates for `--proxy nginx-tls` (rcgen).
//!
//! A [`TlsClient`] says which certificates a connection trusts: the
//! system's roots (`--url https://...`), any certificate at all
//! (`--insecure`, for a self-signed one), or exactly the certificate
//! generated for this run, so that nginx in front of a server is verified
//! like any real deployment, without anything added to the system's store.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// Which server certificates a TLS connection accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Trust {
    /// Certificates that chain to the system's roots.
    System,
    /// Any certificate (`--insecure`): the connection is encrypted but the
    /// server is not authenticated.
    Insecure,
    /// Only this certificate, generated for the run (named for messages).
    Generated(String),
}

impl fmt::Display for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trust::System => f.write_str("the system's roots"),
            Trust::Insecure => f.write_str("any certificate (--insecure)"),
            Trust::Generated(what) => write!(f, "only {what}"),
        }
    }
}

/// A TLS client configuration and what it trusts. Cheap to clone.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    trust: Trust,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("trust", &self.trust)
            .finish()
    }
}

/// Two clients are the same when they trust the same thing through the
/// same configuration.
impl PartialEq for TlsClient {
    fn eq(&self, other: &TlsClient) -> bool {
        self.trust == other.trust && Arc::ptr_eq(&self.config, &other.config)
    }
}

impl Eq for TlsClient {}

impl std::hash::Hash for TlsClient {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.trust.hash(state);
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no usable root certificate in the system's store; install ca-certificates, or add --insecure for a server whose certificate you do not need to verify")]
    NoRoots,
    #[error("could not generate a certificate")]
    Generate(#[source] rcgen::Error),
    #[error("could not set up TLS")]
    Config(#[source] rustls::Error),
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, TlsError> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)
}

fn with_roots(roots: RootCertStore) -> Result<ClientConfig, TlsError> {
    Ok(builder()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl TlsClient {
    /// Verifies servers against the system's roots (loaded once per process).
    pub fn system() -> Result<TlsClient, TlsError> {
        static SYSTEM: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
        let config = SYSTEM.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(TlsError::NoRoots.to_string());
            }
            with_roots(roots).map(Arc::new).map_err(|e| e.to_string())
        });
        match config {
            Ok(config) => Ok(TlsClient {
                config: config.clone(),
                trust: Trust::System,
            }),
            Err(_) => Err(TlsError::NoRoots),
        }
    }

    /// Accepts any certificate: encryption without authentication.
    pub fn insecure() -> TlsClient {
        static INSECURE: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        let config = INSECURE.get_or_init(|| {
            let mut config = builder()
                .expect("the ring provider supports the default protocol versions")
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth();
            config
                .dangerous()
                .set_certificate_verifier(Arc::new(AcceptAny(provider())));
            Arc::new(config)
        });
        TlsClient {
            config: config.clone(),
            trust: Trust::Insecure,
        }
    }

    /// Trusts exactly `cert` (named `what` in messages).
    pub fn trusting(cert: &CertificateDer<'static>, what: &str) -> Result<TlsClient, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add(cert.clone()).map_err(TlsError::Config)?;
        Ok(TlsClient {
            config: Arc::new(with_roots(roots)?),
            trust: Trust::Generated(what.to_string()),
        })
    }

    /// What this client trusts.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// A fresh client session for `host` (a name or an IP address): the
    /// state machine the load engine drives over its own non-blocking socket.
    pub fn session(&self, host: &str) -> Result<ClientConnection, TlsError> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| TlsError::ServerName(host.to_string()))?;
        ClientConnection::new(self.config.clone(), name).map_err(TlsError::Config)
    }

    /// Completes the handshake over a connected blocking socket (its
    /// timeouts bound every step) and returns the stream.
    pub fn connect(&self, host: &str, sock: TcpStream) -> io::Result<TlsStream> {
        let session = self.session(host).map_err(io::Error::other)?;
        let mut stream = rustls::StreamOwned::new(session, sock);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(TlsStream(Box::new(stream)))
    }
}

/// A blocking TLS connection over TCP.
#[derive(Debug)]
pub struct TlsStream(Box<rustls::StreamOwned<ClientConnection, TcpStream>>);

impl TlsStream {
    /// The TCP socket under the TLS session.
    pub fn tcp(&self) -> &TcpStream {
        &self.0.sock
    }

    /// Ends the sending side: a close_notify, then the TCP half-close.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.conn.send_close_notify();
        self.0.flush()?;
        self.0.sock.shutdown(std::net::Shutdown::Write)
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// `--insecure`: every certificate is accepted, but the handshake's
/// signatures are still checked, so the session is what it claims to be.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A self-signed certificate and its private key, made for one run.
pub struct SelfSigned {
    /// The certificate, PEM (for nginx's `ssl_certificate`).
    pub cert_pem: String,
    /// The private key, PEM (`ssl_certificate_key`).
    pub key_pem: String,
    /// The certificate, DER (for the client's trust).
    pub der: CertificateDer<'static>,
}

impl SelfSigned {
    /// A certificate valid for these names and IP addresses.
    pub fn generate(names: &[&str]) -> Result<SelfSigned, TlsError> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(names).map_err(TlsError::Generate)?;
        Ok(SelfSigned {
            cert_pem: cert.pem(),
            key_pem: signing_key.serialize_pem(),
            der: cert.der().clone(),
        })
    }
}

impl fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfSigned").finish_non_exhaustive()
    }
}

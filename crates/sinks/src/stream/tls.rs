//! rustls client configuration, built once at start: roots (a CA file or the system store), optional client
//! certificate and key, and the name the server certificate must carry.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use super::{StreamError, TlsOptions};

/// Everything a connection attempt needs to start a TLS session.
#[derive(Clone)]
pub(super) struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

impl TlsClient {
    pub fn new(opts: &TlsOptions, host: &str) -> Result<Self, StreamError> {
        let name = opts.server_name.as_deref().unwrap_or(host);
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|e| StreamError::Tls(format!("server name {name:?}: {e}")))?;
        Ok(Self {
            config: Arc::new(client_config(opts)?),
            server_name,
        })
    }

    pub fn session(&self) -> Result<rustls::ClientConnection, rustls::Error> {
        let mut conn =
            rustls::ClientConnection::new(self.config.clone(), self.server_name.clone())?;
        // The sink drains ciphertext after every message, so rustls never holds more than one.
        conn.set_buffer_limit(None);
        Ok(conn)
    }
}

fn client_config(opts: &TlsOptions) -> Result<ClientConfig, StreamError> {
    let roots = match &opts.ca_file {
        Some(path) => file_roots(path)?,
        None => system_roots()?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StreamError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    match (&opts.client_cert, &opts.client_key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "client certificate")?;
            let key_der = read_key(key)?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                let (c, k) = (cert.display(), key.display());
                StreamError::Tls(format!("client certificate {c} with key {k}: {e}"))
            })
        }
        _ => Err(StreamError::Tls(
            "client_cert and client_key must be given together".into(),
        )),
    }
}

fn file_roots(path: &Path) -> Result<RootCertStore, StreamError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path, "CA")? {
        roots.add(cert).map_err(|e| file_error("CA", path, e))?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, StreamError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(StreamError::Tls(format!(
            "no system CA certificates found (set a CA file) {why}"
        )));
    }
    Ok(roots)
}

/// Every certificate in a PEM file; an unreadable file or one without certificates names the file.
fn read_certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, StreamError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    match certs.is_empty() {
        true => Err(file_error(what, path, "no PEM CERTIFICATE in it")),
        false => Ok(certs),
    }
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, StreamError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error("client key", path, e))
}

fn file_error(what: &'static str, path: &Path, e: impl std::fmt::Display) -> StreamError {
    StreamError::File {
        what,
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

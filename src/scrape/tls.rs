//! `tls_config` of a scrape job and the TLS clients of https targets:
//! rustls on ring, the system's roots unless the job names its CA, as
//! Prometheus's Go client does.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Deserialize;
use std::sync::{Arc, LazyLock};

/// `tls_config`, as Prometheus's configuration spells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificates (PEM) that sign the targets' certificates, inline.
    pub ca: Option<String>,
    /// The same, from a file.
    pub ca_file: Option<String>,
    /// Client certificate (PEM), inline.
    pub cert: Option<String>,
    /// Client certificate from a file.
    pub cert_file: Option<String>,
    /// Client key (PEM), inline.
    pub key: Option<String>,
    /// Client key from a file.
    pub key_file: Option<String>,
    /// Name the target's certificate must carry, instead of the host.
    pub server_name: Option<String>,
    /// Accept any certificate (the connection is still encrypted).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// `TLS12` or `TLS13`: the oldest version offered.
    pub min_version: Option<String>,
}

/// A TLS client for one job's targets.
#[derive(Debug, Clone)]
pub struct TlsClient {
    /// Roots, client certificate, verification.
    pub config: Arc<ClientConfig>,
    /// Overrides the name checked against the certificate.
    pub server_name: Option<String>,
}

/// The same client object: a job loaded again from the file builds a new
/// one (its CA file may have changed), a job carried over keeps it.
impl PartialEq for TlsClient {
    fn eq(&self, other: &TlsClient) -> bool {
        Arc::ptr_eq(&self.config, &other.config) && self.server_name == other.server_name
    }
}

impl Eq for TlsClient {}

/// ring's provider. rustls 0.23.48 deprecates it for lacking post-quantum
/// key exchange; the alternative (aws-lc-rs) needs a C/CMake toolchain at
/// build time, and scrape traffic on a private network does not need it.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: LazyLock<Arc<CryptoProvider>> =
        LazyLock::new(|| Arc::new(rustls::crypto::ring::default_provider()));
    Arc::clone(&PROVIDER)
}

/// The client for https targets of jobs without `tls_config`: the
/// system's roots (read once).
pub fn default_client() -> Result<TlsClient, String> {
    static DEFAULT: LazyLock<Result<TlsClient, String>> =
        LazyLock::new(|| build(&TlsConfig::default()));
    DEFAULT.clone()
}

fn pem_source<'a>(
    inline: Option<&'a String>,
    file: Option<&String>,
    what: &str,
) -> Result<Option<std::borrow::Cow<'a, [u8]>>, String> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(format!("at most one of {what} and {what}_file")),
        (Some(text), None) => Ok(Some(text.as_bytes().into())),
        (None, Some(path)) => std::fs::read(path)
            .map(|b| Some(b.into()))
            .map_err(|e| format!("unable to read {what}_file {path}: {e}")),
        (None, None) => Ok(None),
    }
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no PEM certificate found"));
    }
    Ok(certs)
}

/// Builds a job's client; a missing or unreadable file, a bad PEM or a
/// key that does not match is refused with the reason.
pub fn build(cfg: &TlsConfig) -> Result<TlsClient, String> {
    let versions: &[&rustls::SupportedProtocolVersion] = match cfg.min_version.as_deref() {
        None | Some("TLS12") => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some("TLS13") => &[&rustls::version::TLS13],
        Some(v) => {
            return Err(format!("min_version {v:?} not supported (TLS12 or TLS13)"));
        }
    };
    let mut roots = RootCertStore::empty();
    match pem_source(cfg.ca.as_ref(), cfg.ca_file.as_ref(), "ca")? {
        Some(pem) => {
            for c in certificates(&pem, "ca")? {
                roots
                    .add(c)
                    .map_err(|e| format!("ca: unusable certificate: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                // One odd system certificate does not disable the rest.
                let _ = roots.add(c);
            }
        }
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let cert = pem_source(cfg.cert.as_ref(), cfg.cert_file.as_ref(), "cert")?;
    let key = pem_source(cfg.key.as_ref(), cfg.key_file.as_ref(), "key")?;
    let mut config = match (cert, key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = certificates(&cert, "cert")?;
            let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| format!("key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate and key: {e}"))?
        }
        _ => return Err("client cert and key must be configured together".into()),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if cfg.insecure_skip_verify {
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(AcceptAny(provider())));
    }
    if let Some(name) = &cfg.server_name {
        ServerName::try_from(name.clone()).map_err(|e| format!("server_name {name:?}: {e}"))?;
    }
    Ok(TlsClient {
        config: Arc::new(config),
        server_name: cfg.server_name.clone(),
    })
}

/// `insecure_skip_verify`: any certificate is accepted, but the handshake's
/// signatures are still checked, so the session is encrypted to the key
/// the target presented.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let e = build(&TlsConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsConfig::default()
        })
        .unwrap_err();
        assert!(
            e.contains("unable to read ca_file /nonexistent/ca.pem"),
            "{e}"
        );
        let e = build(&TlsConfig {
            ca: Some("not a certificate".into()),
            ..TlsConfig::default()
        })
        .unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = build(&TlsConfig {
            cert: Some("x".into()),
            ..TlsConfig::default()
        })
        .unwrap_err();
        assert!(e.contains("together"), "{e}");
        let e = build(&TlsConfig {
            min_version: Some("TLS10".into()),
            ..TlsConfig::default()
        })
        .unwrap_err();
        assert!(e.contains("TLS10"), "{e}");
        assert!(
            build(&TlsConfig {
                insecure_skip_verify: true,
                ..TlsConfig::default()
            })
            .is_ok()
        );
    }
}

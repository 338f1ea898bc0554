//! The TLS configuration shared by HTTPS requests and WSS sessions.

use std::sync::Arc;

use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::Error;

/// rustls with the ring provider, Mozilla's roots (webpki-roots) and any
/// extra PEM roots. The provider is named here rather than taken from the
/// process default, so the client works whatever other crates of the
/// program enable in rustls.
pub(crate) fn config(extra_roots_pem: &[Vec<u8>]) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for pem in extra_roots_pem {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| tls_error(format!("bad PEM root certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("unusable root certificate: {e}")))?;
            found += 1;
        }
        if found == 0 {
            return Err(tls_error("no certificate in the PEM root certificate data"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn tls_error(reason: impl Into<String>) -> Error {
    Error::Tls {
        reason: reason.into(),
    }
}

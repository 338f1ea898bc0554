//! Certificates for TLS tests, as PEM files a node can be started with.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub use rcgen::{BasicConstraints, CertificateParams, IsCa, date_time_ymd};

/// A certificate and its private key as `cert.pem` and `key.pem` in a
/// directory of their own, removed on drop.
#[derive(Debug)]
pub struct CertFiles {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS#8).
    pub key: PathBuf,
    dir: PathBuf,
}

impl CertFiles {
    /// A fresh empty directory, named after `label`, for a tool (openssl)
    /// to write `cert.pem` and `key.pem` into.
    pub fn empty(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rues-cert-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        CertFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        }
    }

    /// A self-signed certificate for `names` (DNS names or IP addresses),
    /// valid from 1975 to 4096 unless `shape` says otherwise.
    pub fn self_signed(
        label: &str,
        names: &[&str],
        shape: impl FnOnce(&mut CertificateParams),
    ) -> Self {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("valid names");
        shape(&mut params);
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = params.self_signed(&key).expect("a certificate");
        let files = Self::empty(label);
        std::fs::write(&files.cert, cert.pem()).expect("certificate written");
        std::fs::write(&files.key, key.serialize_pem()).expect("key written");
        files
    }

    /// A self-signed certificate marked as a CA (`CA:TRUE`), as
    /// `openssl req -x509` makes one by default.
    pub fn self_signed_ca(label: &str, names: &[&str]) -> Self {
        Self::self_signed(label, names, |params| {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        })
    }

    /// The certificate's PEM text.
    pub fn pem(&self) -> String {
        std::fs::read_to_string(&self.cert).expect("the certificate is readable")
    }
}

impl Drop for CertFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

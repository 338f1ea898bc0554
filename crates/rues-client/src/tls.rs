//! The TLS configuration shared by HTTPS requests and WSS sessions, and the
//! words for a refused certificate.
//!
//! A certificate given as a root (`add_root_certificates_pem`) is also
//! trusted as itself: a node that presents exactly that certificate is
//! accepted once its name and validity period check out, whatever its
//! basic constraints say. That is how curl and OpenSSL treat `--cacert`,
//! and what a self-signed certificate needs: `openssl req -x509` marks the
//! ones it makes `CA:TRUE`, which webpki refuses in the server's place
//! (`CaUsedAsEndEntity`). Every other certificate goes through webpki as is.

use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::{WebPkiServerVerifier, verify_server_name};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::Error;

/// rustls with the ring provider, Mozilla's roots (webpki-roots) and any
/// extra PEM roots, or no verification at all when `insecure`. The
/// provider is named here rather than taken from the process default, so
/// the client works whatever other crates of the program enable in rustls.
pub(crate) fn config(
    extra_roots_pem: &[Vec<u8>],
    insecure: bool,
) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut given = Vec::new();
    for pem in extra_roots_pem {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| tls_error(format!("bad PEM root certificate: {e}")))?;
            roots
                .add(cert.clone())
                .map_err(|e| tls_error(format!("unusable root certificate: {e}")))?;
            given.push(cert);
            found += 1;
        }
        if found == 0 {
            return Err(tls_error("no certificate in the PEM root certificate data"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| tls_error(e.to_string()))?;
    let verifier = Verifier {
        webpki,
        given,
        insecure,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn tls_error(reason: impl Into<String>) -> Error {
    Error::Tls {
        reason: reason.into(),
    }
}

/// webpki, except for the certificates given as roots (trusted as
/// themselves), or nothing when `insecure`. The handshake's signatures
/// are always checked against the presented certificate's key, by webpki.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    given: Vec<CertificateDer<'static>>,
    insecure: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        if !self.given.iter().any(|given| given[..] == end_entity[..]) {
            return self.webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            );
        }
        // Trusted byte for byte: its signature, issuer and CA flag need no
        // check (the handshake proves the node holds its key); its validity
        // period and its names still do, in webpki's order and words.
        let (not_before, not_after) = validity(end_entity).ok_or(CertificateError::BadEncoding)?;
        let (not_before, not_after) = (
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(not_before)),
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(not_after)),
        );
        if now < not_before {
            return Err(CertificateError::NotValidYetContext {
                time: now,
                not_before,
            }
            .into());
        }
        if now > not_after {
            return Err(CertificateError::ExpiredContext {
                time: now,
                not_after,
            }
            .into());
        }
        verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A refused certificate in words: what is wrong with it, with the names
/// and times involved.
pub(crate) fn refusal(error: &CertificateError) -> String {
    match error {
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the node's certificate expired on {} (it is now {})",
            date(*not_after),
            date(*time)
        ),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "the node's certificate is not valid before {} (it is now {}): is this machine's clock right?",
            date(*not_before),
            date(*time)
        ),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<String> = presented.iter().map(|name| plain_name(name)).collect();
            let has = if names.is_empty() {
                "no names (no subjectAltName)".to_owned()
            } else {
                names.join(", ")
            };
            format!(
                "the node's certificate is not valid for {}: it is for {has}",
                expected.to_str()
            )
        }
        CertificateError::UnknownIssuer => {
            "the node's certificate is not signed by a trusted root certificate".to_owned()
        }
        CertificateError::Other(_) if is_untrusted(error) => {
            // webpki's words for a CA certificate (a self-signed one, as
            // `openssl req -x509` makes) that is not among the roots.
            "the node's certificate is a CA certificate (CA:TRUE, e.g. self-signed) that is not a trusted root certificate".to_owned()
        }
        other => format!("the node's certificate is refused: {other}"),
    }
}

/// Issued by no trusted root, or a CA certificate not itself trusted
/// (webpki's `CaUsedAsEndEntity`, which it says before looking for an
/// issuer).
pub(crate) fn is_untrusted(error: &CertificateError) -> bool {
    match error {
        CertificateError::UnknownIssuer => true,
        CertificateError::Other(other) => {
            other.0.downcast_ref::<webpki::Error>() == Some(&webpki::Error::CaUsedAsEndEntity)
        }
        _ => false,
    }
}

/// webpki's presented names are `DnsName("a")` or `IpAddress(1.2.3.4)`:
/// the name alone reads better.
fn plain_name(name: &str) -> String {
    for (prefix, suffix) in [("DnsName(\"", "\")"), ("IpAddress(", ")")] {
        if let Some(inner) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
        {
            return inner.to_owned();
        }
    }
    name.to_owned()
}

/// `2026-12-01 14:00:00 UTC`.
fn date(time: UnixTime) -> String {
    let seconds = time.as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The validity period of a DER certificate: `notBefore` and `notAfter`,
/// in seconds since the Unix epoch. Only read for a certificate the user
/// trusts byte for byte, which webpki has parsed already by then; a time
/// before 1970 reads as the epoch.
fn validity(der: &[u8]) -> Option<(u64, u64)> {
    let (certificate, _) = element(der, 0x30)?;
    let (tbs, _) = element(certificate, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = element(rest, 0xa0)?.1; // [0] version
    }
    rest = element(rest, 0x02)?.1; // serialNumber
    rest = element(rest, 0x30)?.1; // signature
    rest = element(rest, 0x30)?.1; // issuer
    let (validity, _) = element(rest, 0x30)?;
    let (not_before, rest) = time(validity)?;
    let (not_after, _) = time(rest)?;
    Some((not_before, not_after))
}

/// The DER element with `tag` at the start of `input`: its contents, and
/// what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len, mut rest) = rest.split_first()?;
    let len = if len < 0x80 {
        usize::from(len)
    } else {
        let count = usize::from(len & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, &byte| (acc << 8) | usize::from(byte))
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`), as
/// DER requires them, in seconds since the epoch; and what follows it.
fn time(input: &[u8]) -> Option<(u64, &[u8])> {
    let tag = *input.first()?;
    let (text, rest) = element(input, tag)?;
    let number = |digits: &[u8]| -> Option<i64> {
        digits.iter().try_fold(0i64, |acc, &digit| {
            digit
                .is_ascii_digit()
                .then(|| acc * 10 + i64::from(digit - b'0'))
        })
    };
    let (year, text) = match (tag, text.len()) {
        (0x17, 13) => {
            let short = number(&text[..2])?;
            (if short >= 50 { 1900 } else { 2000 } + short, &text[2..])
        }
        (0x18, 15) => (number(&text[..4])?, &text[4..]),
        _ => return None,
    };
    if text[10] != b'Z' {
        return None;
    }
    let field = |at: usize| number(&text[at..at + 2]);
    let (month, day, hour, minute, second) =
        (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some((u64::try_from(seconds).unwrap_or(0), rest))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm); negative before 1970.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day counted from 1970-01-01: the inverse of
/// [`days_from_civil`].
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_day_counts() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for days in [0, 59, 60, 11_016, 11_017, 20_000, 47_482] {
            let (y, m, d) = civil_from_days(days);
            let (y, m, d) = (y as i64, m as i64, d as i64);
            assert_eq!(days_from_civil(y, m, d), days as i64, "{y}-{m}-{d}");
        }
        assert_eq!(
            date(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                1_796_133_600
            ))),
            "2026-12-01 14:00:00 UTC"
        );
    }

    #[test]
    fn times_read_as_der_writes_them() {
        let utc = [
            0x17, 13, b'2', b'6', b'1', b'2', b'0', b'1', b'1', b'4', b'0', b'0', b'0', b'0', b'Z',
        ];
        assert_eq!(time(&utc), Some((1_796_133_600, &[][..])));
        let mut general = vec![0x18, 15];
        general.extend_from_slice(b"20261201140000Z");
        general.push(0xff);
        assert_eq!(time(&general), Some((1_796_133_600, &[0xff][..])));
        // Not UTC, or a month 13: no time at all.
        let mut local = utc;
        local[14] = b'+';
        assert_eq!(time(&local), None);
        let mut month = utc;
        month[4] = b'3';
        assert_eq!(time(&month), None);
        assert_eq!(time(&utc[..10]), None);
    }

    #[test]
    fn presented_names_lose_their_wrapping() {
        assert_eq!(plain_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("DirectoryName"), "DirectoryName");
    }
}

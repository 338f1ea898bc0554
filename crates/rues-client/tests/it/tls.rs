//! HTTPS and WSS.

use rues_client::{Client, Error, rustls};
use rues_testkit::cert::{BasicConstraints, CertFiles, CertificateParams, IsCa, date_time_ymd};

use crate::support::{TestServer, next_event};

/// A server with a certificate for localhost and 127.0.0.1, as `shape`
/// makes it.
async fn tls_server_with(
    label: &str,
    shape: fn(&mut CertificateParams),
) -> (TestServer, CertFiles) {
    let files = CertFiles::self_signed(label, &["localhost", "127.0.0.1"], shape);
    let server = TestServer::start_with(|c| c, |t| t.with_tls(&files.cert, &files.key)).await;
    (server, files)
}

async fn tls_server(label: &str) -> (TestServer, CertFiles) {
    tls_server_with(label, |_| {}).await
}

/// [`works`] over HTTPS and over WSS, trusting `certificate`.
async fn works_trusting(server: &TestServer, certificate: &CertFiles) {
    for url in [
        format!("https://localhost:{}", server.addr.port()),
        format!("wss://127.0.0.1:{}/on", server.addr.port()),
    ] {
        let builder = Client::builder(&url).add_root_certificates_pem(certificate.pem());
        works(server, builder, &url).await;
    }
}

/// Subscribes, receives an event and dispatches over `url`.
async fn works(server: &TestServer, builder: rues_client::ClientBuilder, url: &str) {
    let client = builder
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    assert_eq!(server.publish("/on/blocks:aa/accepted", "{}"), 1);
    next_event(&mut blocks).await;
    let reply = client.dispatch("node/info", ()).await.expect("a reply");
    assert!(reply.is_json());
    client.close().await;
}

#[tokio::test]
async fn https_and_wss_work_with_a_trusted_root() {
    let (server, certificate) = tls_server("trusted").await;
    works_trusting(&server, &certificate).await;
}

#[tokio::test]
async fn a_self_signed_ca_certificate_given_as_root_is_trusted_as_itself() {
    // CA:TRUE, as `openssl req -x509` makes it: webpki alone refuses it in
    // the server's place.
    let (server, certificate) = tls_server_with("ca-leaf", |params| {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    })
    .await;
    works_trusting(&server, &certificate).await;
}

#[tokio::test]
async fn a_refused_certificate_says_what_is_wrong_with_it() {
    let (server, certificate) = tls_server_with("expired-lib", |params| {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    })
    .await;
    for url in [
        format!("https://localhost:{}", server.addr.port()),
        format!("wss://localhost:{}", server.addr.port()),
    ] {
        let error = Client::builder(&url)
            .add_root_certificates_pem(certificate.pem())
            .connect()
            .await
            .expect_err("expired");
        assert!(
            matches!(
                error.certificate_error(),
                Some(rustls::CertificateError::ExpiredContext { .. })
            ),
            "{error:?}"
        );
        assert!(!error.is_untrusted_certificate(), "{error:?}");
        assert!(
            error.to_string().contains(
                "the node's certificate expired on 2021-01-01 00:00:00 UTC (it is now 20"
            ),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_certificate_not_valid_yet_says_from_when() {
    let (server, certificate) = tls_server_with("future-lib", |params| {
        params.not_before = date_time_ymd(2090, 1, 1);
        params.not_after = date_time_ymd(2091, 1, 1);
    })
    .await;
    let url = format!("https://localhost:{}", server.addr.port());
    let error = Client::builder(&url)
        .add_root_certificates_pem(certificate.pem())
        .dispatcher()
        .expect("a dispatcher")
        .dispatch("node/info", ())
        .await
        .expect_err("not valid yet");
    assert!(
        error.to_string().contains(
            "the node's certificate is not valid before 2090-01-01 00:00:00 UTC (it is now 20"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_certificate_for_other_names_says_both() {
    let certificate = CertFiles::self_signed_ca("names-lib", &["node.example", "10.1.2.3"]);
    let server =
        TestServer::start_with(|c| c, |t| t.with_tls(&certificate.cert, &certificate.key)).await;
    let url = format!("wss://localhost:{}", server.addr.port());
    let error = Client::builder(&url)
        .add_root_certificates_pem(certificate.pem())
        .connect()
        .await
        .expect_err("another name");
    assert!(
        error.to_string().contains(
            "the node's certificate is not valid for localhost: it is for node.example, 10.1.2.3"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn accepting_invalid_certificates_skips_verification() {
    let (server, _certificate) = tls_server("insecure-lib").await;
    let url = format!("https://localhost:{}", server.addr.port());
    let builder = Client::builder(&url).danger_accept_invalid_certs(true);
    works(&server, builder, &url).await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connect_error() {
    let (server, _certificate) = tls_server("untrusted").await;
    let url = format!("https://localhost:{}", server.addr.port());
    let error = Client::connect(&url).await.expect_err("untrusted");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(error.is_untrusted_certificate(), "{error:?}");
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    let error = rues_client::Dispatcher::new(&url)
        .expect("a dispatcher")
        .dispatch("node/info", ())
        .await
        .expect_err("untrusted");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );

    let error = Client::builder(&url)
        .add_root_certificates_pem("not PEM")
        .connect()
        .await
        .expect_err("bad PEM");
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
}

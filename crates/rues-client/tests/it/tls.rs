//! HTTPS and WSS.

use rues_client::{Client, Error};

use crate::support::{TestServer, next_event};

struct Certificate {
    pem: String,
    dir: std::path::PathBuf,
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn tls_server(name: &str) -> (TestServer, Certificate) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("a certificate");
    let dir = std::env::temp_dir().join(format!("rues-client-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("cert written");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("key written");
    let server = TestServer::start_with(|c| c, |t| t.with_tls(&cert, &key)).await;
    (
        server,
        Certificate {
            pem: certified.cert.pem(),
            dir,
        },
    )
}

#[tokio::test]
async fn https_and_wss_work_with_a_trusted_root() {
    let (server, certificate) = tls_server("trusted").await;
    for url in [
        format!("https://localhost:{}", server.addr.port()),
        format!("wss://127.0.0.1:{}/on", server.addr.port()),
    ] {
        let client = Client::builder(&url)
            .add_root_certificates_pem(certificate.pem.clone())
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
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connect_error() {
    let (server, _certificate) = tls_server("untrusted").await;
    let url = format!("https://localhost:{}", server.addr.port());
    let error = Client::connect(&url).await.expect_err("untrusted");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
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

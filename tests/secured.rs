//! Kafka and Temporal over TLS, as managed services serve them: a TLS front (`stunnel`,
//! Debian's `stunnel4`, installed by `deploy/dev.sh`) with a certificate the test makes with
//! `openssl`, before a broker of the test's own and before the test stack's Temporal.
//! Volcano speaks TLS to them through its configuration alone; a client that trusts another
//! CA fails, and says why.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use volcano_connectors::avro;
use volcano_connectors::client::ResultWaiter;
use volcano_connectors::config::VolcanoConfig;

/// Runs openssl in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`<name>-ca.pem`) and, when `server`, a certificate for 127.0.0.1 that it signed
/// (`server.pem`, `server.key`).
fn certificates(dir: &Path, name: &str, server: bool) -> PathBuf {
    let ca = format!("{name}-ca");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.pem"),
        ],
    );
    if server {
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "san.ext",
                "-out",
                "server.pem",
            ],
        );
    }
    dir.join(format!("{ca}.pem"))
}

/// A folder of the test's own with the right CA and a server certificate it signed, and a
/// wrong CA: the folder and the two CAs' files.
fn test_certificates(config: &VolcanoConfig) -> (PathBuf, PathBuf, PathBuf) {
    let dir = config
        .registry
        .data_dir
        .clone()
        .unwrap()
        .with_file_name("certificates");
    std::fs::create_dir_all(&dir).unwrap();
    let ca = certificates(&dir, "right", true);
    let wrong = certificates(&dir, "wrong", false);
    (dir, ca, wrong)
}

/// stunnel accepting TLS on `front` and passing the bytes to `back`.
struct TlsFront(Child);

impl TlsFront {
    fn start(dir: &Path, front: u16, back: u16) -> TlsFront {
        let conf = dir.join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{front}\n\
                 connect = 127.0.0.1:{back}\ncert = {}\nkey = {}\n",
                dir.join("server.pem").display(),
                dir.join("server.key").display()
            ),
        )
        .unwrap();
        let child = Command::new("stunnel4")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel4 starts (deploy/dev.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", front)).is_err() {
            assert!(Instant::now() < deadline, "stunnel never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsFront(child)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn over_tls(config: &VolcanoConfig, ca: &Path) -> VolcanoConfig {
    let mut c = config.clone();
    for (k, v) in [
        ("security.protocol", "SSL".to_string()),
        ("ssl.ca.location", ca.display().to_string()),
    ] {
        c.kafka.properties.insert(k.into(), v);
    }
    c
}

/// Requests produced over TLS are answered by a pipeline that reads and writes over TLS,
/// the broker seen only through the TLS front; a client trusting another CA is refused,
/// with the handshake's reason in its error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_answered_through_a_tls_front_and_a_wrong_ca_is_refused_clearly() {
    let mut config = test_config("tls");
    config.kafka.partitions = Some(1);
    let (dir, ca, wrong) = test_certificates(&config);
    let (front, back) = (free_port(), free_port());
    config.kafka.brokers = format!("127.0.0.1:{front}");
    let _broker = OwnBroker::start_advertising(&config, &dir.join("broker"), back, front);
    let _tls = TlsFront::start(&dir, front, back);

    let secured = over_tls(&config, &ca);
    let pipeline = RunningPipeline::start(&secured).await;
    let waiter = ResultWaiter::at_end(&secured, Duration::from_secs(30)).unwrap();
    let producer = producer(&secured);
    let ids: Vec<String> = (0..20).map(|i| format!("tls-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let r = request(id, &format!("Calculate {i} + 40"));
        let bytes = avro::encode_request(&r).unwrap();
        produce_raw(&producer, &secured.kafka.topics.requests, id, &bytes).await;
    }
    let results = waiter.wait_for(&ids, Duration::from_secs(60)).await;
    pipeline.stop().await;
    assert_eq!(results.len(), ids.len(), "every request answered over TLS");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            results[id].value.as_deref(),
            Some((i + 40).to_string().as_str())
        );
    }

    let refused =
        volcano_connectors::kafka::probe(&over_tls(&config, &wrong), Duration::from_secs(5))
            .expect_err("a client trusting another CA connects");
    let message = refused.to_string();
    assert!(message.contains("certificate verify failed"), "{message}");
    // Plain text to a TLS port is refused too.
    assert!(volcano_connectors::kafka::probe(&config, Duration::from_secs(3)).is_err());
}

/// A TLS front for gRPC: stunnel cannot answer ALPN, which gRPC clients require (`h2`), so
/// Temporal's front is this one, rustls with the same certificate, in the test's runtime.
async fn grpc_tls_front(dir: &Path, back: u16) -> u16 {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use std::sync::Arc;
    use tokio_rustls::rustls;

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (the wrong-CA client) just ends the connection.
                let Ok(mut tls) = acceptor.accept(inbound).await else {
                    return;
                };
                let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", back)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            });
        }
    });
    port
}

/// The durable path's client reaches Temporal through a TLS front with the CA given in
/// `temporal.tls`, lists workflows over it, and names itself `pid@host`; trusting another CA,
/// it fails and says that the certificate is the reason. Before, the client had no TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_is_reached_through_a_tls_front_and_a_wrong_ca_is_refused_clearly() {
    use volcano_connectors::durable::{Durable, connection_options};

    let mut config = test_config("temporal-tls");
    let (dir, ca, wrong) = test_certificates(&config);
    let back: u16 = config
        .temporal_address()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let front = grpc_tls_front(&dir, back).await;
    config.temporal.address = format!("127.0.0.1:{front}");
    config.temporal.tls.server_ca_file = Some(ca);

    let (options, _) = connection_options(&config).unwrap();
    assert_eq!(options.target.scheme(), "https");
    assert!(
        options
            .identity
            .starts_with(&format!("{}@", std::process::id()))
    );
    let durable = Durable::connect(&config).await.expect("connects over TLS");
    durable.list(5).await.expect("a call over TLS");

    config.temporal.tls.server_ca_file = Some(wrong);
    let refused = Durable::connect(&config)
        .await
        .err()
        .expect("a client trusting another CA connects");
    let message = refused.to_string().to_lowercase();
    assert!(
        message.contains("certificate") || message.contains("issuer"),
        "{message}"
    );
}

//! https targets: a TLS server on 127.0.0.1 with a certificate from a test
//! CA (made with the `openssl` CLI) is scraped with `tls_config.ca_file`,
//! with `insecure_skip_verify`, and refused (with the reason as the
//! target's last error) without the CA or under another `server_name`;
//! an unreadable `ca_file` stops the start naming it; `http_sd_configs`
//! fetch their target list over https with their own `tls_config`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use http_body_util::Full;
use hyper::body::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 and localhost
/// signed by it (`leaf.pem`, `leaf.key`); false without `openssl`.
fn make_certs(dir: &Path) -> bool {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=hourglass test CA",
    ]);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &ca)
        && openssl(dir, &csr)
        && openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "leaf.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        )
}

/// An https server on a loopback port serving one gauge at any path, and
/// at `/sd` an http_sd answer listing one (unreachable) target.
fn start_tls_target(dir: &Path) -> SocketAddr {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("leaf.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    common::target::spawn(move |listener| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // Refused handshakes (unknown CA, wrong name) end here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(|req: hyper::Request<_>| async move {
                    let resp = if req.uri().path() == "/sd" {
                        hyper::Response::builder()
                            .header("Content-Type", "application/json")
                            .body(Full::new(Bytes::from_static(
                                br#"[{"targets":["127.0.0.1:9"],"labels":{"from":"https_sd"}}]"#,
                            )))
                    } else {
                        hyper::Response::builder()
                            .header("Content-Type", common::target::TEXT)
                            .body(Full::new(Bytes::from_static(
                                b"# TYPE tls_demo gauge\ntls_demo 7\n",
                            )))
                    };
                    Ok::<_, std::convert::Infallible>(resp.unwrap())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    })
}

fn targets(server: &Server) -> Vec<Value> {
    let r = server.get("/api/v1/targets?state=active");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]["activeTargets"]
        .as_array()
        .cloned()
        .unwrap()
}

fn have_openssl() -> bool {
    let ok = Command::new("openssl").arg("version").output().is_ok();
    let ci = common::external::in_ci();
    assert!(ok || !ci, "openssl is not installed");
    ok
}

#[test]
fn https_targets_are_scraped_with_their_ca_or_insecure_skip_verify_and_refused_otherwise() {
    if !have_openssl() {
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(
        make_certs(dir.path()),
        "openssl could not make the test certificates"
    );
    let target = start_tls_target(dir.path());
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n\
         - job_name: with_ca\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n    static_configs: [{{targets: ['{target}']}}]\n\
         - job_name: insecure\n    scheme: https\n    tls_config:\n      insecure_skip_verify: true\n    static_configs: [{{targets: ['{target}']}}]\n\
         - job_name: no_ca\n    scheme: https\n    static_configs: [{{targets: ['{target}']}}]\n\
         - job_name: wrong_name\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n      server_name: other.example\n    static_configs: [{{targets: ['{target}']}}]\n\
         - job_name: by_name\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n    static_configs: [{{targets: ['localhost:{port}']}}]\n\
         - job_name: sd_https\n    http_sd_configs:\n      - url: https://localhost:{port}/sd\n        refresh_interval: 200ms\n        tls_config:\n          ca_file: {ca}\n",
        port = target.port()
    );
    let config = config.replace("\n- job_name", "\n  - job_name");
    let (_, server) = common::start_scraping(dir.path(), &config);

    let deadline = Instant::now() + Duration::from_secs(30);
    let all = loop {
        let t = targets(&server);
        // A handshake that timed out on a loaded machine is tried again at
        // the next scrape: wait for the pools that should come up.
        let up = |pool: &str| {
            t.iter()
                .any(|t| t["scrapePool"] == pool && t["health"] == "up")
        };
        if t.len() == 6
            && t.iter().all(|t| t["health"] != "unknown")
            && ["with_ca", "insecure", "by_name"].into_iter().all(up)
        {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "targets not scraped as expected: {t:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let by_pool = |pool: &str| {
        all.iter()
            .find(|t| t["scrapePool"] == pool)
            .unwrap()
            .clone()
    };
    for pool in ["with_ca", "insecure", "by_name"] {
        let t = by_pool(pool);
        assert_eq!(t["health"], "up", "{pool}: {t}");
        assert!(
            t["scrapeUrl"].as_str().unwrap().starts_with("https://"),
            "{t}"
        );
    }
    // Discovery over https with the job's CA found the target it lists.
    let sd = by_pool("sd_https");
    assert_eq!(sd["labels"]["from"], "https_sd", "{sd}");
    assert_eq!(sd["labels"]["instance"], "127.0.0.1:9", "{sd}");
    for pool in ["no_ca", "wrong_name"] {
        let t = by_pool(pool);
        println!("{pool}: {}", t["lastError"]);
        assert_eq!(t["health"], "down", "{pool}: {t}");
        assert!(
            t["lastError"].as_str().unwrap().contains("certificate"),
            "{pool}: {t}"
        );
    }

    // The samples landed as from any target.
    let r = server.get("/api/v1/query?query=tls_demo%7Bjob%3D%22with_ca%22%7D");
    assert_eq!(
        r.json()["data"]["result"][0]["value"][1],
        "7",
        "{}",
        r.text()
    );

    // An unreadable ca_file stops the start, naming the job and the file.
    let text = "scrape_configs:\n  - job_name: broken\n    scheme: https\n    tls_config:\n      ca_file: /nonexistent/ca.pem\n";
    let why = ["broken", "unable to read ca_file /nonexistent/ca.pem"];
    common::refused_naming("--scrape-config", "bad.yml", text, &why);
}

//! Transport (issue "who may see what", section 5): HTTPS with rustls (`--tls-cert`, `--tls-key`)
//! checked with curl against a certificate made by openssl, and CORS restricted to the configured
//! origins when auth is on.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bando, bando_bin, demo_store, free_port, stderr_of, Server};

/// A self-signed P-256 certificate for 127.0.0.1 and its key, made by openssl.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args(["-subj", "/CN=bando-test", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    (cert, key)
}

/// curl's answer: (HTTP version, status, body), or None when the connection failed.
fn curl(cert: &Path, url: &str, extra: &[&str]) -> Option<(String, u16, String)> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "--cacert"])
        .arg(cert)
        .args(extra)
        .args(["-w", "\n%{http_version} %{http_code}", url])
        .output()
        .expect("curl runs");
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, tail) = text.rsplit_once('\n')?;
    let (version, status) = tail.split_once(' ')?;
    Some((version.to_string(), status.parse().ok()?, body.to_string()))
}

fn serve_https(store: &Path, cert: &Path, key: &Path) -> Server {
    let port = free_port();
    let child = Command::new(bando_bin())
        .arg("serve")
        .arg("--store")
        .arg(store)
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .current_dir(common::repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bando serve starts");
    Server {
        child,
        base: format!("https://127.0.0.1:{port}"),
    }
}

fn serve_fails(args: &[&str]) -> String {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    let out = bando(&all);
    assert!(!out.status.success(), "bando {all:?} should refuse to start");
    stderr_of(&out)
}

#[test]
fn https_serves_http1_and_http2_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let server = serve_https(&demo_store(300), &cert, &key);
    let started = Instant::now();
    while curl(&cert, &server.url("/ready"), &[]).map(|a| a.1) != Some(200) {
        assert!(started.elapsed() < Duration::from_secs(60), "HTTPS server never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (version, status, body) = curl(&cert, &server.url("/layers"), &["--http1.1"]).unwrap();
    assert_eq!((version.as_str(), status), ("1.1", 200));
    let layers: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(!layers["layers"].as_array().unwrap().is_empty(), "{body}");
    let (version, status, _) = curl(&cert, &server.url("/layers"), &["--http2"]).unwrap();
    assert_eq!((version.as_str(), status), ("2", 200), "HTTP/2 by ALPN");
    // Plain HTTP on the HTTPS port gets no answer; the server goes on serving.
    let plain = server.base.replace("https://", "http://");
    assert!(curl(&cert, &format!("{plain}/layers"), &[]).is_none_or(|a| a.1 != 200));
    assert_eq!(curl(&cert, &server.url("/ready"), &[]).map(|a| a.1), Some(200));
}

#[test]
fn bad_certificate_flags_stop_the_start_with_the_flag_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let store = demo_store(300);
    let store = store.to_str().unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    assert!(serve_fails(&["--store", store, "--tls-cert", cert]).contains("go together"));
    let missing = dir.path().join("missing.pem");
    let e = serve_fails(&["--store", store, "--tls-cert", missing.to_str().unwrap(), "--tls-key", key]);
    assert!(e.contains("--tls-cert") && e.contains("missing.pem"), "{e}");
    // The key given as the certificate: no certificate in it.
    let e = serve_fails(&["--store", store, "--tls-cert", key, "--tls-key", key]);
    assert!(e.contains("holds no certificate"), "{e}");
    let (other, _) = certificate(&{
        let d = dir.path().join("other");
        std::fs::create_dir(&d).unwrap();
        d
    });
    let e = serve_fails(&["--store", store, "--tls-cert", other.to_str().unwrap(), "--tls-key", key]);
    assert!(e.contains("--tls-key") || e.contains("key"), "{e}");
}

/// (Access-Control-Allow-Origin, Access-Control-Allow-Headers) of a GET or a preflight.
fn cors_answer(url: &str, origin: &str, preflight: bool) -> (Option<String>, Option<String>) {
    let request = if preflight {
        ureq::request("OPTIONS", url)
            .set("Access-Control-Request-Method", "GET")
            .set("Access-Control-Request-Headers", "authorization")
    } else {
        ureq::get(url)
    };
    let response = match request.set("Origin", origin).call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let header = |name: &str| response.header(name).map(str::to_string);
    (header("access-control-allow-origin"), header("access-control-allow-headers"))
}

#[test]
fn with_auth_on_only_the_configured_origins_may_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bando.toml");
    std::fs::write(
        &config,
        "[server]\ncors_origins = [\"https://IOC.example.vn\"]\n\n[security]\nanonymous_role = \"public\"\n\n\
         [[security.roles]]\nname = \"public\"\nlayers = [\"*\"]\n",
    )
    .unwrap();
    let store = demo_store(300);
    let guarded = Server::start(&store, &["--config", config.to_str().unwrap()]);
    let url = guarded.url("/layers");
    assert_eq!(
        cors_answer(&url, "https://ioc.example.vn", false).0.as_deref(),
        Some("https://ioc.example.vn")
    );
    assert_eq!(cors_answer(&url, "https://evil.example", false).0, None);
    let (origin, headers) = cors_answer(&url, "https://ioc.example.vn", true);
    assert_eq!(origin.as_deref(), Some("https://ioc.example.vn"));
    assert!(
        headers.unwrap().contains("Authorization"),
        "bearer tokens need Authorization listed"
    );
    assert_eq!(cors_answer(&url, "https://evil.example", true), (None, None));

    let open = Server::start(&store, &[]);
    assert_eq!(
        cors_answer(&open.url("/layers"), "https://anyone.example", false).0.as_deref(),
        Some("*")
    );

    let e = serve_fails(&["--store", store.to_str().unwrap(), "--cors-origin", "ioc.example.vn/map"]);
    assert!(e.contains("scheme://host"), "{e}");
}

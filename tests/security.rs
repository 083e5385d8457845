//! bando.toml and identities against the real binary over real HTTP: configuration errors name
//! the file and line, flags win over the file, the token CLI round trip, bearer and
//! `access_token` credentials, 401 challenges, revocation and policy reloads on a running
//! server, and no `access_token` in the log.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bando::policy::tokens::hash_secret;
use bando::store::gpkg::GpkgStore;
use bando::store::{NewToken, Store};
use common::*;

const EXAMPLE: &str = "docs/bando.example.toml";

fn example_config() -> PathBuf {
    repo_root().join(EXAMPLE)
}

/// A store of its own for tests that create tokens (the demo store is shared by the other tests).
fn own_store(dir: &Path) -> PathBuf {
    let path = dir.join("store.gpkg");
    let out = bando(&["demo", "--parcels", "300", "--store", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    path
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `bando token ARGS --store STORE`, which must succeed; its stdout.
fn token(store: &Path, args: &[&str]) -> String {
    let mut all = vec!["token"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--store", store.to_str().unwrap()]);
    let out = bando(&all);
    assert!(out.status.success(), "bando {all:?}: {}", stderr_of(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// `bando token create --role ROLE EXTRA --config CONFIG`: the new token.
fn create_token(store: &Path, config: &Path, role: &str, extra: &[&str]) -> String {
    let mut args = vec!["create", "--role", role, "--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    token(store, &args).trim().to_string()
}

struct Answer {
    status: u16,
    challenge: Option<String>,
    body: serde_json::Value,
}

fn get(url: &str, authorization: Option<&str>) -> Answer {
    let mut request = ureq::get(url);
    if let Some(value) = authorization {
        request = request.set("Authorization", value);
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = response.status();
    let challenge = response.header("WWW-Authenticate").map(str::to_string);
    let text = response.into_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"));
    Answer { status, challenge, body }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Polls `check` until it holds or `limit` passes.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn serve_fails(args: &[&str]) -> String {
    let mut all = vec!["serve", "--addr", "127.0.0.1:1"];
    all.extend_from_slice(args);
    let out = bando(&all);
    assert!(!out.status.success(), "bando {all:?} should refuse to start");
    stderr_of(&out)
}

#[test]
fn configuration_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(2_000);
    let store = store.to_str().unwrap();
    let cases = [
        ("[server]\ncache_mb = 64\ncache_mbs = 64\n", "line 3: unknown field `cache_mbs`"),
        ("[server]\n\naddr = \"nowhere\"\n", "line 3:"),
        (
            "[security]\n[[security.roles]]\nname = \"public\"\nlayers = [\"wards\", \"parcel\"]\n",
            "line 4: role 'public': no layer or scenario named 'parcel'",
        ),
        (
            "[security]\n[[security.roles]]\nname = \"public\"\nhidden_fields = { parcels = [\"adress\"] }\n",
            "line 4: role 'public': layer 'parcels' has no field 'adress'",
        ),
        (
            "[security]\n[[security.roles]]\nname = \"public\"\naggregate = { housing = \"parcels\" }\n",
            "line 4: role 'public': 'parcels' is not a layer of administrative units",
        ),
        (
            "[security]\nanonymous_role = \"guest\"\n[[security.roles]]\nname = \"public\"\n",
            "line 2: anonymous role 'guest' is not defined",
        ),
        (
            "[security]\n[[security.roles]]\nname = \"public\"\nscope = true\n",
            "line 4: unknown field `scope`",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("bad{i}.toml"), text);
        let stderr = serve_fails(&["--store", store, "--config", path.to_str().unwrap()]);
        let named = format!("{} {want}", path.display());
        assert!(stderr.contains(&named), "case {i}: want '{named}' in: {stderr}");
    }
    let missing = serve_fails(&["--store", store, "--config", "/nonexistent/bando.toml"]);
    assert!(missing.contains("/nonexistent/bando.toml"), "{missing}");
}

#[test]
fn the_example_file_is_valid_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(2_000);
    // The example says addr 127.0.0.1:8080, store data/demo.gpkg, max_radius_m 50000: the
    // harness's --addr and --store win; a file of our own sets max_radius_m, then a flag wins.
    let server = Server::start(&store, &["--config", example_config().to_str().unwrap()]);
    let health = server.get_json("/health").1;
    assert_eq!(health["store"], format!("GeoPackage {}", store.display()), "{health}");
    assert_eq!(health["policy"]["in_force"], true, "{health}");
    assert_eq!(health["policy"]["reload_error"], serde_json::Value::Null, "{health}");
    drop(server);

    let radius = "/query/radius?layer=parcels&lon=107.58&lat=16.46&radius_m=500";
    let small = write(dir.path(), "small.toml", "[server]\nmax_radius_m = 100.0\n");
    let from_file = Server::start(&store, &["--config", small.to_str().unwrap()]);
    let (status, body) = from_file.get_json(radius);
    assert_eq!(status, 400, "the file's max_radius_m applies: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("100"), "{body}");
    let flag = Server::start(&store, &["--config", small.to_str().unwrap(), "--max-radius-m", "1000"]);
    let (status, body) = flag.get_json(radius);
    assert_eq!(status, 200, "--max-radius-m wins over the file: {body}");
    // A config without [security] is an open server, like no config at all.
    assert_eq!(from_file.get_json("/whoami").1["policy"], false);
}

#[test]
fn tokens_round_trip_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = example_config();
    let config = config.to_str().unwrap();
    let secret = create_token(
        &store,
        Path::new(config),
        "officer",
        &["--scope", "wards:19900,wards:19903", "--expires-days", "30", "--note", "phuong 1"],
    );
    let secret = secret.as_str();
    assert!(secret.starts_with("bnd_") && secret.len() == 68, "one token on stdout: {secret:?}");
    let list = token(&store, &["list"]);
    assert!(!list.contains(secret), "list never shows a token: {list}");
    assert!(
        list.contains("officer") && list.contains("wards:19900,wards:19903") && list.contains("phuong 1"),
        "{list}"
    );
    let rows: serde_json::Value = serde_json::from_str(&token(&store, &["list", "--json"])).unwrap();
    let row = &rows[0];
    assert_eq!((row["id"].as_i64(), row["role"].as_str()), (Some(1), Some("officer")), "{rows}");
    assert!(
        row["expires"].is_string() && row["revoked"].is_null() && row["created"].is_string(),
        "{rows}"
    );
    assert!(token(&store, &["revoke", "1"]).contains("revoked"));
    let rows: serde_json::Value = serde_json::from_str(&token(&store, &["list", "--json"])).unwrap();
    assert!(rows[0]["revoked"].is_string(), "{rows}");

    let refused = |args: &[&str], want: &str| {
        let mut all = vec!["token"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--store", store.to_str().unwrap(), "--config", config]);
        let out = bando(&all);
        assert!(
            !out.status.success() && out.stdout.is_empty(),
            "{all:?} should fail and print no token"
        );
        assert!(stderr_of(&out).contains(want), "{all:?}: want '{want}' in {}", stderr_of(&out));
    };
    refused(&["create", "--role", "mayor"], "role 'mayor' is not in the policy");
    refused(&["create", "--role", "officer"], "role 'officer' is scoped: give --scope");
    refused(
        &["create", "--role", "officer", "--scope", "wards:1"],
        "layer 'wards' has no unit with that code",
    );
    refused(
        &["create", "--role", "officer", "--scope", "parcels:1"],
        "'parcels' is not a layer of administrative units",
    );
    refused(&["create", "--role", "officer", "--scope", "19900"], "is not LAYER:CODE");
    refused(&["revoke", "42"], "no token with id 42");
}

#[test]
fn bearer_and_access_token_are_accepted_and_bad_tokens_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = example_config();
    let secret = create_token(&store, &config, "officer", &["--scope", "wards:19900"]);
    let secret = secret.as_str();
    // An expired token, written straight into the store (the CLI cannot make one in the past).
    let expired = "bnd_expired_for_the_test";
    GpkgStore::open(&store)
        .unwrap()
        .add_token(&NewToken {
            hash: hash_secret(expired),
            role: "analyst".into(),
            scope: vec![],
            expires_unix: Some(1_000_000_000),
            note: String::new(),
        })
        .unwrap();
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);

    let anonymous = get(&server.url("/whoami"), None);
    assert_eq!(
        (anonymous.status, anonymous.body["role"].as_str()),
        (200, Some("public")),
        "{}",
        anonymous.body
    );
    let by_header = get(&server.url("/whoami"), Some(&bearer(secret)));
    assert_eq!(by_header.status, 200, "{}", by_header.body);
    assert_eq!(by_header.body["role"], "officer");
    assert_eq!(by_header.body["scope"], serde_json::json!(["wards:19900"]));
    let by_query = get(&server.url(&format!("/whoami?access_token={secret}")), None);
    assert_eq!(
        (by_query.status, by_query.body["role"].as_str()),
        (200, Some("officer")),
        "{}",
        by_query.body
    );
    // access_token is taken out before routing: a query with it answers like one without.
    let query = "/query/point?layer=wards&lon=107.58&lat=16.46";
    let plain = server.get_json(query);
    let with_token = server.get_json(&format!("{query}&access_token={secret}"));
    assert_eq!(plain.0, 200, "{}", plain.1);
    assert_eq!(with_token, plain);
    let tile = get(&server.url(&format!("/tiles/wards.json?access_token={secret}")), None);
    assert_eq!(tile.status, 200, "{}", tile.body);

    for (credential, code, words) in [
        (bearer("bnd_0123"), "invalid_token", "not known"),
        (bearer(expired), "invalid_token", "expired"),
        ("Basic dXNlcjpwYXNz".to_string(), "invalid_request", "Bearer TOKEN"),
    ] {
        for path in ["/whoami", "/layers", "/tiles/wards/12/3258/1873.mvt", "/no/such/route"] {
            let refused = get(&server.url(path), Some(&credential));
            assert_eq!(refused.status, 401, "{credential} on {path}: {}", refused.body);
            let challenge = refused.challenge.unwrap_or_default();
            assert!(
                challenge.starts_with("Bearer ") && challenge.contains(&format!("error=\"{code}\"")),
                "{challenge}"
            );
            let message = refused.body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(words), "{credential}: {message}");
            assert_eq!(refused.body["error"]["status"], 401);
        }
    }
    let unknown_query = get(&server.url("/layers?access_token=bnd_nope"), None);
    assert_eq!(unknown_query.status, 401, "{}", unknown_query.body);
}

#[test]
fn a_server_without_a_config_is_open_and_ignores_tokens() {
    let server = Server::start(&demo_store(2_000), &[]);
    let answer = get(&server.url("/whoami"), Some("Bearer bnd_anything"));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["policy"], false);
    assert_eq!(server.get_json("/health").1["policy"]["in_force"], false);
}

#[test]
fn a_revoked_token_is_refused_by_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = example_config();
    let server = Server::start(&store, &["--config", config.to_str().unwrap(), "--watch-seconds", "0.2"]);
    // Created while the server runs: it is picked up from the store's token counter.
    let credential = bearer(&create_token(&store, &config, "analyst", &[]));
    assert!(
        eventually(Duration::from_secs(10), || get(&server.url("/whoami"), Some(&credential)).status
            == 200),
        "a new token is accepted"
    );
    token(&store, &["revoke", "1"]);
    assert!(
        eventually(Duration::from_secs(10), || get(&server.url("/whoami"), Some(&credential)).status
            == 401),
        "a revoked token is refused"
    );
    let refused = get(&server.url("/whoami"), Some(&credential));
    assert!(
        refused.body["error"]["message"].as_str().unwrap().contains("revoked"),
        "{}",
        refused.body
    );
}

#[test]
fn access_token_never_appears_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = example_config();
    let secret = create_token(&store, &config, "analyst", &[]);
    let secret = secret.as_str();
    let log = dir.path().join("server.log");
    let args = ["--store", store.to_str().unwrap(), "--config", config.to_str().unwrap()];
    let server = Server::start_logged(&repo_root(), &args, &log, "debug");
    for path in [
        format!("/whoami?access_token={secret}"),
        format!("/tiles/wards/12/3258/1873.mvt?access_token={secret}"),
        format!("/query/point?layer=wards&lon=107.58&lat=16.46&access_token={secret}"),
        format!("/no/such/route?access_token={secret}"),
        "/whoami?access_token=bnd_wrong_token_in_url".to_string(),
    ] {
        fetch(&server.url(&path));
    }
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("/whoami"), "debug logging was on: {text}");
    assert!(
        !text.contains(secret) && !text.contains("bnd_wrong_token_in_url"),
        "a token leaked into the log:\n{text}"
    );
    assert!(!text.contains("access_token"), "{text}");
}

#[test]
fn policy_edits_are_applied_and_bad_ones_keep_the_last_good_policy() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let policy = |anonymous: &str, layers: &str| {
        format!(
            "[security]\nanonymous_role = \"{anonymous}\"\n\n[[security.roles]]\nname = \"public\"\nlayers = [{layers}]\n\n\
             [[security.roles]]\nname = \"viewer\"\nlayers = [\"*\"]\n\n[[security.roles]]\nname = \"admin\"\nlayers = [\"*\"]\nadmin = true\n"
        )
    };
    let config = write(dir.path(), "bando.toml", &policy("public", "\"wards\""));
    let admin = bearer(&create_token(&store, &config, "admin", &[]));
    let args = ["--config", config.to_str().unwrap(), "--watch-seconds", "0.2"];
    let server = Server::start(&store, &args);
    let role = || get(&server.url("/whoami"), None).body["role"].clone();
    assert_eq!(role(), "public");

    std::fs::write(&config, policy("viewer", "\"wards\"")).unwrap();
    assert!(eventually(Duration::from_secs(10), || role() == "viewer"), "an edit is applied");

    std::fs::write(&config, policy("public", "\"wards\", \"wardz\"")).unwrap();
    let reported = || get(&server.url("/health"), Some(&admin)).body["policy"]["reload_error"].clone();
    assert!(
        eventually(Duration::from_secs(10), || reported().is_string()),
        "a bad edit is reported"
    );
    let why = reported();
    assert!(
        why.as_str()
            .unwrap()
            .contains("bando.toml line 6: role 'public': no layer or scenario named 'wardz'"),
        "{why}"
    );
    assert_eq!(role(), "viewer", "the last good policy stays in force");
    let public_view = get(&server.url("/health"), None).body["policy"]["reload_error"].clone();
    assert!(
        !public_view.as_str().unwrap().contains("wardz"),
        "only an admin reads the details: {public_view}"
    );

    // SIGHUP reloads even when the watch task would not look for an hour.
    drop(server);
    std::fs::write(&config, policy("public", "\"wards\"")).unwrap();
    let slow = Server::start(&store, &["--config", config.to_str().unwrap(), "--watch-seconds", "3600"]);
    let slow_role = || get(&slow.url("/whoami"), None).body["role"].clone();
    assert_eq!(slow_role(), "public");
    std::fs::write(&config, policy("viewer", "\"wards\"")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(slow_role(), "public", "no look at the file without a signal");
    let pid = slow.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    assert!(
        eventually(Duration::from_secs(10), || slow_role() == "viewer"),
        "SIGHUP reloads the policy"
    );
}

#[test]
fn over_the_rate_limit_is_429_with_retry_after_per_token_and_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = write(
        dir.path(),
        "bando.toml",
        "[security]\nrate_limit = { per_second = 0.2, burst = 3 }\n[[security.roles]]\nname = \"public\"\nlayers = [\"*\"]\n",
    );
    let secret = create_token(&store, &config, "public", &[]);
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);
    // The harness's readiness check spent one anonymous request of this address's burst.
    let statuses: Vec<u16> = (0..3).map(|_| get(&server.url("/whoami"), None).status).collect();
    assert_eq!(statuses, [200, 200, 429], "burst 3 per address");
    let limited = ureq::get(&server.url("/whoami")).call().unwrap_err();
    let ureq::Error::Status(429, response) = limited else {
        panic!("429 expected")
    };
    let retry: u64 = response.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry), "Retry-After {retry} s at 0.2 requests/s");
    let body: serde_json::Value = response.into_json().unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("too many requests"), "{body}");
    // A token has its own bucket, whatever address it comes from.
    let with_token: Vec<u16> = (0..4).map(|_| get(&server.url("/whoami"), Some(&bearer(&secret))).status).collect();
    assert_eq!(with_token, [200, 200, 200, 429]);
}

const ISSUER: &str = "https://sso.hue.gov.vn/realms/hue";
const AUDIENCE: &str = "bando";

/// Keys and tokens minted outside bando (PyJWT + cryptography) into `dir`: case name -> token.
fn mint_jwts(dir: &Path) -> serde_json::Value {
    let out = run_checker("python3", &["tests/py/mint_jwt.py", dir.to_str().unwrap(), ISSUER, AUDIENCE]);
    serde_json::from_str(&out).unwrap()
}

/// A policy of four roles with `[security.jwt]` over `jwks` and the `extra` keys.
fn jwt_config(dir: &Path, jwks: &str, extra: &str) -> PathBuf {
    let text = format!(
        "[security]\n[[security.roles]]\nname = \"public\"\nlayers = [\"wards\"]\n\
         [[security.roles]]\nname = \"officer\"\nlayers = [\"*\"]\npersonal_data = true\nscoped = true\n\
         [[security.roles]]\nname = \"analyst\"\nlayers = [\"*\"]\n\
         [[security.roles]]\nname = \"admin\"\nlayers = [\"*\"]\npersonal_data = true\nadmin = true\n\n\
         [security.jwt]\njwks = \"{jwks}\"\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\n{extra}"
    );
    write(dir, "bando.toml", &text)
}

/// `python3 -m http.server` over a folder (the identity provider's jwks_uri), stopped on drop.
struct KeyServer(std::process::Child, u16);

impl KeyServer {
    fn start(dir: &Path) -> KeyServer {
        let port = free_port();
        let child = std::process::Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let url = format!("http://127.0.0.1:{port}/jwks.json");
        assert!(
            eventually(Duration::from_secs(10), || ureq::get(&url).call().is_ok()),
            "the key server answers"
        );
        KeyServer(child, port)
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn jwt_bearer_tokens_are_verified_and_every_attack_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = mint_jwts(dir.path());
    let jwt = |case: &str| tokens[case].as_str().unwrap_or_else(|| panic!("no token {case}")).to_string();
    let jwks = dir.path().join("jwks.json");
    let config = jwt_config(dir.path(), jwks.to_str().unwrap(), "leeway_seconds = 30\n");
    let store = demo_store(2_000);
    let server = Server::start(&store, &["--config", config.to_str().unwrap(), "--watch-seconds", "0.2"]);

    for (case, role) in [
        ("rs256_officer", "officer"),
        ("es256_analyst", "analyst"),
        ("eddsa_admin", "admin"),
        ("within_leeway", "analyst"),
    ] {
        let who = get(&server.url("/whoami"), Some(&bearer(&jwt(case))));
        assert_eq!((who.status, who.body["role"].as_str()), (200, Some(role)), "{case}: {}", who.body);
        assert_eq!(who.body["authenticated"], true, "{case}");
        assert_eq!(who.body["subject"], "nguyen.van.a", "{case}");
    }
    let officer = get(&server.url("/whoami"), Some(&bearer(&jwt("rs256_officer"))));
    assert_eq!(officer.body["scope"], serde_json::json!(["wards:19900"]), "{}", officer.body);
    let by_query = get(&server.url(&format!("/whoami?access_token={}", jwt("es256_analyst"))), None);
    assert_eq!(
        by_query.body["role"], "analyst",
        "a JWT works as access_token too: {}",
        by_query.body
    );

    for (case, words) in [
        ("alg_none", "unsigned (alg 'none')"),
        ("hs256_public_key", "HS256, a shared-secret algorithm"),
        ("expired", "expired at"),
        ("not_yet_valid", "not valid before"),
        ("wrong_issuer", "issued by 'https://sso.elsewhere.example'"),
        ("wrong_audience", "not meant for 'bando'"),
        ("unknown_kid", "names key 'rogue', which the JWKS"),
        ("tampered", "signature does not verify with key 'rsa'"),
        ("alg_not_the_keys", "key 'ec' verifies only ES256"),
        ("no_such_role", "names no role of the server's policy (it holds: mayor)"),
        ("scoped_without_scope", "role 'officer' is scoped"),
        ("no_expiry", "no 'exp' claim"),
    ] {
        for path in ["/whoami", "/layers", "/tiles/wards/12/3258/1873.mvt"] {
            let refused = get(&server.url(path), Some(&bearer(&jwt(case))));
            assert_eq!(refused.status, 401, "{case} on {path}: {}", refused.body);
            let challenge = refused.challenge.unwrap_or_default();
            assert!(
                challenge.starts_with("Bearer realm=\"bando\"") && challenge.contains("error=\"invalid_token\""),
                "{case}: {challenge}"
            );
            let message = refused.body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(words), "{case}: want '{words}' in: {message}");
        }
    }

    // The provider rotates its keys: once the file holds the new key, its tokens are accepted.
    let rotated = bearer(&jwt("rotated_key"));
    assert_eq!(get(&server.url("/whoami"), Some(&rotated)).status, 401);
    std::fs::copy(dir.path().join("jwks-rotated.json"), &jwks).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || get(&server.url("/whoami"), Some(&rotated)).status
            == 200),
        "a rotated key is picked up from the JWKS file"
    );
}

#[test]
fn the_jwks_comes_from_the_providers_url_and_claims_from_configured_paths() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = mint_jwts(dir.path());
    let keys = KeyServer::start(dir.path());
    let url = format!("http://127.0.0.1:{}/jwks.json", keys.1);
    let config = jwt_config(dir.path(), &url, "role_claim = \"realm_access.roles\"\n");
    let store = demo_store(2_000);
    let server = Server::start(&store, &["--config", config.to_str().unwrap(), "--watch-seconds", "0.2"]);
    let nested = bearer(tokens["nested_role"].as_str().unwrap());
    let who = get(&server.url("/whoami"), Some(&nested));
    assert_eq!((who.status, who.body["role"].as_str()), (200, Some("analyst")), "{}", who.body);
    // An unknown kid makes the server fetch the set again soon (at most every 10 s).
    let rotated = bearer(tokens["rotated_key"].as_str().unwrap());
    std::fs::copy(dir.path().join("jwks-rotated.json"), dir.path().join("jwks.json")).unwrap();
    assert_eq!(get(&server.url("/whoami"), Some(&rotated)).status, 401, "not yet fetched");
    assert!(
        eventually(Duration::from_secs(25), || get(&server.url("/whoami"), Some(&rotated)).status
            == 200),
        "the new key is fetched from the URL"
    );
    drop(keys);

    let missing = dir.path().join("missing.json");
    let bad = jwt_config(dir.path(), missing.to_str().unwrap(), "");
    let stderr = serve_fails(&["--store", store.to_str().unwrap(), "--config", bad.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!("{} line 20: cannot read the JWKS file", bad.display())),
        "{stderr}"
    );
    let skew = jwt_config(dir.path(), &url, "leeway_seconds = 3600\n");
    let stderr = serve_fails(&["--store", store.to_str().unwrap(), "--config", skew.to_str().unwrap()]);
    assert!(stderr.contains("line 23: leeway_seconds is clock skew"), "{stderr}");
}

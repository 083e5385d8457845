//! bando.toml and identities against the real binary over real HTTP: configuration errors name
//! the file and line, flags win over the file, the token CLI round trip, bearer and
//! `access_token` credentials, 401 challenges, revocation and policy reloads on a running
//! server, and no `access_token` in the log.

mod common;

use std::collections::BTreeMap;
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
    own_store_of(dir, 300)
}

/// A store of its own with a demo of `parcels` parcels.
fn own_store_of(dir: &Path, parcels: u32) -> PathBuf {
    let path = dir.join("store.gpkg");
    let out = bando(&["demo", "--parcels", &parcels.to_string(), "--store", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    path
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes `path` whole at once (a temporary file renamed over it), as editors do, so the
/// server's file watcher never reads a half-written policy.
fn replace_file(path: &Path, text: String) {
    let temporary = path.with_extension("toml.part");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
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

/// The response to a GET sent with `authorization` (if any), whatever its status.
fn call(url: &str, authorization: Option<&str>) -> ureq::Response {
    let mut request = ureq::get(url);
    if let Some(value) = authorization {
        request = request.set("Authorization", value);
    }
    match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    }
}

fn get(url: &str, authorization: Option<&str>) -> Answer {
    let response = call(url, authorization);
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
    // access_token is taken out before routing: a query with it answers like one without (of
    // a layer both roles read alike).
    let query = "/query/point?layers=wards&lon=107.58&lat=16.46";
    let plain = server.get_json(query);
    let with_token = server.get_json(&format!("{query}&access_token={secret}"));
    assert_eq!(plain.0, 200, "{}", plain.1);
    assert_eq!(with_token, plain);
    let tile = get(&server.url(&format!("/tiles/wards.json?access_token={secret}")), None);
    assert_eq!(tile.status, 200, "{}", tile.body);
    // A tile answered to an Authorization header is private: `public` would let a shared proxy
    // hand it to the next caller; the anonymous one stays public.
    let cache_control = |authorization: Option<&str>| {
        let response = call(&server.url("/tiles/wards/12/3258/1873.mvt"), authorization);
        assert!(matches!(response.status(), 200 | 204), "tile: {}", response.status());
        response.header("Cache-Control").unwrap_or_default().to_string()
    };
    assert_eq!(cache_control(Some(&bearer(secret))), "private, max-age=60");
    assert_eq!(cache_control(None), "public, max-age=60");

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

    replace_file(&config, policy("viewer", "\"wards\""));
    assert!(eventually(Duration::from_secs(10), || role() == "viewer"), "an edit is applied");

    replace_file(&config, policy("public", "\"wards\", \"wardz\""));
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
    replace_file(&config, policy("public", "\"wards\""));
    let slow = Server::start(&store, &["--config", config.to_str().unwrap(), "--watch-seconds", "3600"]);
    let slow_role = || get(&slow.url("/whoami"), None).body["role"].clone();
    assert_eq!(slow_role(), "public");
    replace_file(&config, policy("viewer", "\"wards\""));
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

/// A policy of two roles for the view tests: the public sees a few layers without parcel
/// addresses and building uses; the analyst sees every layer but housing addresses.
const VIEW_POLICY: &str = r#"[security]
anonymous_role = "public"

[[security.roles]]
name = "public"
layers = ["wards", "parcels", "buildings", "land_management", "basemap"]
hidden_fields = { parcels = ["address"], buildings = ["use"] }

[[security.roles]]
name = "analyst"
layers = ["*"]
hidden_fields = { housing = ["address"] }
"#;

/// Status, body and `X-Cache` of a GET sent with `authorization` (if any).
fn fetch_as(url: &str, authorization: Option<&str>) -> (u16, Vec<u8>, Option<String>) {
    let response = call(url, authorization);
    let (status, cache) = (response.status(), response.header("X-Cache").map(str::to_string));
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
    (status, body, cache)
}

/// The layers and property names of a tile, as the independent decoder (mapbox-vector-tile) reads it.
fn decoded_layers(dir: &Path, name: &str, tile: &[u8]) -> serde_json::Value {
    let file = write_bytes(dir, name, tile);
    serde_json::from_str(&run_checker("python3", &["tests/py/mvt_layers.py", &file])).unwrap()
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

/// The z16 tile holding the centre of layer `layer`'s extent (as GET /layers gives it).
fn centre_tile(server: &Server, layer: &str) -> (u32, u32, u32) {
    let layers = server.get_json("/layers").1;
    let entry = layers["layers"].as_array().unwrap().iter().find(|l| l["name"] == layer).unwrap();
    let b = &entry["bbox"];
    let (lon, lat) = (
        (b["west"].as_f64().unwrap() + b["east"].as_f64().unwrap()) / 2.0,
        (b["south"].as_f64().unwrap() + b["north"].as_f64().unwrap()) / 2.0,
    );
    let n = 2f64.powi(16);
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u32;
    (16, x, y)
}

fn names(list: &serde_json::Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_layer_outside_the_role_does_not_exist_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = write(dir.path(), "bando.toml", VIEW_POLICY);
    let analyst = bearer(&create_token(&store, &config, "analyst", &[]));
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);
    let public = get(&server.url("/layers"), None).body;
    assert_eq!(names(&public["layers"], "name"), ["buildings", "parcels", "wards"], "{public}");
    let everything = get(&server.url("/layers"), Some(&analyst)).body;
    assert!(names(&everything["layers"], "name").contains(&"housing".to_string()));

    // Each route answers a layer it may not read exactly as a name that does not exist; the
    // analyst, who reads it, gets an answer (or, for 3D of a layer of points, a 400).
    for (hidden, unknown) in [
        ("/layers/housing", "/layers/nosuch"),
        ("/tiles/housing/16/1/1.mvt", "/tiles/nosuch/16/1/1.mvt"),
        ("/tiles/wards,housing/16/1/1.mvt", "/tiles/wards,nosuch/16/1/1.mvt"),
        ("/tiles/housing.json", "/tiles/nosuch.json"),
        (
            "/query/bbox?layers=housing&bbox=107,16,108,17",
            "/query/bbox?layers=nosuch&bbox=107,16,108,17",
        ),
        ("/stats?layer=housing&by=wards", "/stats?layer=nosuch&by=wards"),
        ("/stats?layer=wards&by=province", "/stats?layer=wards&by=nosuch"),
        (
            "/stats?layer=wards&by=wards&within=province:46",
            "/stats?layer=wards&by=wards&within=nosuch:46",
        ),
        ("/3d/housing/tileset.json", "/3d/nosuch/tileset.json"),
        ("/scenarios/social_welfare", "/scenarios/nosuch"),
        ("/scenarios/social_welfare.json", "/scenarios/nosuch.json"),
        ("/scenarios/social_welfare/style.json", "/scenarios/nosuch/style.json"),
        ("/scenarios/social_welfare/14/1/1.mvt", "/scenarios/nosuch/14/1/1.mvt"),
        ("/scenarios/social_welfare/indicators", "/scenarios/nosuch/indicators"),
    ] {
        let (a, b) = (get(&server.url(hidden), None), get(&server.url(unknown), None));
        assert_eq!(a.status, 404, "{hidden}: {}", a.body);
        assert_eq!((a.status, a.challenge.clone()), (b.status, b.challenge.clone()), "{hidden}");
        let name = |path: &str| {
            let names = ["housing", "province", "social_welfare", "nosuch"];
            path.split(['/', '?', ',', '=', '.', ':', '&'])
                .find(|s| names.contains(s))
                .unwrap()
                .to_string()
        };
        let message = a.body["error"]["message"].as_str().unwrap().replace(&name(hidden), "NAME");
        assert_eq!(
            message,
            b.body["error"]["message"].as_str().unwrap().replace(&name(unknown), "NAME"),
            "{hidden}"
        );
        let status = fetch_as(&server.url(hidden), Some(&analyst)).0;
        assert!(
            [200, 204].contains(&status) || hidden.starts_with("/3d/"),
            "the analyst reads {hidden}: {status}"
        );
        assert_ne!(status, 404, "{hidden}");
    }

    let scenarios = get(&server.url("/scenarios"), None).body;
    assert_eq!(names(&scenarios["scenarios"], "id"), ["basemap", "land_management"], "{scenarios}");
    let land = &scenarios["scenarios"][1];
    assert_eq!(
        land["layers"],
        serde_json::json!(["parcels"]),
        "planning zones are not the public's: {land}"
    );
    let tilejson = get(&server.url("/scenarios/land_management.json"), None).body;
    assert_eq!(names(&tilejson["vector_layers"], "id"), ["parcels"], "{tilejson}");
    let style = get(&server.url("/scenarios/land_management/style.json"), None).body;
    let sources: Vec<&String> = style["sources"].as_object().unwrap().keys().collect();
    assert_eq!(sources, ["basemap", "land_management"]);
    for layer in style["layers"].as_array().unwrap() {
        let source_layer = layer["source-layer"].as_str().unwrap_or("wards");
        assert!(["parcels", "wards"].contains(&source_layer), "the public's style draws {layer}");
    }
    let full = get(&server.url("/scenarios/land_management/style.json"), Some(&analyst)).body;
    assert!(full["layers"].as_array().unwrap().len() > style["layers"].as_array().unwrap().len());

    // A composite tile holds only the layers the role reads, decoded independently.
    let (z, x, y) = centre_tile(&server, "parcels");
    let (status, tile, _) = fetch_as(&server.url(&format!("/tiles/wards,parcels/{z}/{x}/{y}.mvt")), None);
    assert_eq!(status, 200);
    let layers = decoded_layers(dir.path(), "composite.mvt", &tile);
    assert!(
        layers["parcels"]["features"].as_u64().unwrap() > 0 && layers["wards"].is_object(),
        "{layers}"
    );
    let basemap = fetch_as(&server.url(&format!("/scenarios/basemap/{z}/{x}/{y}.mvt")), None);
    let seen = decoded_layers(dir.path(), "basemap.mvt", &basemap.1);
    let shown: Vec<&String> = seen.as_object().unwrap().keys().collect();
    assert!(shown.iter().all(|l| *l == "wards"), "the public's basemap shows {shown:?}");
    let seen = decoded_layers(
        dir.path(),
        "basemap-analyst.mvt",
        &fetch_as(&server.url(&format!("/scenarios/basemap/{z}/{x}/{y}.mvt")), Some(&analyst)).1,
    );
    assert!(seen.get("roads").is_some(), "the analyst's basemap has roads: {seen}");
}

#[test]
fn hidden_fields_never_leave_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = write(dir.path(), "bando.toml", VIEW_POLICY);
    let analyst = bearer(&create_token(&store, &config, "analyst", &[]));
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);
    let fields_of = |layers: &serde_json::Value, name: &str| -> Vec<String> {
        let entry = layers["layers"].as_array().unwrap().iter().find(|l| l["name"] == name).unwrap();
        names(&entry["fields"], "name")
    };
    let public = get(&server.url("/layers"), None).body;
    assert_eq!(fields_of(&public, "parcels"), ["sheet_no", "parcel_no", "land_use", "area_m2"]);
    assert!(!get(&server.url("/layers/parcels"), None).body.to_string().contains("\"address\""));
    assert!(fields_of(&get(&server.url("/layers"), Some(&analyst)).body, "parcels").contains(&"address".to_string()));

    // Tiles, decoded independently, and checked value by value against the store.
    let (z, x, y) = centre_tile(&server, "parcels");
    let path = format!("/tiles/parcels/{z}/{x}/{y}.mvt");
    let (status, tile, _) = fetch_as(&server.url(&path), None);
    assert_eq!(status, 200);
    let file = write_bytes(dir.path(), "public.mvt", &tile);
    let (zs, xs, ys) = (z.to_string(), x.to_string(), y.to_string());
    let summary = run_checker(
        "python3",
        &[
            "tests/py/check_mvt.py",
            store.to_str().unwrap(),
            "parcels",
            &zs,
            &xs,
            &ys,
            &file,
            "--complete",
        ],
    );
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(
        summary["properties"],
        serde_json::json!(["area_m2", "land_use", "parcel_no", "sheet_no"]),
        "{summary}"
    );
    let (_, full, cache) = fetch_as(&server.url(&path), Some(&analyst));
    assert_eq!(cache.as_deref(), Some("miss"), "another shape of the layer is another tile");
    let full = decoded_layers(dir.path(), "analyst.mvt", &full);
    assert!(
        full["parcels"]["properties"].as_array().unwrap().contains(&"address".into()),
        "{full}"
    );
    // Views that see the same share the cached tile: the analyst's wards tile is the public's.
    let wards = format!("/tiles/wards/{z}/{x}/{y}.mvt");
    assert_eq!(fetch_as(&server.url(&wards), None).2.as_deref(), Some("miss"));
    assert_eq!(fetch_as(&server.url(&wards), Some(&analyst)).2.as_deref(), Some("hit"));
    // The scenario names the address among its fields at z16; the public's tile still lacks it.
    let (_, scenario, _) = fetch_as(&server.url(&format!("/scenarios/land_management/{z}/{x}/{y}.mvt")), None);
    let scenario = decoded_layers(dir.path(), "scenario.mvt", &scenario);
    assert!(
        !scenario["parcels"]["properties"].as_array().unwrap().contains(&"address".into()),
        "{scenario}"
    );

    let tilejson = get(&server.url("/tiles/parcels.json"), None).body;
    assert!(tilejson["vector_layers"][0]["fields"].get("address").is_none(), "{tilejson}");
    assert!(tilejson["vector_layers"][0]["fields"].get("land_use").is_some(), "{tilejson}");
    let scenario_json = get(&server.url("/scenarios/land_management"), None).body;
    assert!(!scenario_json.to_string().contains("\"address\""), "{scenario_json}");

    // Queries: neither written nor accepted as a parameter, answered like an unknown field.
    let bbox = "/query/bbox?layers=parcels&bbox=107,16,108,17&limit=50";
    let geojson = get(&server.url(bbox), None).body;
    assert!(!geojson["features"].as_array().unwrap().is_empty());
    for feature in geojson["features"].as_array().unwrap() {
        assert!(feature["properties"].get("address").is_none() && feature["properties"].get("land_use").is_some());
    }
    let (_, csv, _) = fetch_as(&server.url(&format!("{bbox}&format=csv")), None);
    let header = String::from_utf8(csv).unwrap().lines().next().unwrap().to_string();
    assert!(!header.contains("address") && header.contains("land_use"), "{header}");
    let analyst_csv = fetch_as(&server.url(&format!("{bbox}&format=csv")), Some(&analyst)).1;
    assert!(String::from_utf8(analyst_csv).unwrap().lines().next().unwrap().contains("address"));
    for (hidden, unknown) in [
        (format!("{bbox}&fields=address"), format!("{bbox}&fields=adress")),
        (
            "/stats?layer=parcels&by=wards&group_by=address".to_string(),
            "/stats?layer=parcels&by=wards&group_by=adress".to_string(),
        ),
        (
            "/stats?layer=parcels&by=wards&sum=address".to_string(),
            "/stats?layer=parcels&by=wards&sum=adress".to_string(),
        ),
    ] {
        let (a, b) = (get(&server.url(&hidden), None), get(&server.url(&unknown), None));
        assert_eq!((a.status, b.status), (400, 400), "{hidden}: {}", a.body);
        let message = a.body["error"]["message"].as_str().unwrap().replace("address", "adress");
        assert_eq!(message, b.body["error"]["message"].as_str().unwrap(), "{hidden}");
        assert_eq!(get(&server.url(&hidden), Some(&analyst)).status, 200, "{hidden} as the analyst");
    }

    // 3D property tables, read by the test's own GLB parser.
    let tileset = get(&server.url("/3d/buildings/tileset.json"), None).body;
    let uri = tileset["root"]["content"]["uri"].as_str().unwrap().to_string();
    let glb_of = |credential: Option<&str>| {
        let (status, glb, _) = fetch_as(&server.url(&format!("/3d/buildings/{uri}")), credential);
        assert_eq!(status, 200);
        let file = write_bytes(dir.path(), "root.glb", &glb);
        let summary: serde_json::Value = serde_json::from_str(&run_checker("python3", &["tests/py/glb_properties.py", &file])).unwrap();
        summary
    };
    let public_glb = glb_of(None);
    assert!(public_glb["count"].as_u64().unwrap() > 0, "{public_glb}");
    for key in ["class", "table"] {
        let list = public_glb[key].as_array().unwrap();
        assert!(!list.contains(&"use".into()) && list.contains(&"floors".into()), "{public_glb}");
    }
    assert!(glb_of(Some(&analyst))["class"].as_array().unwrap().contains(&"use".into()));
}

#[test]
fn personal_fields_are_kept_in_the_catalog_and_only_roles_with_personal_data_see_them() {
    // Marked at import (the housing profile's `personal` list, and --personal), on both stores.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("households.csv");
    std::fs::write(
        &csv,
        "lon,lat,chu_ho,so_cccd,note,household_size\n107.58,16.46,Mẫu A,DEMO1,x,3\n107.581,16.461,Mẫu B,DEMO2,y,4\n",
    )
    .unwrap();
    for backend in Backend::ALL {
        let store = backend.fresh_store(dir.path());
        let import = |extra: &[&str]| {
            let mut args = vec!["import", csv.to_str().unwrap(), "--layer", "households", "--kind", "housing"];
            args.extend_from_slice(&["--src-crs", "EPSG:4326", "--store", &store]);
            args.extend_from_slice(extra);
            bando(&args)
        };
        let refused = import(&["--personal", "nosuch"]);
        assert!(!refused.status.success(), "{backend:?}");
        let why = stderr_of(&refused);
        assert!(why.contains("--personal names 'nosuch'") && why.contains("household_head"), "{why}");
        let out = import(&["--personal", "note"]);
        assert!(out.status.success(), "{backend:?}: {}", stderr_of(&out));
        let meta = bando::store::open(&store).unwrap().layer("households").unwrap();
        let personal: Vec<&str> = meta.fields.iter().filter(|f| f.personal).map(|f| f.name.as_str()).collect();
        assert_eq!(personal, ["household_head", "citizen_id", "note"], "{backend:?}");
    }

    // The demo's housing carries synthetic personal fields; the analyst (no personal_data key:
    // protected by default) and the public never get them, the officer and admin do.
    let store = own_store(dir.path());
    let config = example_config();
    let analyst = bearer(&create_token(&store, &config, "analyst", &[]));
    let admin = bearer(&create_token(&store, &config, "admin", &[]));
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);
    const PERSONAL: [&str; 3] = ["household_head", "citizen_id", "phone"];
    let housing_fields = |credential: Option<&str>| {
        let layer = get(&server.url("/layers/housing"), credential).body;
        names(&layer["fields"], "name")
    };
    let all = housing_fields(Some(&admin));
    assert!(PERSONAL.iter().all(|p| all.contains(&p.to_string())), "{all:?}");
    let layer = get(&server.url("/layers/housing"), Some(&admin)).body;
    let marked: Vec<&serde_json::Value> = layer["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["personal"] == true)
        .collect();
    assert_eq!(marked.len(), 3, "{layer}");
    // The public gets housing only as figures per ward (the example's aggregate).
    for (credential, numeric) in [(None, "sum_household_size"), (Some(analyst.as_str()), "household_size")] {
        let seen = housing_fields(credential);
        assert!(
            seen.contains(&numeric.to_string()) && !PERSONAL.iter().any(|p| seen.contains(&p.to_string())),
            "{seen:?}"
        );
    }
    let (z, x, y) = centre_tile(&server, "housing");
    let path = format!("/tiles/housing/{z}/{x}/{y}.mvt");
    let decoded = |credential: Option<&str>, name: &str| {
        let (status, tile, _) = fetch_as(&server.url(&path), credential);
        assert_eq!(status, 200, "{path}");
        decoded_layers(dir.path(), name, &tile)["housing"]["properties"].clone()
    };
    let full = decoded(Some(&admin), "admin.mvt");
    assert!(PERSONAL.iter().all(|p| full.as_array().unwrap().contains(&(*p).into())), "{full}");
    let protected = decoded(Some(&analyst), "analyst.mvt");
    assert!(
        !PERSONAL.iter().any(|p| protected.as_array().unwrap().contains(&(*p).into())),
        "{protected}"
    );
    let bbox = "/query/bbox?layers=housing&bbox=107,16,108,17&limit=20&format=csv";
    let (_, csv, _) = fetch_as(&server.url(bbox), Some(&analyst));
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        !csv.contains("DEMO") && !csv.contains("citizen_id") && csv.contains("household_size"),
        "{csv}"
    );
    assert!(String::from_utf8(fetch_as(&server.url(bbox), Some(&admin)).1)
        .unwrap()
        .contains("DEMO"));
    for path in [
        "/query/bbox?layers=housing&bbox=107,16,108,17&fields=citizen_id",
        "/stats?layer=housing&by=wards&group_by=phone",
    ] {
        assert_eq!(get(&server.url(path), Some(&analyst)).status, 400, "{path}");
        assert_eq!(get(&server.url(path), Some(&admin)).status, 200, "{path}");
    }
}

/// `bando audit ARGS --store STORE`: (success, stdout, stderr).
fn audit_cli(store: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--store", store.to_str().unwrap()]);
    let out = bando(&all);
    let stderr = stderr_of(&out);
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), stderr)
}

fn sqlite(store: &Path, sql: &str) -> std::process::Output {
    std::process::Command::new("sqlite3").arg(store).arg(sql).output().expect("sqlite3")
}

#[test]
fn the_audit_records_identities_refusals_and_admin_actions_in_a_chain_that_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = example_config();
    let secret = create_token(&store, &config, "analyst", &["--note", "audit test"]);
    let server = Server::start(&store, &["--config", config.to_str().unwrap(), "--watch-seconds", "0.2"]);
    let analyst = bearer(&secret);
    let statuses: Vec<u16> = [
        "/whoami",
        "/tiles/wards/12/3258/1873.mvt",
        "/query/radius?layer=parcels&lon=107.58&lat=16.46&radius_m=500",
    ]
    .iter()
    .map(|path| fetch_as(&server.url(path), Some(&analyst)).0)
    .collect();
    assert!(statuses.iter().all(|s| (200..300).contains(s)), "{statuses:?}");
    assert_eq!(get(&server.url("/whoami"), Some("Bearer bnd_forged")).status, 401);
    assert_eq!(
        get(&server.url("/whoami"), None).status,
        200,
        "anonymous public traffic is not recorded"
    );
    token(&store, &["revoke", "1"]);

    let rows = || -> Vec<serde_json::Value> {
        let (ok, out, err) = audit_cli(&store, &["--format", "json"]);
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    assert!(
        eventually(Duration::from_secs(10), || rows().len() >= 6),
        "requests are written in the background: {:?}",
        rows()
    );
    let all = rows();
    let actions: Vec<&str> = all.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions.first(), Some(&"token.create"), "{actions:?}");
    assert!(actions.contains(&"token.revoke"), "{actions:?}");
    assert!(!all.iter().any(|r| r["identity"] == "anonymous"), "{all:?}");
    let refused: Vec<_> = all.iter().filter(|r| r["identity"] == "refused").collect();
    assert_eq!((refused.len(), &refused[0]["status"]), (1, &serde_json::json!(401)), "{all:?}");
    assert!(!serde_json::to_string(&all).unwrap().contains(&secret), "no token in the audit");

    let (ok, out, _) = audit_cli(&store, &["--identity", "token:1", "--format", "json"]);
    assert!(ok);
    let mine: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(mine.len(), 3, "{mine:?}");
    let tile = &mine[1];
    assert_eq!(
        (
            tile["role"].as_str(),
            tile["layers"].as_str(),
            tile["area"].as_str(),
            tile["status"].as_i64()
        ),
        (
            Some("analyst"),
            Some("wards"),
            Some("tile 12/3258/1873"),
            Some(i64::from(statuses[1]))
        ),
        "{tile}"
    );
    assert_eq!(tile["client_ip"], "127.0.0.1");
    assert_eq!(mine[2]["area"], "point 107.58,16.46 radius 500 m");
    let (ok, csv, _) = audit_cli(&store, &["--since", "2000-01-01"]);
    assert!(ok && csv.starts_with("id,time,action,identity,role,client_ip,route"), "{csv}");
    let (ok, none, _) = audit_cli(&store, &["--since", "2999-01-01T00:00:00Z", "--format", "json"]);
    assert!(ok && none.trim() == "[]", "{none}");
    drop(server);

    let (ok, out, err) = audit_cli(&store, &["verify"]);
    assert!(ok && out.contains("chain intact"), "{out}{err}");
    let update = "UPDATE bando_audit SET status = 200 WHERE identity = 'refused'";
    let blocked = sqlite(&store, update);
    assert!(
        String::from_utf8_lossy(&blocked.stderr).contains("append-only"),
        "the table refuses edits"
    );
    let forced = sqlite(&store, &format!("DROP TRIGGER bando_audit_no_update; {update};"));
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let id = refused[0]["id"].as_i64().unwrap();
    let (ok, _, err) = audit_cli(&store, &["verify"]);
    assert!(!ok && err.contains(&format!("audit row {id} was changed")), "{err}");
}

/// The `bando audit --format json` records of `identity`'s requests, once `want` are written.
fn audited_requests(store: &Path, identity: &str, want: usize) -> Vec<serde_json::Value> {
    let rows = || -> Vec<serde_json::Value> {
        let (ok, out, err) = audit_cli(store, &["--identity", identity, "--format", "json"]);
        assert!(ok, "{err}");
        let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        all.into_iter().filter(|r| r["action"] == "request").collect()
    };
    assert!(
        eventually(Duration::from_secs(10), || rows().len() >= want),
        "requests are written in the background: {:?}",
        rows()
    );
    rows()
}

#[test]
fn the_audit_says_how_many_features_each_answer_returned() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = example_config();
    let analyst = bearer(&create_token(&store, &config, "analyst", &[]));
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);
    let (z, x, y) = centre_tile(&server, "parcels");
    let (lon, lat) = server.middle_of("parcels");
    let tile_path = format!("/tiles/parcels/{z}/{x}/{y}.mvt");
    let radius_path = format!("/query/radius?layer=parcels&lon={lon}&lat={lat}&radius_m=400&limit=7");
    let csv_path = format!("/query/radius?layer=parcels&lon={lon}&lat={lat}&radius_m=400&limit=3&format=csv");
    let items_path = "/ogc/collections/parcels/items?limit=4";

    // What each answer holds, counted by independent readers of the bytes.
    let (status, tile, cache) = fetch_as(&server.url(&tile_path), Some(&analyst));
    assert_eq!((status, cache.as_deref()), (200, Some("miss")));
    let decoded = decoded_layers(dir.path(), "parcels.mvt", &tile);
    let in_tile = decoded["parcels"]["features"].as_i64().unwrap();
    assert!(in_tile > 0, "{decoded}");
    let (_, _, cache) = fetch_as(&server.url(&tile_path), Some(&analyst));
    assert_eq!(cache.as_deref(), Some("hit"));
    let radius = get(&server.url(&radius_path), Some(&analyst)).body;
    let in_radius = radius["features"].as_array().unwrap().len() as i64;
    assert!(in_radius > 0, "{radius}");
    let (_, csv, _) = fetch_as(&server.url(&csv_path), Some(&analyst));
    let in_csv = csv::Reader::from_reader(csv.as_slice()).records().count() as i64;
    assert!(in_csv > 0);
    let items = get(&server.url(items_path), Some(&analyst)).body;
    assert_eq!(items["features"].as_array().unwrap().len(), 4, "{items}");
    assert_eq!(get(&server.url("/layers"), Some(&analyst)).status, 200);

    let expected: Vec<(String, serde_json::Value)> = [
        (tile_path.clone(), in_tile.into()),
        (tile_path, in_tile.into()),
        (radius_path, in_radius.into()),
        (csv_path, in_csv.into()),
        (items_path.to_string(), 4.into()),
        ("/layers".to_string(), serde_json::Value::Null),
    ]
    .into_iter()
    .map(|(path, n)| (format!("GET {path}"), n))
    .collect();
    let records = audited_requests(&store, "token:1", expected.len());
    let recorded: Vec<(String, serde_json::Value)> = records
        .iter()
        .map(|r| (r["route"].as_str().unwrap().to_string(), r["features"].clone()))
        .collect();
    assert_eq!(recorded, expected, "a cache hit counts like the miss; a listing counts no features");

    let (ok, csv_log, err) = audit_cli(&store, &["--identity", "token:1"]);
    assert!(ok, "{err}");
    let mut log = csv::Reader::from_reader(csv_log.as_bytes());
    let column = log.headers().unwrap().iter().position(|h| h == "features").unwrap();
    let route = log.headers().unwrap().iter().position(|h| h == "route").unwrap();
    let in_csv_log: Vec<(String, String)> = log
        .records()
        .map(|r| r.unwrap())
        .filter(|r| r[route].starts_with("GET "))
        .map(|r| (r[route].to_string(), r[column].to_string()))
        .collect();
    let as_text = |n: &serde_json::Value| n.as_i64().map(|n| n.to_string()).unwrap_or_default();
    let expected_text: Vec<(String, String)> = expected.iter().map(|(r, n)| (r.clone(), as_text(n))).collect();
    assert_eq!(in_csv_log, expected_text);
}

#[test]
fn an_audit_table_from_before_a_column_existed_still_exports_verifies_and_grows() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    // The table as a store without the `features` column has it, holding one chained row.
    let old = bando::audit::AuditEntry {
        time: "2026-01-02T03:04:05.000Z".into(),
        action: "token.create".into(),
        identity: "officer-on-duty".into(),
        route: "token:9".into(),
        ..Default::default()
    };
    let hash = bando::audit::chain_hash(bando::audit::GENESIS, 1, &old);
    let made = sqlite(
        &store,
        &format!(
            "DROP TABLE bando_audit;
             CREATE TABLE bando_audit (id INTEGER PRIMARY KEY, time TEXT NOT NULL, action TEXT NOT NULL,
               identity TEXT NOT NULL, role TEXT NOT NULL, client_ip TEXT NOT NULL, route TEXT NOT NULL,
               layers TEXT NOT NULL, area TEXT NOT NULL, status INTEGER NOT NULL,
               prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
             INSERT INTO bando_audit VALUES (1, '{}', '{}', '{}', '', '', '{}', '', '', 0, '{}', '{hash}');",
            old.time,
            old.action,
            old.identity,
            old.route,
            bando::audit::GENESIS
        ),
    );
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));

    let (ok, out, err) = audit_cli(&store, &["--format", "json"]);
    assert!(ok, "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (rows.len(), &rows[0]["identity"], &rows[0]["features"]),
        (1, &"officer-on-duty".into(), &serde_json::Value::Null)
    );
    let (ok, out, err) = audit_cli(&store, &["verify"]);
    assert!(ok && out.contains("1 rows, chain intact"), "{out}{err}");

    // Writing to it gives the table the column, and the chain goes on.
    create_token(&store, &example_config(), "analyst", &[]);
    let (ok, out, err) = audit_cli(&store, &["verify"]);
    assert!(ok && out.contains("2 rows, chain intact"), "{out}{err}");
    let columns = sqlite(&store, "SELECT name FROM pragma_table_info('bando_audit')");
    assert!(String::from_utf8_lossy(&columns.stdout).lines().any(|c| c == "features"));
    let (ok, csv_log, _) = audit_cli(&store, &[]);
    assert!(ok && csv_log.lines().count() == 3, "{csv_log}");
}

#[test]
fn denied_requests_are_audited_with_the_layer_and_area_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let example = std::fs::read_to_string(example_config()).unwrap();
    let limited = example.replacen(
        "# rate_limit = { per_second = 20.0, burst = 100 }",
        "rate_limit = { per_second = 0.01, burst = 6 }",
        1,
    );
    assert_ne!(limited, example, "the example file names the rate limit");
    let config = write(dir.path(), "bando.toml", &limited);
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);
    // The readiness check spent one request of this address's burst of 6.
    let hidden = "/tiles/roads/14/13001/7002.mvt";
    let forged = "/query/bbox?layer=parcels&bbox=107.5,16.4,107.6,16.5";
    let limited_path = "/query/radius?layer=wards&lon=107.58&lat=16.46&radius_m=300";
    assert_eq!(fetch_as(&server.url(hidden), None).0, 404, "roads is outside the public role");
    let unknown = "/tiles/no_such_layer/14/1/1.mvt";
    assert_eq!(fetch_as(&server.url(unknown), None).0, 404);
    assert!((200..300).contains(&fetch_as(&server.url("/tiles/wards/12/3258/1873.mvt"), None).0));
    assert_eq!(fetch_as(&server.url(forged), Some("Bearer bnd_forged")).0, 401);
    let statuses: Vec<u16> = (0..3).map(|_| fetch_as(&server.url(limited_path), None).0).collect();
    assert_eq!(statuses, [200, 200, 429], "the burst is spent");

    let rows = || -> Vec<serde_json::Value> {
        let (ok, out, err) = audit_cli(&store, &["--format", "json"]);
        assert!(ok, "{err}");
        let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        all.into_iter().filter(|r| r["action"] == "request").collect()
    };
    assert!(eventually(Duration::from_secs(10), || rows().len() >= 4), "{:?}", rows());
    let seen: Vec<[String; 6]> = rows()
        .iter()
        .map(|r| {
            ["identity", "role", "route", "layers", "area", "status"]
                .map(|k| r[k].as_str().map_or_else(|| r[k].to_string(), str::to_string))
        })
        .collect();
    let row = |identity: &str, role: &str, route: &str, layers: &str, area: &str, status: u16| {
        [identity, role, &format!("GET {route}"), layers, area, &status.to_string()].map(str::to_string)
    };
    assert_eq!(
        seen,
        [
            row("anonymous", "public", hidden, "roads", "tile 14/13001/7002", 404),
            row("anonymous", "public", unknown, "no_such_layer", "tile 14/1/1", 404),
            row("refused", "", forged, "parcels", "bbox 107.5,16.4,107.6,16.5", 401),
            row("refused", "", limited_path, "wards", "point 107.58,16.46 radius 300 m", 429),
        ],
        "served anonymous requests are not recorded; a name outside the role is, whether it exists or not (both answer alike)"
    );
    let (ok, out, err) = audit_cli(&store, &["verify"]);
    assert!(ok && out.contains("chain intact"), "{out}{err}");
}

/// The store fids of `layer`'s features in ward `code`, by the independent oracle (shapely).
fn in_ward(store: &Path, layer: &str, code: &str) -> Vec<i64> {
    let out = run_checker(
        "python3",
        &["tests/py/scope_oracle.py", store.to_str().unwrap(), layer, "wards", code],
    );
    serde_json::from_str(&out).unwrap()
}

/// Every content URI of a 3D tileset.json, depth first.
fn content_uris(tile: &serde_json::Value, out: &mut Vec<String>) {
    if let Some(uri) = tile["content"]["uri"].as_str() {
        out.push(uri.to_string());
    }
    for child in tile["children"].as_array().into_iter().flatten() {
        content_uris(child, out);
    }
}

#[test]
fn a_scoped_officer_sees_only_the_features_of_its_units() {
    let dir = tempfile::tempdir().unwrap();
    let store = own_store(dir.path());
    let config = example_config();
    // Ward 19918 holds 88 of the 300 demo parcels.
    let officer = bearer(&create_token(&store, &config, "officer", &["--scope", "wards:19918"]));
    let analyst = bearer(&create_token(&store, &config, "analyst", &[]));
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);
    let parcels = in_ward(&store, "parcels", "19918");
    let everything = in_ward(
        &store,
        "parcels",
        &(19900..20100).map(|c| c.to_string()).collect::<Vec<_>>().join(","),
    );
    assert!(
        !parcels.is_empty() && parcels.len() < everything.len(),
        "the ward holds some parcels, not all"
    );

    // Queries return exactly the oracle's features, whatever the area asked.
    let ids = |body: &serde_json::Value| -> Vec<i64> {
        let mut ids: Vec<i64> = body["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    let bbox = "/query/bbox?layers=parcels&bbox=107,16,108,17&limit=10000";
    assert_eq!(ids(&get(&server.url(bbox), Some(&officer)).body), parcels);
    assert_eq!(ids(&get(&server.url(bbox), Some(&analyst)).body).len(), everything.len());
    let ogc = get(&server.url("/ogc/collections/parcels/items?limit=10000&f=json"), Some(&officer)).body;
    assert_eq!(ids(&ogc), parcels, "OGC API items too");
    let outside = everything.iter().find(|id| !parcels.contains(id)).unwrap();
    let item = format!("/ogc/collections/parcels/items/{outside}?f=json");
    assert_eq!(get(&server.url(&item), Some(&officer)).status, 404, "{item}");
    assert_eq!(get(&server.url(&item), Some(&analyst)).status, 200, "{item}");

    // Statistics count the same features, and list only the officer's ward.
    let stats = get(&server.url("/stats?layer=parcels&by=wards"), Some(&officer)).body;
    let units = stats["units"].as_array().unwrap_or_else(|| panic!("{stats}"));
    assert_eq!(units.len(), 1, "{stats}");
    assert_eq!(units[0]["code"], "19918", "{stats}");
    assert_eq!(units[0]["count"].as_u64(), Some(parcels.len() as u64), "{stats}");

    // Tiles, decoded independently: no feature outside the ward, and those inside it are drawn.
    let (z, x, y) = centre_tile(&server, "parcels");
    let mut seen = Vec::new();
    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1), (-1, 0), (0, -1), (-1, -1), (1, -1), (-1, 1)] {
        let (tx, ty) = ((x as i64 + dx) as u32, (y as i64 + dy) as u32);
        let path = format!("/tiles/parcels/{z}/{tx}/{ty}.mvt");
        let (status, tile, _) = fetch_as(&server.url(&path), Some(&officer));
        assert!([200, 204].contains(&status), "{path}: {status}");
        let layers = decoded_layers(dir.path(), "scoped.mvt", &tile);
        for id in layers["parcels"]["ids"].as_array().into_iter().flatten() {
            let id = id.as_i64().unwrap();
            assert!(parcels.contains(&id), "parcel {id} outside the officer's ward is in {path}");
            seen.push(id);
        }
    }
    assert!(!seen.is_empty(), "the officer's tiles draw the ward's parcels");
    let (_, analyst_tile, cache) = fetch_as(&server.url(&format!("/tiles/parcels/{z}/{x}/{y}.mvt")), Some(&analyst));
    assert_eq!(cache.as_deref(), Some("miss"), "a scoped tile is never served to another view");
    let all = decoded_layers(dir.path(), "all.mvt", &analyst_tile);
    assert!(all["parcels"]["features"].as_u64() > Some(0));

    // 3D: every building in the officer's tiles is in the ward, and all of the ward's are there.
    let buildings = in_ward(&store, "buildings", "19918");
    let tileset = get(&server.url("/3d/buildings/tileset.json"), Some(&officer)).body;
    let mut uris = Vec::new();
    content_uris(&tileset["root"], &mut uris);
    let mut fids = Vec::new();
    for uri in uris {
        let (status, glb, _) = fetch_as(&server.url(&format!("/3d/buildings/{uri}")), Some(&officer));
        assert_eq!(status, 200, "{uri}");
        let file = write_bytes(dir.path(), "scoped.glb", &glb);
        let summary: serde_json::Value = serde_json::from_str(&run_checker("python3", &["tests/py/glb_properties.py", &file])).unwrap();
        fids.extend(summary["fids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()));
    }
    fids.sort();
    assert_eq!(fids, buildings, "the officer's 3D buildings are the ward's");
}

/// A public role that gets the households only as figures per ward (the contract's keys).
const AGGREGATE_POLICY: &str = r#"[security]
anonymous_role = "public"

[[security.roles]]
name = "public"
layers = ["wards", "housing", "social_welfare"]
aggregate = { housing = "wards" }
min_count = 5

[[security.roles]]
name = "analyst"
layers = ["*"]
"#;

/// Per ward fid: the oracle's count of `layer`'s features (those with `flag` true, if given) and
/// sum of `household_size` (shapely over the GeoPackage, not bando's code).
fn oracle_figures(store: &Path, flag: Option<&str>) -> BTreeMap<i64, (u64, i64)> {
    let mut args = vec![
        "tests/py/aggregate_oracle.py",
        store.to_str().unwrap(),
        "housing",
        "wards",
        "household_size",
    ];
    args.extend(flag);
    let figures: serde_json::Value = serde_json::from_str(&run_checker("python3", &args)).unwrap();
    figures
        .as_object()
        .unwrap()
        .iter()
        .map(|(fid, f)| (fid.parse().unwrap(), (f["count"].as_u64().unwrap(), f["sum"].as_i64().unwrap())))
        .collect()
}

/// Every feature of tile layer `layer` in the z14 tiles over the wards, decoded independently:
/// its properties by feature id.
fn tiled_features(server: &Server, dir: &Path, path: &str, layer: &str, authorization: Option<&str>) -> BTreeMap<i64, serde_json::Value> {
    let wards = &get(&server.url("/layers/wards"), None).body["bbox"];
    let corner = |lon: &str, lat: &str| tile_of(wards[lon].as_f64().unwrap(), wards[lat].as_f64().unwrap(), 14);
    let ((west, north), (east, south)) = (corner("west", "north"), corner("east", "south"));
    let mut seen = BTreeMap::new();
    for x in west..=east {
        for y in north..=south {
            let (status, tile, _) = fetch_as(&server.url(&format!("{path}/14/{x}/{y}.mvt")), authorization);
            assert!([200, 204].contains(&status), "{path}/14/{x}/{y}: {status}");
            let file = write_bytes(dir, "figures.mvt", &tile);
            let decoded: serde_json::Value =
                serde_json::from_str(&run_checker("python3", &["tests/py/mvt_layers.py", "--values", &file])).unwrap();
            for (id, properties) in decoded[layer]["values"].as_object().into_iter().flatten() {
                seen.insert(id.parse().unwrap(), properties.clone());
            }
        }
    }
    seen
}

#[test]
fn an_aggregate_only_layer_is_figures_per_unit_with_small_units_suppressed() {
    let dir = tempfile::tempdir().unwrap();
    // 3,000 parcels: wards with more and fewer than 5 households, and poor households.
    let store = own_store_of(dir.path(), 3_000);
    let config = write(dir.path(), "bando.toml", AGGREGATE_POLICY);
    let analyst = bearer(&create_token(&store, &config, "analyst", &[]));
    let (first, second) = (
        bearer(&create_token(&store, &config, "public", &[])),
        bearer(&create_token(&store, &config, "public", &[])),
    );
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);
    let oracle = oracle_figures(&store, None);
    let shown: BTreeMap<i64, (u64, i64)> = oracle.iter().filter(|(_, f)| f.0 >= 5).map(|(k, v)| (*k, *v)).collect();
    assert!(
        !shown.is_empty() && shown.len() < oracle.iter().filter(|(_, f)| f.0 > 0).count(),
        "the demo has wards over and under the least count: {oracle:?}"
    );

    // Tiles: the wards' polygons with their count and sum, only those of 5 households or more,
    // and nothing of a household.
    let tiled = tiled_features(&server, dir.path(), "/tiles/housing", "housing", None);
    let figures: BTreeMap<i64, (u64, i64)> = tiled
        .iter()
        .map(|(id, p)| (*id, (p["count"].as_u64().unwrap(), p["sum_household_size"].as_i64().unwrap())))
        .collect();
    assert_eq!(figures, shown, "the public's housing tiles are the oracle's figures per ward");
    for properties in tiled.values() {
        let mut keys: Vec<&String> = properties.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["code", "count", "name", "sum_household_size"], "{properties}");
    }
    let points = tiled_features(&server, dir.path(), "/tiles/housing", "housing", Some(&analyst));
    assert!(
        points.len() as u64 >= oracle.values().map(|f| f.0).sum::<u64>(),
        "the analyst sees every household"
    );
    assert!(points.values().all(|p| p.get("address").is_some() && p.get("count").is_none()));

    // A scenario layer with a filter: poor households per ward.
    let poor = oracle_figures(&store, Some("poor_household"));
    let poor_shown: BTreeMap<i64, u64> = poor.iter().filter(|(_, f)| f.0 >= 5).map(|(k, v)| (*k, v.0)).collect();
    let tiled = tiled_features(&server, dir.path(), "/scenarios/social_welfare", "poor_households", None);
    let counts: BTreeMap<i64, u64> = tiled.iter().map(|(id, p)| (*id, p["count"].as_u64().unwrap())).collect();
    assert_eq!(counts, poor_shown, "the public's social-welfare map shows poor households per ward");
    let officer_view = tiled_features(&server, dir.path(), "/scenarios/social_welfare", "poor_households", Some(&analyst));
    assert!(
        officer_view.len() as u64 >= poor.values().map(|f| f.0).sum::<u64>(),
        "the analyst sees the points"
    );

    // TileJSON, style and listing say the same.
    let tilejson = get(&server.url("/tiles/housing.json"), None).body;
    let mut fields: Vec<&String> = tilejson["vector_layers"][0]["fields"].as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["code", "count", "name", "sum_household_size"], "{tilejson}");
    let style = get(&server.url("/scenarios/social_welfare/style.json"), None).body;
    for layer in style["layers"].as_array().unwrap() {
        if layer["source-layer"]
            .as_str()
            .is_some_and(|l| l.ends_with("households") || l == "temporary_houses")
        {
            assert_eq!(layer["type"], "fill", "figures are drawn as units: {layer}");
        }
    }
    let layers = get(&server.url("/layers"), None).body;
    let housing = layers["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "housing")
        .unwrap();
    assert_eq!(
        housing["aggregate"],
        serde_json::json!({"by": "wards", "min_count": 5}),
        "{housing}"
    );
    assert_eq!(housing["feature_count"].as_u64(), Some(shown.len() as u64), "{housing}");

    // Queries find units with counts, never households.
    let found = get(&server.url("/query/bbox?layers=housing&bbox=107,16,108,17&limit=10000"), None).body;
    let units: BTreeMap<i64, u64> = found["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_i64().unwrap(), f["properties"]["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(units, shown.iter().map(|(k, v)| (*k, v.0)).collect(), "{found}");
    let items = get(&server.url("/ogc/collections/housing/items?limit=1000&f=json"), None).body;
    assert_eq!(
        items["features"].as_array().unwrap().len(),
        shown.len(),
        "OGC items are the figures too"
    );

    // Statistics count the store's features, with the small wards suppressed.
    let stats = get(&server.url("/stats?layer=housing&by=wards"), None).body;
    for unit in stats["units"].as_array().unwrap_or_else(|| panic!("{stats}")) {
        let (count, _) = oracle[&unit["id"].as_i64().unwrap()];
        match count >= 5 {
            true => assert_eq!(unit["count"].as_u64(), Some(count), "{unit}"),
            false => assert!(unit["suppressed"] == true && unit.get("count").is_none(), "{unit}"),
        }
    }
    assert_eq!(
        stats["total"]["count"].as_u64(),
        Some(shown.values().map(|f| f.0).sum::<u64>()),
        "the total is of the wards shown"
    );
    let indicators = get(&server.url("/scenarios/social_welfare/indicators?indicator=poor_households"), None).body;
    for unit in indicators["indicators"][0]["units"].as_array().unwrap() {
        let (count, _) = poor[&unit["id"].as_i64().unwrap()];
        match count >= 5 {
            true => assert_eq!(unit["matching"].as_u64(), Some(count), "{unit}"),
            false => assert!(unit["status"] == "suppressed" && unit["matching"].is_null(), "{unit}"),
        }
    }

    // Caches key on the view, never the user: two public tokens share the anonymous tiles.
    let (lon, lat) = server.middle_of("wards");
    let (x, y) = tile_of(lon, lat, 14);
    let path = server.url(&format!("/tiles/housing/14/{x}/{y}.mvt"));
    let anonymous = fetch_as(&path, None);
    for token in [&first, &second] {
        let (status, tile, cache) = fetch_as(&path, Some(token));
        assert_eq!(
            (status, cache.as_deref()),
            (anonymous.0, Some("hit")),
            "a public token shares the public's tile"
        );
        assert_eq!(tile, anonymous.1);
    }
    assert_ne!(fetch_as(&path, Some(&analyst)).1, anonymous.1, "the analyst's view is another");
}

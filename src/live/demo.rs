//! The live part of `bando serve --demo`: a local Mosquitto (Debian's `mosquitto`, spawned on a
//! free port of 127.0.0.1 with a config of its own), the demo's `[live]` configuration (vessels,
//! environment and water-level sensors with their rules, written to a file so refusals name a
//! line) and the simulator feeding the broker, accelerated [`SPEEDUP`] times. Dropping
//! [`DemoLive`] stops the simulator and the broker; the broker also ends with the process.
//!
//! Owns the broker process and the demo configuration. Knows no live-layer state, no HTTP.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::simulate::{self, Scene, SimulateOptions};
use crate::store::Store;

/// Simulated seconds per real second: a vessel's 2-hour silence shows in two minutes.
pub const SPEEDUP: f64 = 60.0;
const VESSELS: usize = 60;
const SENSORS: usize = 36;
/// Messages per second, all devices together.
const RATE: f64 = 40.0;
/// Where the broker is looked for when `BANDO_MOSQUITTO` is not set and it is not on PATH.
const MOSQUITTO_SBIN: &str = "/usr/sbin/mosquitto";
const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// The demo's live layers: (layer, topic, id field, value fields).
const SOURCES: [(&str, &str, &str, &str); 3] = [
    ("vessels_live", simulate::VESSEL_TOPIC, "vessel_id", r#"["speed_kn", "heading"]"#),
    ("env_live", simulate::ENV_TOPIC, "sensor_id", r#"["pm25", "cod"]"#),
    ("water_live", simulate::WATER_TOPIC, "sensor_id", r#"["water_level_m"]"#),
];

/// The demo's `[live]` settings and rules (its sources are [`SOURCES`]).
const SETTINGS_AND_RULES: &str = r#"# Written by `bando serve --demo`: the demo's live layers, fed by `bando simulate`.
[live]
publish_ms = 500
# The simulator runs 60 times faster than the clock: its messages are ahead of it.
max_future_seconds = 2592000
track_minutes = 120

[[live.rules]]
id = "left_permitted_zone"
layer = "vessels_live"
kind = "outside"
zones = "fishing_zones"
where = [{ field = "permitted", op = "eq", value = true }]

[[live.rules]]
id = "vms_silent"
layer = "vessels_live"
kind = "signal_lost"
after_seconds = 7200

[[live.rules]]
id = "pm25_over_limit"
layer = "env_live"
kind = "threshold"
field = "pm25"
above = 50
clear = 45
for = 300

[[live.rules]]
id = "cod_over_limit"
layer = "env_live"
kind = "threshold"
field = "cod"
above = 75
clear = 70
for = 300

[[live.rules]]
id = "water_above_alarm"
layer = "water_live"
kind = "threshold"
field = "water_level_m"
above = 3.0
clear = 2.9
for = 120
"#;

/// The demo's `bando.toml`, its sources on the broker at `port`.
fn config_text(port: u16) -> String {
    let mut text = SETTINGS_AND_RULES.to_string();
    for (layer, topic, id, fields) in SOURCES {
        text.push_str(&format!(
            "\n[[live.sources]]\nlayer = \"{layer}\"\nbroker = \"mqtt://127.0.0.1:{port}\"\ntopic = \"{topic}\"\nid = \"{id}\"\ntime = \"ts\"\nfields = {fields}\n"
        ));
    }
    text
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    #[error(
        "serve --demo runs its live layers on a local Mosquitto, and none was found \
         (apt-get install mosquitto, or set BANDO_MOSQUITTO to its path)"
    )]
    NoMosquitto,
    #[error("the demo's broker: {what}")]
    Broker {
        what: String,
        #[source]
        source: Option<std::io::Error>,
    },
    #[error(transparent)]
    Simulate(#[from] simulate::SimulateError),
}

fn broker_error(what: impl Into<String>, source: Option<std::io::Error>) -> DemoError {
    DemoError::Broker { what: what.into(), source }
}

/// The demo's broker, configuration and simulator, for as long as it is kept.
pub struct DemoLive {
    /// The shell guarding the broker (see [`spawn_guarded`]).
    broker: Child,
    /// Closing it stops the broker.
    lifeline: Option<ChildStdin>,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    simulator: Option<JoinHandle<()>>,
}

impl DemoLive {
    /// Starts Mosquitto, writes the demo's `[live]` and starts the simulator on `store`'s zones
    /// and sensor sites.
    pub fn start(store: &dyn Store) -> Result<DemoLive, DemoError> {
        let scene = Scene::from_store(store)?;
        let bin = mosquitto().ok_or(DemoError::NoMosquitto)?;
        let dir = std::env::temp_dir().join(format!("bando-demo-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| broker_error(format!("cannot create {}", dir.display()), Some(e)))?;
        let port = free_port()?;
        let conf = dir.join("mosquitto.conf");
        let log = dir.join("mosquitto.log");
        let text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest file {}\n",
            log.display()
        );
        write(&conf, &text)?;
        write(&dir.join("bando-live.toml"), &config_text(port))?;
        let (broker, lifeline) =
            spawn_guarded(&bin, &conf).map_err(|e| broker_error(format!("cannot start {}", bin.display()), Some(e)))?;
        let mut demo = DemoLive {
            broker,
            lifeline: Some(lifeline),
            dir,
            stop: Arc::new(AtomicBool::new(false)),
            simulator: None,
        };
        demo.wait_listening(port, &log)?;
        let options = SimulateOptions {
            broker: format!("mqtt://127.0.0.1:{port}"),
            vessels: VESSELS,
            sensors: SENSORS,
            rate: RATE,
            speedup: SPEEDUP,
            seconds: None,
            seed: 14,
            qos: 1,
        };
        let stop = demo.stop.clone();
        let thread = std::thread::Builder::new()
            .name("bando-demo-simulate".into())
            .spawn(move || match simulate::run(&scene, &options, &stop) {
                Ok(report) => tracing::info!(published = report.published, "demo simulator stopped"),
                Err(e) => tracing::error!(error = %e, "the demo simulator stopped; live layers stand still"),
            })
            .map_err(|e| broker_error("cannot start the simulator thread", Some(e)))?;
        demo.simulator = Some(thread);
        tracing::info!(port, config = %demo.config_path().display(), "demo live layers: mosquitto and the simulator are running");
        Ok(demo)
    }

    /// The demo's `bando.toml` holding its `[live]`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("bando-live.toml")
    }

    fn wait_listening(&mut self, port: u16, log: &Path) -> Result<(), DemoError> {
        let started = Instant::now();
        while started.elapsed() < LISTEN_WAIT {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.broker.try_wait() {
                return Err(broker_error(format!("mosquitto exited ({status}): {}", tail(log)), None));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(broker_error(
            format!("mosquitto did not listen on port {port}: {}", tail(log)),
            None,
        ))
    }
}

impl Drop for DemoLive {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.simulator.take() {
            let _ = thread.join();
        }
        drop(self.lifeline.take());
        let _ = self.broker.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `BANDO_MOSQUITTO`, else `mosquitto` on PATH, else Debian's /usr/sbin/mosquitto.
fn mosquitto() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BANDO_MOSQUITTO") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("mosquitto"));
    on_path.chain([PathBuf::from(MOSQUITTO_SBIN)]).find(|p| p.is_file())
}

fn free_port() -> Result<u16, DemoError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| broker_error("no free local port", Some(e)))
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|e| broker_error(format!("cannot write {}", path.display()), Some(e)))
}

/// The last lines of the broker's log, for an error.
fn tail(log: &Path) -> String {
    let mut text = String::new();
    let _ = std::fs::File::open(log).and_then(|mut f| f.read_to_string(&mut text));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// Runs the broker under a `sh` that kills it when its standard input closes: when bando
/// ends, however it ends (even by SIGKILL), the pipe closes and the broker goes with it. (A
/// parent-death signal would not do: Mosquitto started as root changes its user, which clears it.)
/// The shell exits with the broker, so an early exit of the broker is seen as the child's.
fn spawn_guarded(bin: &Path, conf: &Path) -> std::io::Result<(Child, ChildStdin)> {
    const GUARD: &str = r#"exec 3<&0; "$0" -c "$1" </dev/null & pid=$!; (read -r _ <&3; kill "$pid" 2>/dev/null) & wait "$pid""#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(GUARD)
        .arg(bin)
        .arg(conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let lifeline = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no pipe to the broker's guard"))?;
    Ok((child, lifeline))
}

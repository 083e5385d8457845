//! The fuzzing loop: replay the committed corpus, then mutate inputs from a pool until the time
//! budget is spent. A panic fails the test and its input is saved under the findings folder;
//! an input whose outcome (the target's short description of what happened) was not seen before
//! joins the pool, which steers mutation towards new decoder paths without coverage tooling.
//!
//! Environment: `BANDO_FUZZ_SECONDS` (per target, default 4), `BANDO_FUZZ_SEED` (a number, or
//! `random`; default fixed so CI is reproducible), `BANDO_FUZZ_TRACE=1` (write each input to
//! `<findings>/<target>/current` before running it, to catch an abort such as a stack overflow).

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use bando::demo::rng::SplitMix as Rng;

/// Largest input kept in the pool: bigger ones are run once and dropped.
const MAX_POOL_INPUT: usize = 1 << 20;
const MAX_POOL: usize = 8192;

pub struct Pool {
    pub inputs: Vec<Vec<u8>>,
}

impl Pool {
    pub fn pick<'a>(&'a self, rng: &mut Rng) -> &'a [u8] {
        &self.inputs[rng.below(self.inputs.len() as u64) as usize]
    }
}

/// One fuzz target: how to run an input, and how to make a new input from one of the pool.
pub struct Target {
    pub name: &'static str,
    /// Runs the input; returns a short outcome description (an error's kind, a shape summary).
    pub run: fn(&[u8]) -> String,
    pub mutate: fn(&mut Rng, &[u8], &Pool) -> Vec<u8>,
    /// Largest input worth running: what the server or the file format lets through (a query
    /// body past the server's limit never reaches the parser). Bigger mutants are dropped.
    pub max_input: usize,
    /// Folders of the repository whose files are seeds too (`tilesets` for scenario files), so
    /// real inputs are not copied into the corpus and new ones are picked up.
    pub seed_dirs: &'static [&'static str],
}

struct Settings {
    budget: Duration,
    seed: u64,
    trace: bool,
    findings: PathBuf,
}

fn settings() -> Settings {
    let seconds = std::env::var("BANDO_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(4.0);
    let seed = match std::env::var("BANDO_FUZZ_SEED").as_deref() {
        Ok("random") => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
        Ok(s) => s.parse().expect("BANDO_FUZZ_SEED is a number or `random`"),
        Err(_) => 0x6261_6e64_6f00,
    };
    Settings {
        budget: Duration::from_secs_f64(seconds),
        seed,
        trace: std::env::var("BANDO_FUZZ_TRACE").is_ok_and(|v| v == "1"),
        findings: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-findings"),
    }
}

pub fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus").join(target)
}

fn read_corpus(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (name, std::fs::read(&p).expect("corpus file reads"))
        })
        .collect()
}

thread_local! {
    /// Where the last panic on this thread happened, recorded by the hook while fuzzing.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static FUZZING: RefCell<bool> = const { RefCell::new(false) };
}

/// A panic hook that keeps the fuzzer's panics quiet (they are reported once, with their input)
/// and leaves every other panic to the default hook.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if FUZZING.with(|f| *f.borrow()) {
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                let message = info
                    .payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message} at {at}")));
            } else {
                default(info);
            }
        }));
    });
}

/// Runs one input; `Err` carries the panic's message and place.
fn run_one(target: &Target, input: &[u8]) -> Result<String, String> {
    FUZZING.with(|f| *f.borrow_mut() = true);
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    FUZZING.with(|f| *f.borrow_mut() = false);
    result.map_err(|_| LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default())
}

fn save(dir: &Path, prefix: &str, input: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).expect("findings folder");
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for b in input {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    let path = dir.join(format!("{prefix}-{hash:016x}"));
    std::fs::write(&path, input).expect("finding saved");
    path
}

/// Replays the corpus, then fuzzes for the time budget; panics (fails the test) listing every
/// distinct panic found, each with the saved input that causes it.
pub fn fuzz(target: Target) {
    install_panic_hook();
    let settings = settings();
    let findings = settings.findings.join(target.name);
    let mut crashes: Vec<String> = Vec::new();
    let mut seen_panics = HashSet::new();
    let mut outcomes = HashSet::new();
    let mut pool = Pool { inputs: Vec::new() };
    let mut slowest = (Duration::ZERO, Vec::new());
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let seeds = target.seed_dirs.iter().flat_map(|d| read_corpus(&repo.join(d)));
    for (name, input) in read_corpus(&corpus_dir(target.name)).into_iter().chain(seeds) {
        let t = Instant::now();
        match run_one(&target, &input) {
            Ok(outcome) => {
                outcomes.insert(outcome);
            }
            Err(panic) => crashes.push(format!("corpus file {name}: {panic}")),
        }
        if t.elapsed() > slowest.0 {
            slowest = (t.elapsed(), input.clone());
        }
        pool.inputs.push(input);
    }
    assert!(!pool.inputs.is_empty(), "{}: the corpus is empty", target.name);
    let mut rng = Rng::new(settings.seed);
    let started = Instant::now();
    let mut runs = 0u64;
    while started.elapsed() < settings.budget && crashes.len() < 16 {
        let parent = pool.pick(&mut rng).to_vec();
        let mut input = (target.mutate)(&mut rng, &parent, &pool);
        // Stack a few mutations now and then: one change rarely gets past the first check.
        for _ in 0..rng.below(4) {
            if input.len() > target.max_input {
                break;
            }
            input = (target.mutate)(&mut rng, &input, &pool);
        }
        if input.len() > target.max_input {
            continue;
        }
        if settings.trace {
            save(&findings, "current", &input);
        }
        let t = Instant::now();
        let result = run_one(&target, &input);
        let took = t.elapsed();
        runs += 1;
        if took > slowest.0 {
            slowest = (took, input.clone());
        }
        match result {
            Ok(outcome) => {
                if outcomes.insert(outcome) && input.len() <= MAX_POOL_INPUT && pool.inputs.len() < MAX_POOL {
                    pool.inputs.push(input);
                }
            }
            Err(panic) => {
                if seen_panics.insert(panic.clone()) {
                    let path = save(&findings, "crash", &input);
                    crashes.push(format!("{panic} (input saved as {})", path.display()));
                }
            }
        }
    }
    let slow_path = save(&findings, "slowest", &slowest.1);
    eprintln!(
        "fuzz {}: seed {}, {runs} runs in {:.1} s, {} outcomes, pool {}, slowest run {:.1} ms ({})",
        target.name,
        settings.seed,
        started.elapsed().as_secs_f64(),
        outcomes.len(),
        pool.inputs.len(),
        slowest.0.as_secs_f64() * 1e3,
        slow_path.display()
    );
    assert!(crashes.is_empty(), "fuzz {} found panics:\n{}", target.name, crashes.join("\n"));
}

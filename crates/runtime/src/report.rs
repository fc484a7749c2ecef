use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The `[stats]` section: where and how often a role reports its counters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsConfig {
    /// Seconds between counter log lines.
    pub log_interval_secs: u32,
    /// A JSON file rewritten with the counters every `file_interval_secs` and at exit.
    pub file: Option<String>,
    pub file_interval_secs: u32,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            log_interval_secs: 10,
            file: None,
            file_interval_secs: 1,
        }
    }
}

/// A one-line summary of a role's counters, for the log.
pub trait Summary {
    fn line(&self) -> String;
}

/// Where a role's snapshots go: an optional shared slot (the demo reads it), the log, the stats file.
pub struct Reporter<T> {
    shared: Option<Arc<Mutex<T>>>,
    log_every: Duration,
    file: Option<PathBuf>,
    file_every: Duration,
    last_log: Instant,
    last_file: Instant,
    last_share: Instant,
}

/// How often a role refreshes its shared snapshot.
const SHARE_EVERY: Duration = Duration::from_millis(100);

impl<T: Serialize + Summary + Clone> Reporter<T> {
    pub fn new(cfg: &StatsConfig, shared: Option<Arc<Mutex<T>>>) -> Self {
        let now = Instant::now();
        Self {
            shared,
            log_every: Duration::from_secs(u64::from(cfg.log_interval_secs.max(1))),
            file: cfg.file.as_ref().map(PathBuf::from),
            file_every: Duration::from_secs(u64::from(cfg.file_interval_secs.max(1))),
            last_log: now,
            last_file: now,
            last_share: now,
        }
    }

    /// Whether a snapshot is due (so the role builds one only then).
    pub fn due(&self) -> bool {
        self.last_share.elapsed() >= SHARE_EVERY
    }

    /// Takes a snapshot; logs and writes the file when their intervals have passed.
    pub fn report(&mut self, role: &str, r: &T) {
        self.last_share = Instant::now();
        self.share(r);
        if self.last_log.elapsed() >= self.log_every {
            self.last_log = Instant::now();
            tracing::info!("{role}: {}", r.line());
        }
        if self.last_file.elapsed() >= self.file_every {
            self.last_file = Instant::now();
            self.write_file(r);
        }
    }

    /// The final snapshot: always shared, logged and written.
    pub fn finish(&mut self, role: &str, r: &T) {
        self.share(r);
        tracing::info!("{role} final: {}", r.line());
        self.write_file(r);
    }

    fn share(&self, r: &T) {
        if let Some(s) = &self.shared {
            if let Ok(mut g) = s.lock() {
                *g = r.clone();
            }
        }
    }

    /// Written to a temporary file and renamed, so a reader never sees half a file.
    fn write_file(&self, r: &T) {
        let Some(path) = &self.file else { return };
        let tmp = path.with_extension("tmp");
        let json = serde_json::to_vec_pretty(r).unwrap_or_default();
        if let Err(e) = std::fs::write(&tmp, json).and_then(|_| std::fs::rename(&tmp, path)) {
            tracing::warn!("stats file {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Serialize)]
    struct Counters {
        received: u64,
    }

    impl Summary for Counters {
        fn line(&self) -> String {
            format!("received={}", self.received)
        }
    }

    #[test]
    fn finish_writes_the_file_and_the_shared_slot() {
        let dir = std::env::temp_dir().join(format!("sekiwake-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stats.json");
        let cfg = StatsConfig {
            file: Some(path.display().to_string()),
            ..StatsConfig::default()
        };
        let shared = Arc::new(Mutex::new(Counters { received: 0 }));
        let mut r = Reporter::new(&cfg, Some(shared.clone()));
        r.finish("test", &Counters { received: 7 });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"received\": 7"), "{text}");
        assert_eq!(shared.lock().unwrap().received, 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! From the `[capture]` section to capture's frame decoder (link, IP, defrag, UDP, classify): shared by
//! the roles that read frames, capture and decode.

use std::collections::BTreeMap;

use capture::{DefragConfig, FrameParser, FrameStats, LoopGuard};
use config::CaptureConfig;
use wire::classify::Classifier;
use wire::encap::Encap;

/// Reassembly limits: the configured ones, the reassembler's defaults for the rest.
pub fn defrag_config(cfg: &CaptureConfig) -> DefragConfig {
    let d = DefragConfig::default();
    let s = &cfg.defrag;
    DefragConfig {
        max_bytes: s.max_bytes.unwrap_or(d.max_bytes),
        max_datagrams: s.max_datagrams.unwrap_or(d.max_datagrams).max(1),
        timeout_ns: s
            .timeout_secs
            .map_or(d.timeout_ns, |t| u64::from(t) * 1_000_000_000),
    }
}

pub fn parser(cfg: &CaptureConfig, classifier: Classifier, guard: LoopGuard) -> FrameParser {
    FrameParser::new(classifier, defrag_config(cfg), guard)
}

/// Frames per encapsulation kind, by counter name (capture's stats and decode's summary).
pub fn encapsulations(d: &FrameStats) -> BTreeMap<&'static str, u64> {
    Encap::ALL
        .iter()
        .map(|e| (e.name(), d.encapsulations[e.index()]))
        .collect()
}

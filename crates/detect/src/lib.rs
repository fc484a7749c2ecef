//! Online anomaly detectors over telemetry records, each with bounded state per key, and the alerts they
//! raise (docs/detection.md). No I/O: the `detect` role feeds records and a clock in and takes alert events
//! out; the evaluation tools feed recorded series.
#![forbid(unsafe_code)]

pub mod baseline;
pub mod episode;
pub mod eval;

//! Online anomaly detectors over telemetry records, each with bounded state per key, and the alerts they
//! raise (docs/detection.md). No I/O: the `detect` role feeds records and a clock in and takes alert events
//! out; the evaluation tools feed recorded series.
#![forbid(unsafe_code)]

pub mod alert;
pub mod baseline;
pub mod config;
pub mod distinct;
pub mod engine;
pub mod episode;
pub mod eval;
pub mod facts;
pub mod series;
pub mod table;
pub mod templates;
#[doc(hidden)]
pub mod testing;

pub use alert::Alert;
pub use config::Config;
pub use engine::{Detector, Stats};

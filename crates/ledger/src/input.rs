//! What the ledger reads of each role's stats file: only the counters it needs, under the names the roles
//! write (a field a role does not write reads as zero or empty).

use serde::Deserialize;

/// One stats file, by its `role`.
#[derive(Debug, Clone)]
pub enum Report {
    Capture(CaptureIn),
    Proxy(ProxyIn),
    Subscriber(SubscriberIn),
}

impl Report {
    /// Reads one stats file's JSON; `None` for a role the ledger has nothing to take from (send, sink...).
    pub fn from_json(text: &str) -> Result<Option<Self>, String> {
        #[derive(Deserialize)]
        struct Role {
            role: String,
        }
        let role: Role = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let parsed = match role.role.as_str() {
            "capture" => Report::Capture(serde_json::from_str(text).map_err(|e| e.to_string())?),
            "proxy" => Report::Proxy(serde_json::from_str(text).map_err(|e| e.to_string())?),
            "forward" | "tap" | "detect" | "decode" => {
                Report::Subscriber(serde_json::from_str(text).map_err(|e| e.to_string())?)
            }
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }
}

/// A capture's report.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CaptureIn {
    pub publisher: String,
    pub captured_total: u64,
    pub published: u64,
    pub hwm_dropped: u64,
    pub bus_failed: u64,
    pub pcap_dropped: u64,
    pub pcap_if_dropped: u64,
    pub listener_dropped: u64,
    pub fragments_expired: u64,
    pub fragments_dropped: u64,
    pub exporters: Vec<ExporterIn>,
    pub exporters_untracked: u64,
}

/// One (exporter, kind) of a capture.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ExporterIn {
    pub exporter: String,
    pub kind: String,
    pub bucket: u8,
    pub captured: u64,
    pub published: u64,
    pub hwm_dropped: u64,
    pub bus_failed: u64,
    pub sequence: Option<SequenceIn>,
}

/// An exporter's own numbering.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SequenceIn {
    pub unit: String,
    pub missing: u64,
    pub late: u64,
    pub resets: u64,
    pub unchecked: u64,
}

/// A proxy's report.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProxyIn {
    pub received: u64,
    pub forwarded: u64,
    pub dropped_full: u64,
    pub dropped_streams: Vec<StreamDropIn>,
}

/// What a proxy dropped of one stream.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamDropIn {
    pub publisher: String,
    pub kind: String,
    pub bucket: u8,
    pub dropped: u64,
}

/// A subscriber's report (forward, tap, detect, decode).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubscriberIn {
    pub role: String,
    pub received: u64,
    pub bus_gaps: u64,
    pub shard: Option<envelope::Shard>,
    pub kinds: Vec<String>,
    pub streams: Vec<StreamIn>,
    /// forward only.
    pub destinations: Vec<DestinationIn>,
}

/// What a subscriber got of one stream.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamIn {
    pub publisher: String,
    pub kind: String,
    pub bucket: u8,
    pub received: u64,
    pub missing: u64,
}

/// One of forward's destinations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DestinationIn {
    pub name: String,
    pub url: String,
    pub forwarded: u64,
    pub refused: u64,
    pub dropped_full: u64,
    pub failed: u64,
    pub wrong_kind: u64,
    pub wrong_family: u64,
    pub dropped_at_exit: u64,
    pub informs_given_up: u64,
}

//! How an alert is written for each kind of target.

use detect::alert::{Severity, State};
use detect::Alert;
use serde_json::{json, Value};

/// Alertmanager's postable alert. Labels identify the alert (the same on start, update and end, so the end
/// resolves it); what changes goes in annotations.
pub fn alertmanager(a: &Alert) -> Value {
    let mut labels = json!({
        "alertname": format!("sekiwake_{}", a.kind_of.name()),
        "type": a.kind_of.name(),
        "severity": a.severity.name(),
        "key": a.key,
        "id": a.id,
        "incident": a.incident.id,
    });
    if let Some(e) = a.exporter {
        labels["exporter"] = json!(e.to_string());
    }
    if let Some(k) = a.kind {
        labels["kind"] = json!(k);
    }
    let mut posted = json!({
        "labels": labels,
        "annotations": {
            "summary": a.summary,
            "value": a.value.to_string(),
            "baseline": a.baseline.to_string(),
            "score": a.score.to_string(),
            "evidence": a.evidence.to_string(),
            "incident_signals": a.incident.signals.join(", "),
        },
        "startsAt": a.started,
    });
    if a.state == State::End {
        posted["endsAt"] = json!(a.ended.clone().unwrap_or_else(|| a.started.clone()));
    }
    posted
}

/// An RFC 5424 message: facility local0, the alert's severity, MSGID the alert type, the JSON as MSG.
pub fn syslog(a: &Alert, host: &str) -> Result<String, String> {
    let severity = match a.severity {
        Severity::Critical => 2,
        Severity::Warning => 4,
        Severity::Info => 6,
    };
    let pri = 16 * 8 + severity;
    let time = match a.state {
        State::End => a.ended.as_deref().unwrap_or(&a.started),
        _ => &a.started,
    };
    let json = serde_json::to_string(a).map_err(|e| e.to_string())?;
    Ok(format!(
        "<{pri}>1 {time} {host} sekiwake - {} - {json}",
        a.kind_of.name()
    ))
}

/// `alert/<type>/<exporter>/` (`-` for alerts about the whole bus).
pub fn topic(a: &Alert) -> String {
    let exporter = a.exporter.map_or("-".to_owned(), |e| e.to_string());
    format!("alert/{}/{exporter}/", a.kind_of.name())
}

/// This host's name for the syslog HOSTNAME field (`-`, the nil value, if unknown).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
        .unwrap_or_else(|| "-".to_owned())
}

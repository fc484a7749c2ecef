//! Syslog messages.

use serde::Serialize;
use wire::syslog::{self, Format};

use crate::Body;

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// `rfc3164`, `rfc5424` or `cisco-ios`.
    pub format: &'static str,
    pub facility: u8,
    pub severity: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structured_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_flag: Option<char>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bom: bool,
    /// The free-form text; invalid UTF-8 is replaced (U+FFFD).
    pub message: String,
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Rfc3164 => "rfc3164",
        Format::Rfc5424 => "rfc5424",
        Format::CiscoIos => "cisco-ios",
    }
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

/// Every message of a datagram (one, or several when the sender framed them: see [`syslog::frames`]).
pub fn messages(p: &[u8], out: &mut impl FnMut(Body)) -> Result<(), wire::WireError> {
    let mut frames = syslog::frames(p).peekable();
    if frames.peek().is_none() {
        return Err(wire::WireError::new("syslog: empty datagram", 0));
    }
    for frame in frames {
        let m = syslog::parse(frame?)?;
        out(Body::Message(Message {
            format: format_name(m.format),
            facility: m.facility,
            severity: m.severity,
            timestamp: owned(m.timestamp),
            hostname: owned(m.hostname),
            app: owned(m.app),
            procid: owned(m.procid),
            msgid: owned(m.msgid),
            structured_data: owned(m.structured_data),
            sequence: m.sequence,
            clock_flag: m.clock_flag,
            bom: m.bom,
            message: String::from_utf8_lossy(m.message).into_owned(),
        }));
    }
    Ok(())
}

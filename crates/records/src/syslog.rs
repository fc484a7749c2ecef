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
    /// Present (`true`) when the message had no valid `<PRI>`: facility and severity are then user.notice.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_pri: bool,
    /// RFC 5424 VERSION, present when it is not 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u16>,
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

/// A header field as text: invalid UTF-8 is replaced (U+FFFD), never a reason to drop the field.
fn text(b: Option<&[u8]>) -> Option<String> {
    b.map(owned_text)
}

/// Bytes as text, invalid UTF-8 replaced. Valid text (nearly all of it) takes the validator's fast path:
/// `from_utf8_lossy` walks chunk by chunk even when there is nothing to replace.
pub(crate) fn owned_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
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
            no_pri: !m.has_pri,
            version: m.version.filter(|&v| v != 1),
            timestamp: text(m.timestamp),
            hostname: text(m.hostname),
            app: text(m.app),
            procid: text(m.procid),
            msgid: text(m.msgid),
            structured_data: text(m.structured_data),
            sequence: m.sequence,
            clock_flag: m.clock_flag,
            bom: m.bom,
            message: owned_text(m.message),
        }));
    }
    Ok(())
}

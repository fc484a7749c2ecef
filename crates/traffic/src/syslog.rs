//! Syslog messages: RFC 3164, RFC 5424 and Cisco IOS style, each holding `seq=N`.

use wire::timefmt;

use crate::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rfc3164,
    Rfc5424,
    /// `<189>123: *Nov 26 08:37:46.123: %LINK-3-UPDOWN: ...` as Cisco IOS sends it.
    Cisco,
    /// The three in turn.
    Mixed,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rfc3164" => Ok(Format::Rfc3164),
            "rfc5424" => Ok(Format::Rfc5424),
            "cisco" => Ok(Format::Cisco),
            "mixed" => Ok(Format::Mixed),
            _ => Err(format!(
                "`{s}` is not a syslog format (rfc3164, rfc5424, cisco, mixed)"
            )),
        }
    }
}

const HOSTS: [&str; 4] = ["edge-rtr-1", "core-sw-2", "fw-3", "srv-web-4"];
const APPS: [&str; 4] = ["sshd", "kernel", "cron", "nginx"];

/// A size from a realistic distribution: most messages short, some long.
fn draw_size(rng: &mut Rng) -> usize {
    match rng.range(0, 99) {
        0..=59 => rng.range(80, 200) as usize,
        60..=89 => rng.range(200, 600) as usize,
        _ => rng.range(600, 1400) as usize,
    }
}

/// Writes message `seq` in `format`, padded with a repeating alphabet to `size` bytes (or a drawn size);
/// never cut below the header and the `seq=N` field.
pub fn message(
    format: Format,
    seq: u64,
    now_ns: u64,
    size: Option<usize>,
    rng: &mut Rng,
    out: &mut Vec<u8>,
) {
    out.clear();
    let format = match format {
        Format::Mixed => [Format::Rfc3164, Format::Rfc5424, Format::Cisco][(seq % 3) as usize],
        f => f,
    };
    let host = rng.pick(&HOSTS);
    let app = rng.pick(&APPS);
    let pid = rng.range(100, 65000);
    let text = match format {
        Format::Rfc5424 => format!(
            "<134>1 {} {host} {app} {pid} ID47 [origin@32473 software=\"sekiwake-send\"] seq={seq} ",
            timefmt::rfc5424(now_ns)
        ),
        Format::Cisco => {
            let port = rng.range(0, 47);
            let state = if rng.chance(50) { "down" } else { "up" };
            format!(
                "<189>{seq}: *{}: %LINK-3-UPDOWN: Interface GigabitEthernet0/{port}, changed state to {state} seq={seq} ",
                timefmt::rfc3164_millis(now_ns)
            )
        }
        _ => format!("<134>{} {host} {app}[{pid}]: seq={seq} ", timefmt::rfc3164(now_ns)),
    };
    out.extend_from_slice(text.as_bytes());
    let size = size.unwrap_or_else(|| draw_size(rng));
    let pad = size.saturating_sub(out.len());
    out.extend((0..pad).map(|i| b'a' + (i % 26) as u8));
}

/// Message `seq` as the settings want it: a fixed text (`Settings::message`), a link flapping, or the
/// ordinary mix.
pub fn generate(s: &crate::Settings, seq: u64, now_ns: u64, rng: &mut Rng, out: &mut Vec<u8>) {
    if s.pattern == crate::Pattern::LinkFlap {
        let state = if seq.is_multiple_of(2) { "down" } else { "up" };
        let text = format!(
            "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to {state} seq={seq}"
        );
        return fixed(&text, now_ns, out);
    }
    match &s.message {
        Some(m) => fixed(&m.replace("{seq}", &seq.to_string()), now_ns, out),
        None => message(s.syslog_format, seq, now_ns, s.size, rng, out),
    }
}

/// An RFC 3164 message with `text` as its content.
fn fixed(text: &str, now_ns: u64, out: &mut Vec<u8>) {
    out.clear();
    let line = format!("<187>{} edge-rtr-1 {text}", timefmt::rfc3164(now_ns));
    out.extend_from_slice(line.as_bytes());
}

/// The `seq=N` a generated message carries.
pub fn seq_of(msg: &[u8]) -> Option<u64> {
    let at = msg.windows(4).position(|w| w == b"seq=")? + 4;
    let digits = msg[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&msg[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::classify::confirm;
    use wire::kind::Family;

    #[test]
    fn formats_sizes_and_sequences() {
        let mut rng = Rng::new(7);
        let mut m = Vec::new();
        for (f, variant) in [
            (Format::Rfc3164, 1),
            (Format::Rfc5424, 2),
            (Format::Cisco, 1),
        ] {
            message(f, 42, 0, Some(300), &mut rng, &mut m);
            assert_eq!(m.len(), 300);
            assert_eq!(seq_of(&m), Some(42));
            assert_eq!(
                confirm(Family::Syslog, &m).unwrap().variant,
                variant,
                "{}",
                String::from_utf8_lossy(&m)
            );
        }
        message(Format::Cisco, 7, 0, Some(10), &mut rng, &mut m);
        assert!(
            m.starts_with(b"<189>7: *Jan  1 00:00:00.000: %LINK-3-UPDOWN"),
            "{}",
            String::from_utf8_lossy(&m)
        );
        let sizes: Vec<usize> = (0..1000)
            .map(|s| {
                message(Format::Mixed, s, 0, None, &mut rng, &mut m);
                m.len()
            })
            .collect();
        assert!(sizes.iter().filter(|&&s| s <= 200).count() > 400);
        assert!(sizes.iter().any(|&s| s > 600) && sizes.iter().all(|&s| s <= 1400));
    }
}

//! Syslog messages, zero-copy: RFC 5424, RFC 3164 (with a missing hostname tolerated) and Cisco IOS
//! (`<189>123: *Mar  1 00:00:01.123: %LINK-3-UPDOWN: ...`, with its `*`/`.` clock flags). Fields borrow the
//! datagram; nothing is allocated. A datagram that is not syslog at all is an error; a field that cannot be
//! found is `None`, and whatever follows the header is the message.

use crate::error::WireError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rfc3164,
    Rfc5424,
    CiscoIos,
}

/// One parsed message. `message` excludes a leading UTF-8 BOM (RFC 5424), whose presence `bom` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub format: Format,
    pub facility: u8,
    pub severity: u8,
    pub timestamp: Option<&'a str>,
    pub hostname: Option<&'a str>,
    pub app: Option<&'a str>,
    pub procid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    /// RFC 5424 structured data, as sent (`[id k="v"]...`).
    pub structured_data: Option<&'a str>,
    /// Cisco IOS message sequence number.
    pub sequence: Option<u64>,
    /// Cisco IOS clock flag: `*` (not authoritative) or `.` (was synchronised, now not).
    pub clock_flag: Option<char>,
    pub bom: bool,
    pub message: &'a [u8],
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const BOM: &[u8] = b"\xef\xbb\xbf";
const MAX_PRI: u32 = 191;

pub fn parse(p: &[u8]) -> Result<Message<'_>, WireError> {
    let (pri, rest) = pri(p)?;
    let base = Message {
        format: Format::Rfc3164,
        facility: (pri / 8) as u8,
        severity: (pri % 8) as u8,
        timestamp: None,
        hostname: None,
        app: None,
        procid: None,
        msgid: None,
        structured_data: None,
        sequence: None,
        clock_flag: None,
        bom: false,
        message: rest,
    };
    if let Some(after) = rest.strip_prefix(b"1 ") {
        return Ok(rfc5424(base, after));
    }
    if let Some(m) = cisco(&base, rest) {
        return Ok(m);
    }
    Ok(rfc3164(base, rest))
}

/// `<PRI>` (0..=191): returns PRI and what follows. Classification uses it too.
pub(crate) fn pri(p: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if p.first() != Some(&b'<') {
        return Err(WireError::new("syslog: no <PRI>", 0));
    }
    let digits = p
        .iter()
        .skip(1)
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if !(1..=3).contains(&digits) || p.get(1 + digits) != Some(&b'>') {
        return Err(WireError::new("syslog: bad <PRI>", 1));
    }
    let pri = p[1..1 + digits]
        .iter()
        .fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    if pri > MAX_PRI {
        return Err(WireError::new("syslog: PRI above 191", 1));
    }
    Ok((pri, &p[2 + digits..]))
}

/// Splits at the first space: (token, rest after the space). No space: the whole input and an empty rest.
fn token(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b' ') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[b.len()..]),
    }
}

/// A header field as text; `-` (the RFC 5424 nil value) and non-UTF-8 are `None`.
fn text(b: &[u8]) -> Option<&str> {
    match std::str::from_utf8(b) {
        Ok("-") | Ok("") | Err(_) => None,
        Ok(s) => Some(s),
    }
}

fn rfc5424<'a>(mut m: Message<'a>, b: &'a [u8]) -> Message<'a> {
    m.format = Format::Rfc5424;
    let (ts, b) = token(b);
    let (host, b) = token(b);
    let (app, b) = token(b);
    let (procid, b) = token(b);
    let (msgid, b) = token(b);
    (m.timestamp, m.hostname, m.app, m.procid, m.msgid) =
        (text(ts), text(host), text(app), text(procid), text(msgid));
    let (sd, msg) = structured_data(b);
    m.structured_data = text(sd);
    m.bom = msg.starts_with(BOM);
    m.message = msg.strip_prefix(BOM).unwrap_or(msg);
    m
}

/// `-` or one or more `[...]` elements (quotes and `\]` escapes respected): (SD, message after one space).
fn structured_data(b: &[u8]) -> (&[u8], &[u8]) {
    if b.first() != Some(&b'[') {
        let (sd, rest) = token(b);
        return (sd, rest);
    }
    let mut i = 0;
    let (mut in_elem, mut in_quote, mut escaped) = (false, false, false);
    while i < b.len() {
        let c = b[i];
        match (in_elem, in_quote, escaped, c) {
            (_, _, true, _) => escaped = false,
            (true, _, false, b'\\') => escaped = true,
            (true, _, false, b'"') => in_quote = !in_quote,
            (true, false, false, b']') => in_elem = false,
            (false, _, _, b'[') => in_elem = true,
            (false, _, _, b' ') => return (&b[..i], &b[i + 1..]),
            (false, _, _, _) => return (&b[..i], &b[i..]),
            _ => {}
        }
        i += 1;
    }
    (b, &b[b.len()..])
}

/// `Mmm dd hh:mm:ss` (day space- or zero-padded), optionally with `.fff` fractions: its length, if `b` starts
/// with one.
fn bsd_timestamp_len(b: &[u8]) -> Option<usize> {
    let month = b.get(..3)?;
    if !MONTHS.iter().any(|m| m.as_bytes() == month) || b.get(3) != Some(&b' ') {
        return None;
    }
    let day_ok = b
        .get(4..6)
        .is_some_and(|d| (d[0] == b' ' || d[0].is_ascii_digit()) && d[1].is_ascii_digit());
    let time = b.get(7..15)?;
    let time_ok = time.iter().enumerate().all(|(i, c)| {
        if i % 3 == 2 {
            *c == b':'
        } else {
            c.is_ascii_digit()
        }
    });
    if !(day_ok && b.get(6) == Some(&b' ') && time_ok) {
        return None;
    }
    let frac = b[15..]
        .iter()
        .skip(1)
        .take_while(|c| c.is_ascii_digit())
        .count();
    Some(if b.get(15) == Some(&b'.') && frac > 0 {
        16 + frac
    } else {
        15
    })
}

fn rfc3164<'a>(mut m: Message<'a>, b: &'a [u8]) -> Message<'a> {
    let Some(n) = bsd_timestamp_len(b) else {
        return m; // no header: everything after PRI is the message
    };
    m.timestamp = std::str::from_utf8(&b[..n]).ok();
    let rest = b.get(n + 1..).unwrap_or(&b[b.len()..]);
    let (first, after) = token(rest);
    // Without a hostname, the first token is already the tag (`app[pid]:` or `app:`).
    let (host, tagged) = if first.ends_with(b":") || first.contains(&b'[') {
        (None, rest)
    } else {
        (text(first), after)
    };
    m.hostname = host;
    let (tag, msg) = tag(tagged);
    match tag {
        Some((app, pid)) => {
            (m.app, m.procid) = (text(app), pid.and_then(text));
            m.message = msg;
        }
        None => m.message = tagged,
    }
    m
}

/// An RFC 3164 tag: the app name and, in brackets, the process id.
type Tag<'a> = (&'a [u8], Option<&'a [u8]>);

/// `app[pid]: ` or `app: ` at the start: (tag, message).
fn tag(b: &[u8]) -> (Option<Tag<'_>>, &[u8]) {
    let end = b.iter().take(64).position(|&c| c == b':' || c == b' ');
    let Some(colon) = end.filter(|&i| b[i] == b':' && i > 0) else {
        return (None, b);
    };
    let word = &b[..colon];
    let msg = b
        .get(colon + 1..)
        .map_or(&b[b.len()..], |r| r.strip_prefix(b" ").unwrap_or(r));
    match (word.iter().position(|&c| c == b'['), word.last()) {
        (Some(open), Some(b']')) => (
            Some((&word[..open], Some(&word[open + 1..word.len() - 1]))),
            msg,
        ),
        _ => (Some((word, None)), msg),
    }
}

/// `SEQ: [HOST: ][*|.]TIMESTAMP: MESSAGE` after PRI.
fn cisco<'a>(base: &Message<'a>, b: &'a [u8]) -> Option<Message<'a>> {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || b.get(digits..digits + 2) != Some(b": ") {
        return None;
    }
    let sequence = std::str::from_utf8(&b[..digits]).ok()?.parse().ok();
    let mut rest = &b[digits + 2..];
    let mut hostname = None;
    if bsd_timestamp_len(
        rest.strip_prefix(b"*")
            .or(rest.strip_prefix(b"."))
            .unwrap_or(rest),
    )
    .is_none()
    {
        let (host, after) = token(rest);
        hostname = text(host.strip_suffix(b":")?);
        rest = after;
    }
    let clock_flag = match rest.first() {
        Some(b'*') => Some('*'),
        Some(b'.') => Some('.'),
        _ => None,
    };
    let ts = if clock_flag.is_some() {
        &rest[1..]
    } else {
        rest
    };
    let n = bsd_timestamp_len(ts)?;
    let message = ts.get(n..)?.strip_prefix(b": ")?;
    Some(Message {
        format: Format::CiscoIos,
        timestamp: std::str::from_utf8(&ts[..n]).ok(),
        hostname,
        sequence,
        clock_flag,
        message,
        ..base.clone()
    })
}

/// Offset of `part` inside `whole` (both from one buffer).
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize)
        .saturating_sub(whole.as_ptr() as usize)
        .min(whole.len())
}

/// The message with its original sender recorded, for a relay that sends from its own address: RFC 5424 gets
/// the `origin` structured-data element (RFC 5424 §7.2) with `ip` (or an `ip` parameter added to an existing
/// `origin` element); RFC 3164 and Cisco IOS get `[origin ip="..."] ` at the start of the free-form text, so
/// the header stays readable. `None` for input that is not one syslog message.
pub fn with_origin(p: &[u8], ip: std::net::IpAddr) -> Option<Vec<u8>> {
    let mut frames = frames(p);
    let frame = frames.next()?.ok()?;
    if frames.next().is_some() || offset_in(p, frame) != 0 {
        return None;
    }
    let m = parse(frame).ok()?;
    let param = format!("ip=\"{ip}\"");
    let (start, end, insert) = match m.format {
        Format::Rfc5424 => origin_in_sd(frame, &param)?,
        _ => {
            let at = offset_in(frame, m.message);
            (at, at, format!("[origin {param}] "))
        }
    };
    let mut out = Vec::with_capacity(p.len() + insert.len());
    out.extend_from_slice(&p[..start]);
    out.extend_from_slice(insert.as_bytes());
    out.extend_from_slice(&p[end..]);
    Some(out)
}

/// What to put where in an RFC 5424 message's STRUCTURED-DATA: (start, end of what it replaces, text).
fn origin_in_sd(frame: &[u8], param: &str) -> Option<(usize, usize, String)> {
    let (_, rest) = pri(frame).ok()?;
    let mut b = rest.strip_prefix(b"1 ")?;
    for _ in 0..5 {
        b = token(b).1; // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
    }
    let (sd, _) = structured_data(b);
    let at = offset_in(frame, sd);
    if sd == b"-" || sd.is_empty() {
        return Some((at, at + sd.len(), format!("[origin {param}]")));
    }
    let at_end = at + sd.len();
    Some(match origin_element(sd) {
        Some(i) => (at + i, at + i, format!(" {param}")),
        None => (at_end, at_end, format!("[origin {param}]")),
    })
}

/// In STRUCTURED-DATA, the offset just after the SD-ID of an `origin` element (`[origin`), if there is one;
/// quoted values are skipped, so `"[origin"` inside a value is not taken for an element.
fn origin_element(sd: &[u8]) -> Option<usize> {
    let (mut in_elem, mut in_quote, mut escaped) = (false, false, false);
    for (i, &c) in sd.iter().enumerate() {
        match (in_elem, in_quote, escaped, c) {
            (_, _, true, _) => escaped = false,
            (true, _, false, b'\\') => escaped = true,
            (true, _, false, b'"') => in_quote = !in_quote,
            (true, false, false, b']') => in_elem = false,
            (false, _, _, b'[') => {
                in_elem = true;
                let id = &sd[i + 1..];
                if id.starts_with(b"origin ") || id.starts_with(b"origin]") {
                    return Some(i + 7);
                }
            }
            _ => {}
        }
    }
    None
}

/// The most digits an octet count may have (RFC 6587 §3.4.1 frames up to 99 999 999 bytes).
const MAX_COUNT_DIGITS: usize = 8;

/// Splits syslog framing: octet counting (`LEN SP MSG`, RFC 6587 §3.4.1, as used over TCP and TLS) when the
/// input starts with a digit, otherwise LF framing (§3.4.2), where a line feed ends a message only when the
/// next byte opens another `<PRI>` — so one UDP datagram holding a multi-line message stays one message.
/// Trailing CR, LF and NUL are trimmed from each frame; empty frames are skipped.
pub fn frames(p: &[u8]) -> impl Iterator<Item = Result<&[u8], WireError>> {
    let mut rest = p;
    let mut at = 0;
    std::iter::from_fn(move || {
        let skipped = rest
            .iter()
            .take_while(|b| matches!(b, b'\n' | b'\r' | b'\0'))
            .count();
        (rest, at) = (&rest[skipped..], at + skipped);
        let first = *rest.first()?;
        let split = match first.is_ascii_digit() {
            true => octet_counted(rest, at),
            false => Ok(lf_framed(rest)),
        };
        let Ok((frame, used)) = split else {
            rest = &[];
            return Some(split.map(|(f, _)| f));
        };
        (rest, at) = (&rest[used..], at + used);
        Some(Ok(trim_end(frame)))
    })
}

fn octet_counted(b: &[u8], at: usize) -> Result<(&[u8], usize), WireError> {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits > MAX_COUNT_DIGITS || b.get(digits) != Some(&b' ') {
        return Err(WireError::new("syslog: bad octet count", at));
    }
    let len = b[..digits]
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    let frame = b
        .get(digits + 1..digits + 1 + len)
        .ok_or(WireError::new("syslog: octet count exceeds the data", at))?;
    Ok((frame, digits + 1 + len))
}

fn lf_framed(b: &[u8]) -> (&[u8], usize) {
    let end = b
        .windows(2)
        .position(|w| w == b"\n<")
        .map_or(b.len(), |i| i + 1);
    (&b[..end], end)
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b'\n' | b'\r' | b'\0'))
        .map_or(0, |i| i + 1);
    &b[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5424_with_structured_data_and_bom() {
        let m = parse(b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"] \xef\xbb\xbfAn application event").unwrap();
        assert_eq!((m.format, m.facility, m.severity), (Format::Rfc5424, 20, 5));
        assert_eq!(m.timestamp, Some("2003-10-11T22:14:15.003Z"));
        assert_eq!(
            (m.hostname, m.app, m.procid, m.msgid),
            (
                Some("mymachine.example.com"),
                Some("evntslog"),
                None,
                Some("ID47")
            )
        );
        assert!(m
            .structured_data
            .unwrap()
            .ends_with("[examplePriority@32473 class=\"high\"]"));
        assert!(m.bom);
        assert_eq!(m.message, b"An application event");
        let m = parse(b"<34>1 2003-10-11T22:14:15.003Z host su - ID47 [a@1 x=\"q\\\"]uote\"] msg")
            .unwrap();
        assert_eq!(m.structured_data, Some("[a@1 x=\"q\\\"]uote\"]"));
        assert_eq!(m.message, b"msg");
        let m = parse(b"<34>1 - - - - - -").unwrap();
        assert_eq!(
            (m.timestamp, m.structured_data, m.message),
            (None, None, &b""[..])
        );
    }

    #[test]
    fn rfc3164_with_and_without_hostname() {
        let m = parse(b"<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed").unwrap();
        assert_eq!((m.format, m.facility, m.severity), (Format::Rfc3164, 4, 2));
        assert_eq!(
            (m.timestamp, m.hostname, m.app, m.procid),
            (
                Some("Oct 11 22:14:15"),
                Some("mymachine"),
                Some("su"),
                Some("123")
            )
        );
        assert_eq!(m.message, b"'su root' failed");
        let m = parse(b"<13>Feb  5 17:32:18 sshd: Accepted").unwrap();
        assert_eq!(
            (m.hostname, m.app, m.message),
            (None, Some("sshd"), &b"Accepted"[..])
        );
        let juniper =
            parse(b"<28>Mar 12 10:00:00 router mgd[1234]: UI_COMMIT: User 'x' requested 'commit'")
                .unwrap();
        assert_eq!(
            (juniper.hostname, juniper.app),
            (Some("router"), Some("mgd"))
        );
        assert_eq!(juniper.message, b"UI_COMMIT: User 'x' requested 'commit'");
        let bare = parse(b"<13>just a message").unwrap();
        assert_eq!(
            (bare.timestamp, bare.message),
            (None, &b"just a message"[..])
        );
    }

    #[test]
    fn cisco_ios_sequence_and_clock_flags() {
        let m = parse(
            b"<189>123: *Mar  1 00:00:01.123: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up",
        )
        .unwrap();
        assert_eq!(
            (m.format, m.facility, m.severity),
            (Format::CiscoIos, 23, 5)
        );
        assert_eq!(
            (m.sequence, m.clock_flag, m.timestamp),
            (Some(123), Some('*'), Some("Mar  1 00:00:01.123"))
        );
        assert_eq!(
            m.message,
            b"%LINK-3-UPDOWN: Interface Gi0/1, changed state to up"
        );
        let m =
            parse(b"<187>45: core-sw-2: .Nov 26 08:37:46: %SYS-3-CPUHOG: Task ran for 2000 msec")
                .unwrap();
        assert_eq!(
            (m.hostname, m.clock_flag, m.sequence),
            (Some("core-sw-2"), Some('.'), Some(45))
        );
        let m = parse(b"<189>7: Nov 26 08:37:46: %SYS-5-CONFIG_I: Configured").unwrap();
        assert_eq!(
            (m.clock_flag, m.message),
            (None, &b"%SYS-5-CONFIG_I: Configured"[..])
        );
    }

    #[test]
    fn hostile_input_is_an_error_or_a_message_never_a_panic() {
        for bad in [&b""[..], b"<", b"<1", b"<999>x", b"<12a>", b"no pri"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        for odd in [
            &b"<1>1 "[..],
            b"<1>1 [",
            b"<1>1 - - - - - [a",
            b"<1>Oct",
            b"<1>Oct 11 22:14:1",
            b"<1>12: ",
            b"<1>12: *Mar",
            b"<1>1 \xff\xfe - - - -",
            b"<1>Jan  1 00:00:00.",
            b"<1>Jan  1 00:00:00 :",
        ] {
            let m = parse(odd).unwrap();
            assert!(m.message.len() <= odd.len());
        }
    }

    #[test]
    fn frames_octet_counted_lf_and_multiline() {
        let all = |p: &'static [u8]| frames(p).collect::<Result<Vec<_>, _>>();
        assert_eq!(
            all(b"12x <13>hello").unwrap_err().what,
            "syslog: bad octet count"
        );
        assert_eq!(
            all(b"9 <13>hello10 <14>abcdef\n").unwrap(),
            vec![&b"<13>hello"[..], b"<14>abcdef"]
        );
        assert_eq!(
            all(b"<13>a\n<14>b\r\n").unwrap(),
            vec![&b"<13>a"[..], b"<14>b"]
        );
        assert_eq!(
            all(b"<13>line one\nline two\n").unwrap(),
            vec![&b"<13>line one\nline two"[..]]
        );
        assert_eq!(
            all(b"99 <13>short").unwrap_err().what,
            "syslog: octet count exceeds the data"
        );
        assert_eq!(
            all(b"123456789 <13>x").unwrap_err().what,
            "syslog: bad octet count"
        );
        assert!(all(b"\n\0").unwrap().is_empty());
    }

    #[test]
    fn juniper_messages() {
        let m = parse(b"<28>Mar  3 12:00:01 mx960-re0 mgd[4123]: UI_COMMIT: User 'ops' requested 'commit' operation").unwrap();
        assert_eq!((m.format, m.facility, m.severity), (Format::Rfc3164, 3, 4));
        assert_eq!(
            (m.hostname, m.app, m.procid),
            (Some("mx960-re0"), Some("mgd"), Some("4123"))
        );
        assert!(m.message.starts_with(b"UI_COMMIT: User"));
        let sd = br#"<165>1 2026-03-03T12:00:01.123Z mx960-re0 mgd 4123 UI_COMMIT [junos@2636.1.1.1.2.18 username="ops"] User 'ops' requested 'commit'"#;
        let m = parse(sd).unwrap();
        assert_eq!(
            (m.format, m.app, m.msgid),
            (Format::Rfc5424, Some("mgd"), Some("UI_COMMIT"))
        );
        assert_eq!(
            m.structured_data,
            Some(r#"[junos@2636.1.1.1.2.18 username="ops"]"#)
        );
        assert_eq!(m.message, b"User 'ops' requested 'commit'");
    }

    #[test]
    fn origin_tag_for_each_format() {
        let ip: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        let tag = |p: &[u8]| String::from_utf8(with_origin(p, ip).unwrap()).unwrap();
        assert_eq!(
            tag(b"<165>1 2026-11-26T10:00:00Z host app - ID47 - hello"),
            "<165>1 2026-11-26T10:00:00Z host app - ID47 [origin ip=\"192.0.2.7\"] hello"
        );
        assert_eq!(
            tag(br#"<165>1 - host app - - [ex@32473 k="v"] hi"#),
            r#"<165>1 - host app - - [ex@32473 k="v"][origin ip="192.0.2.7"] hi"#
        );
        assert_eq!(
            tag(br#"<165>1 - host app - - [origin software="x"] hi"#),
            r#"<165>1 - host app - - [origin ip="192.0.2.7" software="x"] hi"#
        );
        assert_eq!(
            tag(b"<13>Nov 26 10:00:00 host app[1]: hello"),
            "<13>Nov 26 10:00:00 host app[1]: [origin ip=\"192.0.2.7\"] hello"
        );
        assert_eq!(
            tag(b"<189>12: *Mar  1 00:00:01.123: %LINK-3-UPDOWN: down"),
            "<189>12: *Mar  1 00:00:01.123: [origin ip=\"192.0.2.7\"] %LINK-3-UPDOWN: down"
        );
        let m = with_origin(b"<165>1 - host app - - - hi", ip).unwrap();
        assert_eq!(
            parse(&m).unwrap().structured_data,
            Some(r#"[origin ip="192.0.2.7"]"#)
        );
        // header only: the tag goes at the end, where the message would be, never before <PRI>
        assert_eq!(
            tag(b"<13>1 2024-01-01T00:00:00Z host"),
            "<13>1 2024-01-01T00:00:00Z host[origin ip=\"192.0.2.7\"]"
        );
        assert_eq!(
            tag(b"<13>Jan  1 00:00:00 myhost"),
            "<13>Jan  1 00:00:00 myhost[origin ip=\"192.0.2.7\"] "
        );
        assert_eq!(tag(b"<13>"), "<13>[origin ip=\"192.0.2.7\"] ");
        assert_eq!(
            tag(br#"<165>1 - h a - - [ex@1 k="[origin x"] hi"#),
            r#"<165>1 - h a - - [ex@1 k="[origin x"][origin ip="192.0.2.7"] hi"#
        );
        for p in [
            &b"<13>1 2024-01-01T00:00:00Z host"[..],
            b"<13>Jan  1 00:00:00 myhost",
            b"<13>",
        ] {
            assert!(
                tag(p).starts_with(std::str::from_utf8(&p[..4]).unwrap()),
                "{p:?}"
            );
        }
        assert_eq!(with_origin(b"not syslog", ip), None);
        assert_eq!(
            with_origin(b"<13>a\n<14>b", ip),
            None,
            "several messages: left alone"
        );
    }
}

//! Syslog messages, zero-copy: RFC 5424 (any VERSION), RFC 3164 as real senders write it (RFC 3339 or BSD
//! stamps with their variants, hostname and tag optional) and Cisco IOS / NX-OS
//! (`<189>123: *Mar  1 00:00:01.123: %LINK-3-UPDOWN: ...`, with its `*`/`.` clock flags). Fields borrow the
//! datagram as bytes (the records crate replaces invalid UTF-8); nothing is allocated. A message without a
//! valid `<PRI>` still parses, as user.notice (RFC 3164 §4.3.3); only an empty one is an error. A field that
//! cannot be found is `None`, and whatever follows the header is the message: no header field ever takes
//! the text with it.

mod legacy;
mod stamp;

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
    /// `false` when the message had no valid `<PRI>` (none, or one above 191): facility and severity are
    /// then user (1) and notice (5), as RFC 3164 §4.3.3 tells a relay, and the text starts at byte 0.
    pub has_pri: bool,
    /// RFC 5424 VERSION (1 in practice; other numbers are kept).
    pub version: Option<u16>,
    pub timestamp: Option<&'a [u8]>,
    pub hostname: Option<&'a [u8]>,
    pub app: Option<&'a [u8]>,
    pub procid: Option<&'a [u8]>,
    pub msgid: Option<&'a [u8]>,
    /// RFC 5424 structured data, as sent (`[id k="v"]...`).
    pub structured_data: Option<&'a [u8]>,
    /// Cisco message sequence number.
    pub sequence: Option<u64>,
    /// Cisco clock flag: `*` (not authoritative) or `.` (was synchronised, now not).
    pub clock_flag: Option<char>,
    pub bom: bool,
    pub message: &'a [u8],
}

const BOM: &[u8] = b"\xef\xbb\xbf";
const MAX_PRI: u32 = 191;
/// Facility user, severity notice: what a message without PRI is (RFC 3164 §4.3.3).
const DEFAULT_PRI: u32 = 13;

impl<'a> Message<'a> {
    /// PRI and the text, before any header field is read.
    fn bare(pri: u32, has_pri: bool, text: &'a [u8]) -> Self {
        Message {
            format: Format::Rfc3164,
            facility: (pri / 8) as u8,
            severity: (pri % 8) as u8,
            has_pri,
            version: None,
            timestamp: None,
            hostname: None,
            app: None,
            procid: None,
            msgid: None,
            structured_data: None,
            sequence: None,
            clock_flag: None,
            bom: false,
            message: text,
        }
    }
}

pub fn parse(p: &[u8]) -> Result<Message<'_>, WireError> {
    if p.is_empty() {
        return Err(WireError::new("syslog: empty message", 0));
    }
    let (pri, has_pri, rest) = match pri(p) {
        Ok((pri, rest)) => (pri, true, rest),
        Err(_) => (DEFAULT_PRI, false, p),
    };
    let base = Message::bare(pri, has_pri, rest);
    if let Some((version, after)) = has_pri.then(|| version(rest)).flatten() {
        return Ok(rfc5424(base, version, after));
    }
    Ok(legacy::parse(base, rest))
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

/// RFC 5424 `VERSION SP` after PRI (1 to 3 digits, no leading zero): the version and what follows. `1 `
/// always starts an RFC 5424 header; another number only when an RFC 3339 stamp or `- ` follows, so an
/// RFC 3164 message whose text starts with a number stays RFC 3164.
fn version(b: &[u8]) -> Option<(u16, &[u8])> {
    let n = b.iter().take(4).take_while(|c| c.is_ascii_digit()).count();
    if !(1..=3).contains(&n) || b[0] == b'0' || b.get(n) != Some(&b' ') {
        return None;
    }
    let v = b[..n]
        .iter()
        .fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
    let rest = &b[n + 1..];
    let stamped = || rest.starts_with(b"- ") || stamp::rfc3339(rest).is_some();
    (v == 1 || stamped()).then_some((v, rest))
}

/// Splits at the first space: (token, rest after the space). No space: the whole input and an empty rest.
fn token(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b' ') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[b.len()..]),
    }
}

/// An RFC 5424 header field: `-` (the nil value) and an empty field are `None`.
fn field(b: &[u8]) -> Option<&[u8]> {
    (!b.is_empty() && b != b"-").then_some(b)
}

fn rfc5424<'a>(mut m: Message<'a>, version: u16, b: &'a [u8]) -> Message<'a> {
    (m.format, m.version) = (Format::Rfc5424, Some(version));
    let (ts, b) = token(b);
    let (host, b) = token(b);
    let (app, b) = token(b);
    let (procid, b) = token(b);
    let (msgid, b) = token(b);
    (m.timestamp, m.hostname, m.app, m.procid, m.msgid) = (
        field(ts),
        field(host),
        field(app),
        field(procid),
        field(msgid),
    );
    let (sd, msg) = structured_data(b);
    m.structured_data = sd;
    m.bom = msg.starts_with(BOM);
    m.message = msg.strip_prefix(BOM).unwrap_or(msg);
    m
}

/// STRUCTURED-DATA and the message after it (one space skipped): `-`, or `[...]` elements read by RFC 5424's
/// grammar (a `"` opens a value only right after `=`, `\` escapes inside a value, `]` outside a value ends
/// the element). Whatever else stands there (a sender that left SD out) is the start of the message. When
/// the elements do not close (a value whose quote never ends), the SD ends at the first `]` followed by a
/// space or the end, and without one there is no SD: the text is never swallowed.
fn structured_data(b: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let after_space = |r: &'_ [u8]| -> usize { usize::from(r.first() == Some(&b' ')) };
    if b == b"-" || b.starts_with(b"- ") {
        return (None, &b[b.len().min(2)..]);
    }
    if b.first() != Some(&b'[') {
        return (None, b);
    }
    let end = sd_elements(b).or_else(|| sd_fallback(b));
    match end {
        Some(n) => (Some(&b[..n]), &b[n + after_space(&b[n..])..]),
        None => (None, b),
    }
}

/// The length of the `[...]` elements `b` starts with, if they all close.
fn sd_elements(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += sd_element(&b[i..])?;
    }
    Some(i)
}

/// One element from its `[` to its `]`: its length, if it closes.
fn sd_element(b: &[u8]) -> Option<usize> {
    let (mut in_value, mut escaped) = (false, false);
    for (i, &c) in b.iter().enumerate().skip(1) {
        match (in_value, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_value = false,
            (false, _, b'"') if b[i - 1] == b'=' => in_value = true,
            (false, _, b']') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// For elements that do not close: up to the first `]` followed by a space or the end.
fn sd_fallback(b: &[u8]) -> Option<usize> {
    b.iter()
        .enumerate()
        .position(|(i, &c)| c == b']' && matches!(b.get(i + 1), None | Some(b' ')))
        .map(|i| i + 1)
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
/// the header stays readable. `None` for input that is not one syslog message with a `<PRI>`.
pub fn with_origin(p: &[u8], ip: std::net::IpAddr) -> Option<Vec<u8>> {
    let mut frames = frames(p);
    let frame = frames.next()?.ok()?;
    if frames.next().is_some() || offset_in(p, frame) != 0 {
        return None;
    }
    let m = parse(frame).ok().filter(|m| m.has_pri)?;
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

/// What to put where in an RFC 5424 message's STRUCTURED-DATA: (start, end of what it replaces, text). The
/// nil SD is replaced; a left-out SD gets the element (and a space) before the text.
fn origin_in_sd(frame: &[u8], param: &str) -> Option<(usize, usize, String)> {
    let (_, rest) = pri(frame).ok()?;
    let (_, mut b) = version(rest)?;
    for _ in 0..5 {
        b = token(b).1; // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
    }
    let at = offset_in(frame, b);
    let element = format!("[origin {param}]");
    Some(match structured_data(b).0 {
        Some(sd) => match origin_element(sd) {
            Some(i) => (at + i, at + i, format!(" {param}")),
            None => (at + sd.len(), at + sd.len(), element),
        },
        None if b == b"-" || b.starts_with(b"- ") => (at, at + 1, element),
        None if b.is_empty() => (at, at, element),
        None => (at, at, element + " "),
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

/// Splits syslog framing: octet counting (`LEN SP <PRI>...`, RFC 6587 §3.4.1, as used over TCP and TLS, and
/// by some senders over UDP) when the input starts with digits, a space and `<`; otherwise LF framing
/// (§3.4.2), where a line feed ends a message only when the next byte opens another `<PRI>` — so one UDP
/// datagram holding a multi-line message stays one message, and text without PRI that starts with digits
/// (`00:00:46: %LINK-3-UPDOWN`) is a message, not a count. Trailing CR, LF and NUL are trimmed from each
/// frame; empty frames are skipped.
pub fn frames(p: &[u8]) -> impl Iterator<Item = Result<&[u8], WireError>> {
    let mut rest = p;
    let mut at = 0;
    std::iter::from_fn(move || {
        let skipped = rest
            .iter()
            .take_while(|b| matches!(b, b'\n' | b'\r' | b'\0'))
            .count();
        (rest, at) = (&rest[skipped..], at + skipped);
        rest.first()?;
        let split = match count_digits(rest) {
            Some(digits) => octet_counted(rest, digits, at),
            None => Ok(lf_framed(rest)),
        };
        let Ok((frame, used)) = split else {
            rest = &[];
            return Some(split.map(|(f, _)| f));
        };
        (rest, at) = (&rest[used..], at + used);
        Some(Ok(trim_end(frame)))
    })
}

/// The digits of an octet count, when `b` starts with `DIGITS SP <`.
fn count_digits(b: &[u8]) -> Option<usize> {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let framed = digits > 0 && b.get(digits..digits + 2) == Some(b" <");
    framed.then_some(digits)
}

fn octet_counted(b: &[u8], digits: usize, at: usize) -> Result<(&[u8], usize), WireError> {
    if digits > MAX_COUNT_DIGITS {
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

/// Up to and including the first LF that a `<` follows (the next message's PRI), else everything. memchr finds
/// LFs many bytes at a time: most datagrams hold one message and none, and this scan runs over all of it.
fn lf_framed(b: &[u8]) -> (&[u8], usize) {
    let end = memchr::memchr_iter(b'\n', b)
        .find(|&i| b.get(i + 1) == Some(&b'<'))
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

    /// A field as text, for comparing with literals.
    fn t(f: Option<&[u8]>) -> Option<&str> {
        f.map(|b| std::str::from_utf8(b).unwrap())
    }

    #[test]
    fn rfc5424_with_structured_data_and_bom() {
        let m = parse(b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"] \xef\xbb\xbfAn application event").unwrap();
        assert_eq!((m.format, m.facility, m.severity), (Format::Rfc5424, 20, 5));
        assert_eq!(t(m.timestamp), Some("2003-10-11T22:14:15.003Z"));
        assert_eq!(
            (t(m.hostname), t(m.app), t(m.procid), t(m.msgid)),
            (
                Some("mymachine.example.com"),
                Some("evntslog"),
                None,
                Some("ID47")
            )
        );
        assert!(t(m.structured_data)
            .unwrap()
            .ends_with("[examplePriority@32473 class=\"high\"]"));
        assert!(m.bom);
        assert_eq!(m.message, b"An application event");
        let m = parse(b"<34>1 2003-10-11T22:14:15.003Z host su - ID47 [a@1 x=\"q\\\"]uote\"] msg")
            .unwrap();
        assert_eq!(t(m.structured_data), Some("[a@1 x=\"q\\\"]uote\"]"));
        assert_eq!(m.message, b"msg");
        let m = parse(b"<34>1 - - - - - -").unwrap();
        assert_eq!(
            (t(m.timestamp), t(m.structured_data), m.message),
            (None, None, &b""[..])
        );
    }

    #[test]
    fn rfc3164_with_and_without_hostname() {
        let m = parse(b"<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed").unwrap();
        assert_eq!((m.format, m.facility, m.severity), (Format::Rfc3164, 4, 2));
        assert_eq!(
            (t(m.timestamp), t(m.hostname), t(m.app), t(m.procid)),
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
            (t(m.hostname), t(m.app), m.message),
            (None, Some("sshd"), &b"Accepted"[..])
        );
        let juniper =
            parse(b"<28>Mar 12 10:00:00 router mgd[1234]: UI_COMMIT: User 'x' requested 'commit'")
                .unwrap();
        assert_eq!(
            (t(juniper.hostname), t(juniper.app)),
            (Some("router"), Some("mgd"))
        );
        assert_eq!(juniper.message, b"UI_COMMIT: User 'x' requested 'commit'");
        let bare = parse(b"<13>just a message").unwrap();
        assert_eq!(
            (t(bare.timestamp), bare.message),
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
            (m.sequence, m.clock_flag, t(m.timestamp)),
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
            (t(m.hostname), m.clock_flag, m.sequence),
            (Some("core-sw-2"), Some('.'), Some(45))
        );
        let m = parse(b"<189>7: Nov 26 08:37:46: %SYS-5-CONFIG_I: Configured").unwrap();
        assert_eq!(
            (m.clock_flag, m.message),
            (None, &b"%SYS-5-CONFIG_I: Configured"[..])
        );
    }

    #[test]
    fn rules_at_the_edges() {
        let fields = |p: &[u8]| {
            let m = parse(p).unwrap();
            let text = std::str::from_utf8(m.message).unwrap().to_owned();
            (
                m.format,
                t(m.timestamp).map(str::to_owned),
                t(m.hostname).map(str::to_owned),
                t(m.app).map(str::to_owned),
                text,
            )
        };
        // a time zone is read only after a sequence number or clock flag: `CRON:` here is a tag
        let (f, ts, host, app, text) = fields(b"<13>Feb  5 17:32:18 CRON: x");
        assert_eq!(
            (f, ts.as_deref(), host, app.as_deref(), text.as_str()),
            (
                Format::Rfc3164,
                Some("Feb  5 17:32:18"),
                None,
                Some("CRON"),
                "x"
            )
        );
        // a stamp must be followed by a space: otherwise the whole text is the message
        let (_, ts, _, app, text) = fields(b"<13>Dec  7 08:15:02x host a: b");
        assert_eq!(
            (ts, app, text.as_str()),
            (None, None, "Dec  7 08:15:02x host a: b")
        );
        // a pid with a space in it is no pid: no tag
        let (_, _, host, app, text) = fields(b"<14>Dec  7 08:15:02 host tag[pi d]: x");
        assert_eq!(
            (host.as_deref(), app, text.as_str()),
            (Some("host"), None, "tag[pi d]: x")
        );
        // VERSION other than 1 needs a stamp or `-` after it; a leading zero is no version
        for p in [&b"<13>2 apples fell"[..], b"<13>01 - - - - - -", b"<13>7 -"] {
            let (f, _, _, _, text) = fields(p);
            assert_eq!((f, text.as_bytes()), (Format::Rfc3164, &p[4..]), "{p:?}");
        }
        // elements followed directly by text; a `-` glued to text is text
        let m = parse(br#"<14>1 - - - - - [a@1 k="v"]x"#).unwrap();
        assert_eq!(
            (t(m.structured_data), m.message),
            (Some(r#"[a@1 k="v"]"#), &b"x"[..])
        );
        let m = parse(b"<14>1 - - - - - -hello").unwrap();
        assert_eq!((m.structured_data, m.message), (None, &b"-hello"[..]));
        // several elements, the second one never closing: the first `] ` ends the SD
        let m = parse(br#"<14>1 - - - - - [a@1 k="v"][b@1 k="w] rest"#).unwrap();
        assert_eq!(
            (t(m.structured_data), m.message),
            (Some(r#"[a@1 k="v"][b@1 k="w]"#), &b"rest"[..])
        );
        // after a Cisco stamp, a word is a hostname only before a `%...:` mnemonic
        let m = parse(b"<189>12: *Mar  1 00:00:01: Configured %x by console").unwrap();
        assert_eq!(
            (m.hostname, m.message),
            (None, &b"Configured %x by console"[..])
        );
        let m = parse(b"<189>12: *Mar  1 00:00:01: rtr1: %SYS-5-CONFIG_I: Configured").unwrap();
        assert_eq!(
            (t(m.hostname), m.message),
            (Some("rtr1"), &b"%SYS-5-CONFIG_I: Configured"[..])
        );
        // a tag too long to be one is text
        let long = [b"<14>Dec  7 08:15:02 h ".as_slice(), &[b'a'; 129], b": x"].concat();
        assert_eq!(parse(&long).unwrap().app, None);
    }

    #[test]
    fn hostile_input_is_an_error_or_a_message_never_a_panic() {
        assert_eq!(parse(b"").unwrap_err().what, "syslog: empty message");
        // no valid PRI: user.notice, and the text is everything, the bad PRI included
        for no_pri in [
            &b"<"[..],
            b"<1",
            b"<999>x",
            b"<12a>",
            b"no pri",
            b"<>x",
            b"<0013>x",
        ] {
            let m = parse(no_pri).unwrap();
            assert_eq!(
                (m.has_pri, m.facility, m.severity),
                (false, 1, 5),
                "{no_pri:?}"
            );
            assert_eq!(m.message, no_pri);
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
            b"<1>: ",
            b"<1>:",
            b"<1>*",
            b"<1>.Jan",
            b"<1>1: 2",
            b"<1>a[",
            b"<1>a[1",
            b"<1>[]:",
            b"<1>2 ",
            b"<1>999 -",
            b"<1>1 - - - - - [a=\"",
            b"<1>1 - - - - - [a=\"\\",
            b"<1>Jan  1 2026",
            b"<1>2026 Jan  1 00:00:00",
            b"<1>1: h: 1d",
        ] {
            let m = parse(odd).unwrap();
            assert!(m.message.len() <= odd.len());
        }
    }

    #[test]
    fn frames_octet_counted_lf_and_multiline() {
        let all = |p: &'static [u8]| frames(p).collect::<Result<Vec<_>, _>>();
        // digits not followed by ` <` are text (a message without PRI), not a count
        assert_eq!(all(b"12x <13>hello").unwrap(), vec![&b"12x <13>hello"[..]]);
        assert_eq!(
            all(b"00:00:46: %LINK-3-UPDOWN: up").unwrap(),
            vec![&b"00:00:46: %LINK-3-UPDOWN: up"[..]]
        );
        assert_eq!(
            all(b"67 <14>1 2026-12-07T08:15:02Z host app 42 ID7 - octet-counted over UDP").unwrap(),
            vec![&b"<14>1 2026-12-07T08:15:02Z host app 42 ID7 - octet-counted over UDP"[..]]
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
            (t(m.hostname), t(m.app), t(m.procid)),
            (Some("mx960-re0"), Some("mgd"), Some("4123"))
        );
        assert!(m.message.starts_with(b"UI_COMMIT: User"));
        let sd = br#"<165>1 2026-03-03T12:00:01.123Z mx960-re0 mgd 4123 UI_COMMIT [junos@2636.1.1.1.2.18 username="ops"] User 'ops' requested 'commit'"#;
        let m = parse(sd).unwrap();
        assert_eq!(
            (m.format, t(m.app), t(m.msgid)),
            (Format::Rfc5424, Some("mgd"), Some("UI_COMMIT"))
        );
        assert_eq!(
            t(m.structured_data),
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
            t(parse(&m).unwrap().structured_data),
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
        assert_eq!(
            tag(b"<14>2 2026-12-07T08:15:02Z h a - - - hi"),
            "<14>2 2026-12-07T08:15:02Z h a - - [origin ip=\"192.0.2.7\"] hi"
        );
        // SD left out: the element goes before the text, which stays the message
        let left_out = with_origin(b"<14>1 - h a - - hello", ip).unwrap();
        assert_eq!(left_out, b"<14>1 - h a - - [origin ip=\"192.0.2.7\"] hello");
        assert_eq!(parse(&left_out).unwrap().message, b"hello");
        assert_eq!(with_origin(b"not syslog", ip), None, "no PRI: left alone");
        assert_eq!(
            with_origin(b"<13>a\n<14>b", ip),
            None,
            "several messages: left alone"
        );
    }
}

//! Headers other than RFC 5424: RFC 3164 as real senders write it, and Cisco's
//! `[SEQ]: [HOST: ][*|.]STAMP[ ZONE]: [HOST ]%FAC-SEV-MNEMONIC: text`. The rules follow what rsyslog's and
//! syslog-ng's parsers accept; where they disagree the choice is documented in docs/records.md.

use super::{stamp, token, Format, Message};

/// The longest tag (app name) and process id read; a longer word is message text.
const MAX_TAG: usize = 128;
const MAX_PID: usize = 128;

pub(super) fn parse<'a>(m: Message<'a>, b: &'a [u8]) -> Message<'a> {
    if let Some((sequence, after)) = sequence(b) {
        if let Some(c) = cisco(&m, sequence, after) {
            return c;
        }
    }
    header(m, b)
}

fn skip_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ').count();
    &b[n..]
}

/// `SEQ: ` (IOS `service sequence-numbers`) or a bare `: ` (NX-OS): the number, if any, and what follows.
fn sequence(b: &[u8]) -> Option<(Option<u64>, &[u8])> {
    let n = b.iter().take(21).take_while(|c| c.is_ascii_digit()).count();
    let after = b[n..].strip_prefix(b": ")?;
    let number = std::str::from_utf8(&b[..n]).ok()?.parse().ok();
    (n == 0 || number.is_some()).then_some((number, after))
}

/// A Cisco stamp: clock flag, the stamp with its zone (`zone` allowed), and the text after `: `.
struct CiscoStamp<'a> {
    flag: Option<char>,
    stamp: &'a [u8],
    rest: &'a [u8],
}

fn cisco_stamp(b: &[u8], zone: bool) -> Option<CiscoStamp<'_>> {
    let (flag, b) = match b.first() {
        Some(b'*') => (Some('*'), &b[1..]),
        Some(b'.') => (Some('.'), &b[1..]),
        _ => (None, b),
    };
    let mut n = stamp::cisco(b)?;
    if zone || flag.is_some() {
        n += stamp::zone(&b[n..]);
    }
    let rest = b[n..].strip_prefix(b":")?;
    Some(CiscoStamp {
        flag,
        stamp: &b[..n],
        rest: rest.strip_prefix(b" ").unwrap_or(rest),
    })
}

/// After `SEQ: `: the stamp, or an origin `HOST: ` and then the stamp.
fn cisco<'a>(base: &Message<'a>, sequence: Option<u64>, b: &'a [u8]) -> Option<Message<'a>> {
    let b = skip_spaces(b);
    let (origin, found) = match cisco_stamp(b, true) {
        Some(s) => (None, s),
        None => {
            let (host, after) = token(b);
            let host = host.strip_suffix(b":").filter(|h| !h.is_empty())?;
            (Some(host), cisco_stamp(after, true)?)
        }
    };
    let mut m = cisco_message(base.clone(), found);
    m.sequence = sequence;
    m.hostname = origin.or(m.hostname);
    Some(m)
}

/// The text after a Cisco stamp; a host name between the stamp and the `%` mnemonic is read as HOSTNAME.
fn cisco_message<'a>(mut m: Message<'a>, s: CiscoStamp<'a>) -> Message<'a> {
    m.format = Format::CiscoIos;
    (m.clock_flag, m.timestamp) = (s.flag, Some(s.stamp));
    let (word, after) = token(s.rest);
    let host = word.strip_suffix(b":").unwrap_or(word);
    if starts_with_mnemonic(after) && is_hostname(host) {
        m.hostname = Some(host);
        m.message = after;
    } else {
        m.message = s.rest;
    }
    m
}

/// `%FAC-SEV-MNEMONIC:` (Cisco), or any word that starts with `%` and ends with `:`.
fn starts_with_mnemonic(b: &[u8]) -> bool {
    let (word, _) = token(b);
    word.len() > 2 && word.first() == Some(&b'%') && word.last() == Some(&b':')
}

/// A header without a sequence number: `[ ]STAMP HOSTNAME TAG: text`, a Cisco `[*|.]STAMP: text`, or no
/// stamp at all (`TAG: text`).
fn header<'a>(m: Message<'a>, b: &'a [u8]) -> Message<'a> {
    let body = skip_spaces(b);
    if matches!(body.first(), Some(b'*' | b'.')) {
        return match cisco_stamp(body, false) {
            Some(s) => cisco_message(m, s),
            None => tagged(m, b),
        };
    }
    // RFC 3339 and BSD stamps start an RFC 3164 header; any Cisco stamp followed by `:` a Cisco one.
    let plain = stamp::rfc3339(body).or_else(|| stamp::bsd(body));
    let any = plain
        .or_else(|| stamp::year_first(body))
        .or_else(|| stamp::uptime(body));
    match any.map(|n| (n, body.get(n))) {
        Some((n, Some(b':'))) => {
            let rest = &body[n + 1..];
            let s = CiscoStamp {
                flag: None,
                stamp: &body[..n],
                rest: rest.strip_prefix(b" ").unwrap_or(rest),
            };
            cisco_message(m, s)
        }
        Some((n, None | Some(b' '))) if plain.is_some() => with_stamp(m, &body[..n], &body[n..]),
        _ => tagged(m, b),
    }
}

fn with_stamp<'a>(mut m: Message<'a>, stamp: &'a [u8], rest: &'a [u8]) -> Message<'a> {
    m.timestamp = Some(stamp);
    host_and_tag(m, skip_spaces(rest))
}

/// What RFC 3164 calls HOSTNAME: a word that is neither a tag (`app:`, `app[pid]`) nor a Cisco mnemonic
/// (`%LINK-3-UPDOWN:`). An IPv6 literal in brackets (`[2001:db8::1]`) is a host name.
fn is_hostname(w: &[u8]) -> bool {
    let bracketed = w.len() > 2 && w.first() == Some(&b'[') && w.last() == Some(&b']');
    !w.is_empty()
        && w.last() != Some(&b':')
        && w.first() != Some(&b'%')
        && (bracketed || !w.contains(&b'['))
}

fn host_and_tag<'a>(mut m: Message<'a>, b: &'a [u8]) -> Message<'a> {
    let (first, after) = token(b);
    if !is_hostname(first) {
        return tagged(m, b);
    }
    m.hostname = Some(first);
    tagged(m, skip_spaces(after))
}

/// `TAG` at the start of `b` sets app and procid; the message is what follows (or all of `b`).
fn tagged<'a>(mut m: Message<'a>, b: &'a [u8]) -> Message<'a> {
    match tag(b) {
        Some((app, pid, text)) => {
            (m.app, m.procid, m.message) = (nonempty(app), pid.and_then(nonempty), text);
        }
        None => m.message = b,
    }
    m
}

fn nonempty(b: &[u8]) -> Option<&[u8]> {
    (!b.is_empty()).then_some(b)
}

/// An RFC 3164 TAG: `app:`, `app[pid]:`, `app[pid]` (then text, as macOS writes `sandboxd[129] ([4242]):`)
/// or an empty `:`, each followed by at most one space. A bare word without `:` or `[pid]` is not a tag
/// (it stays in the message), nor is a word starting with `%`. (app, pid, text).
type Tag<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8]);

fn tag(b: &[u8]) -> Option<Tag<'_>> {
    let end = b
        .iter()
        .take(MAX_TAG + 1)
        .position(|c| matches!(c, b' ' | b':' | b'['))?;
    let app = &b[..end];
    if app.first() == Some(&b'%') {
        return None;
    }
    let after_space = |r: &'_ [u8]| -> usize { usize::from(r.first() == Some(&b' ')) };
    match b[end] {
        b':' => {
            let r = &b[end + 1..];
            Some((app, None, &r[after_space(r)..]))
        }
        b'[' if end > 0 => {
            let inner = &b[end + 1..];
            let close = inner
                .iter()
                .take(MAX_PID + 1)
                .position(|c| matches!(c, b']' | b' ' | b':'))?;
            if inner[close] != b']' {
                return None;
            }
            let r = &inner[close + 1..];
            let r = r.strip_prefix(b":").unwrap_or(r);
            Some((app, Some(&inner[..close]), &r[after_space(r)..]))
        }
        _ => None,
    }
}

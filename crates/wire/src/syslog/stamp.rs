//! Timestamps of syslog headers, recognised by their shape only: each function returns the length of the
//! stamp `b` starts with. Nothing is converted (records keep the stamp as sent), so nothing here allocates or
//! needs a clock.

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `b` starts with `pattern`, where `#` stands for an ASCII digit and every other byte for itself.
fn shape(b: &[u8], pattern: &[u8]) -> bool {
    b.len() >= pattern.len()
        && pattern.iter().zip(b).all(|(p, c)| match p {
            b'#' => c.is_ascii_digit(),
            _ => p == c,
        })
}

fn digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// `.` and at least one digit: its length, else 0.
fn fraction(b: &[u8]) -> usize {
    match (b.first(), digits(b.get(1..).unwrap_or_default())) {
        (Some(b'.'), n) if n > 0 => 1 + n,
        _ => 0,
    }
}

/// RFC 3339, as RFC 5424 and rsyslog's or syslog-ng's forwarding templates write it:
/// `YYYY-MM-DDThh:mm:ss[.frac][Z|±hh:mm]`.
pub(super) fn rfc3339(b: &[u8]) -> Option<usize> {
    if !shape(b, b"####-##-##T##:##:##") {
        return None;
    }
    let n = 19 + fraction(&b[19..]);
    Some(match b.get(n) {
        Some(b'Z') => n + 1,
        Some(b'+' | b'-') if shape(&b[n + 1..], b"##:##") => n + 6,
        _ => n,
    })
}

/// A month abbreviation in any case (`Dec`, `DEC`, `dec`: rsyslog reads them all).
fn month(b: &[u8]) -> bool {
    b.get(..3)
        .is_some_and(|m| MONTHS.iter().any(|name| name.eq_ignore_ascii_case(m)))
}

/// The day of month: ` 7`, `07` or an unpadded `7` (followed by a space): its length.
fn day(b: &[u8]) -> Option<usize> {
    match b {
        [b' ', d, ..] if d.is_ascii_digit() => Some(2),
        [d1, d2, ..] if d1.is_ascii_digit() && d2.is_ascii_digit() => Some(2),
        [d, b' ', ..] if d.is_ascii_digit() => Some(1),
        _ => None,
    }
}

/// `hh:mm:ss[.frac]`.
fn clock(b: &[u8]) -> Option<usize> {
    shape(b, b"##:##:##").then(|| 8 + fraction(&b[8..]))
}

/// `Mmm d` then a space: the length up to and including that space.
fn month_day(b: &[u8]) -> Option<usize> {
    if !month(b) || b.get(3) != Some(&b' ') {
        return None;
    }
    let n = 4 + day(&b[4..])?;
    (b.get(n) == Some(&b' ')).then_some(n + 1)
}

/// The BSD stamp and the variants devices send: `Mmm dd hh:mm:ss[.frac]` (RFC 3164, day space- or
/// zero-padded or not padded at all), with the year inside (`Mmm dd YYYY hh:mm:ss`, Cisco ASA and IOS
/// `year`) or after it (`Mmm dd hh:mm:ss YYYY`, H3C/HP Comware, Linksys: only when a space follows, as
/// syslog-ng reads it).
pub(super) fn bsd(b: &[u8]) -> Option<usize> {
    let mut n = month_day(b)?;
    if shape(&b[n..], b"#### ") {
        n += 5;
    }
    n += clock(&b[n..])?;
    if shape(&b[n..], b" #### ") {
        n += 5;
    }
    Some(n)
}

/// Cisco NX-OS: `YYYY Mmm dd hh:mm:ss[.frac]`.
pub(super) fn year_first(b: &[u8]) -> Option<usize> {
    if !shape(b, b"#### ") {
        return None;
    }
    let n = 5 + month_day(&b[5..])?;
    Some(n + clock(&b[n..])?)
}

/// Cisco `service timestamps log uptime`: `hh:mm:ss` (hours unbounded) or `1d02h`, `3w2d`, `2y10w`.
pub(super) fn uptime(b: &[u8]) -> Option<usize> {
    let h = digits(b);
    if h > 0 && shape(&b[h..], b":##:##") {
        return Some(h + 6);
    }
    let unit = |c: Option<&u8>| matches!(c, Some(b'y' | b'w' | b'd' | b'h'));
    let m = digits(b.get(h + 1..).unwrap_or_default());
    (h > 0 && unit(b.get(h)) && m > 0 && unit(b.get(h + 1 + m))).then_some(h + m + 2)
}

/// Any stamp a Cisco header may carry before its `:`.
pub(super) fn cisco(b: &[u8]) -> Option<usize> {
    year_first(b)
        .or_else(|| bsd(b))
        .or_else(|| rfc3339(b))
        .or_else(|| uptime(b))
}

/// The longest time-zone name a Cisco stamp is followed by (`CET`, `UTC`, `NewYork`).
const MAX_ZONE: usize = 32;

/// ` ZONE` before the `:` that ends a Cisco stamp: its length (with the space), else 0. A zone holds a
/// letter and only letters, digits, `+`, `-`, `_` or `/`.
pub(super) fn zone(b: &[u8]) -> usize {
    let Some(rest) = b.strip_prefix(b" ") else {
        return 0;
    };
    let n = rest
        .iter()
        .take(MAX_ZONE + 1)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'_' | b'/'))
        .count();
    let word = &rest[..n];
    let ok =
        n <= MAX_ZONE && rest.get(n) == Some(&b':') && word.iter().any(u8::is_ascii_alphabetic);
    if ok {
        1 + n
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shape_and_its_length() {
        let len = |f: fn(&[u8]) -> Option<usize>, s: &str| f(s.as_bytes());
        assert_eq!(len(rfc3339, "2026-12-07T08:15:02.123+01:00 h"), Some(29));
        assert_eq!(len(rfc3339, "2026-12-07T08:15:02Z"), Some(20));
        assert_eq!(len(rfc3339, "2026-12-07T08:15:02"), Some(19));
        assert_eq!(len(rfc3339, "2026-12-07 08:15:02"), None);
        assert_eq!(len(bsd, "Dec  7 08:15:02 host"), Some(15));
        assert_eq!(len(bsd, "Dec 07 08:15:02.123456 host"), Some(22));
        assert_eq!(len(bsd, "DEC  7 08:15:02 h"), Some(15));
        assert_eq!(len(bsd, "dec  7 08:15:02 h"), Some(15));
        assert_eq!(len(bsd, "Dec 7 08:15:02 h"), Some(14));
        assert_eq!(len(bsd, "Dec  7 2026 08:15:02 h"), Some(20));
        assert_eq!(len(bsd, "Dec 7 2026 08:15:02: %ASA"), Some(19));
        assert_eq!(len(bsd, "Dec  7 08:15:02 2026 h"), Some(20));
        assert_eq!(
            len(bsd, "Dec  7 08:15:02 2026"),
            Some(15),
            "a year needs a space after it"
        );
        assert_eq!(len(bsd, "Dec  7 08:15:0"), None);
        assert_eq!(len(bsd, "Dex  7 08:15:02"), None);
        assert_eq!(len(bsd, "Dec  x 08:15:02"), None);
        assert_eq!(len(year_first, "2017 Mar 06 09:22:34 CET:"), Some(20));
        assert_eq!(len(year_first, "2017 Mar 06 09:22:34.5:"), Some(22));
        assert_eq!(len(uptime, "00:20:10: %SYS"), Some(8));
        assert_eq!(len(uptime, "123:20:10:"), Some(9));
        assert_eq!(len(uptime, "1d02h: %SYS"), Some(5));
        assert_eq!(len(uptime, "2y10w:"), Some(5));
        assert_eq!(len(uptime, "12: x"), None);
        assert_eq!(len(uptime, "1d"), None);
        assert_eq!(zone(b" CET: x"), 4);
        assert_eq!(zone(b" NewYork:"), 8);
        assert_eq!(zone(b" 2026:"), 0, "a zone has a letter");
        assert_eq!(zone(b" host app: x"), 0);
        assert_eq!(zone(b": x"), 0);
        for hostile in [
            "", "D", "Dec", "Dec ", "Dec  ", "Dec  7", "Dec  7 ", "2017", "2017 ", "1", "1d0",
        ] {
            for f in [rfc3339, bsd, year_first, uptime, cisco] {
                assert_eq!(f(hostile.as_bytes()), None, "{hostile:?}");
            }
        }
    }
}

//! Calendar formatting of Unix times (UTC) as syslog timestamps, without a date crate: the generator writes
//! them into messages and the record decoder prints the time a datagram was received.

/// (year, month 1..=12, day, hour, minute, second, microsecond) of a Unix time in nanoseconds.
pub fn civil(ns: u64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = (ns / 1_000_000_000) as i64;
    let micros = ((ns / 1000) % 1_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Days to civil date (proleptic Gregorian), after H. Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        micros,
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Mmm dd hh:mm:ss` (RFC 3164, day space-padded).
pub fn rfc3164(ns: u64) -> String {
    let (_, mo, d, h, mi, s, _) = civil(ns);
    format!("{} {d:>2} {h:02}:{mi:02}:{s:02}", MONTHS[(mo - 1) as usize])
}

/// `Mmm dd hh:mm:ss.mmm` (Cisco IOS with `service timestamps log datetime msec`).
pub fn rfc3164_millis(ns: u64) -> String {
    let (_, _, _, _, _, _, us) = civil(ns);
    format!("{}.{:03}", rfc3164(ns), us / 1000)
}

/// `yyyy-mm-ddThh:mm:ss.uuuuuuZ` (RFC 5424).
pub fn rfc5424(ns: u64) -> String {
    let (y, mo, d, h, mi, s, us) = civil(ns);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc5424(0), "1970-01-01T00:00:00.000000Z");
        // 2026-11-26T08:37:46.5Z
        assert_eq!(
            rfc5424(1_795_682_266_500_000_000),
            "2026-11-26T08:37:46.500000Z"
        );
        assert_eq!(rfc3164(1_795_682_266_500_000_000), "Nov 26 08:37:46");
        // 2024-02-29 (leap day)
        assert_eq!(
            rfc5424(1_709_164_800_000_000_000),
            "2024-02-29T00:00:00.000000Z"
        );
        assert_eq!(rfc3164(1_709_164_800_000_000_000), "Feb 29 00:00:00");
    }
}

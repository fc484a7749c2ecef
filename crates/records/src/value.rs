//! Field values of template-based flow records, and the ordered name → value map they are printed as.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::ser::{Serialize, SerializeMap, Serializer};
use wire::netflow::ie::DataType;
use wire::netflow::uint;

/// One decoded field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    Ip(IpAddr),
    /// `aa:bb:cc:dd:ee:ff`
    Mac(String),
    Text(String),
    /// A point in time, printed as RFC 3339 UTC.
    Time(Time),
    /// Bytes without a known meaning, as lowercase hex.
    Hex(String),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Unsigned(n) => s.serialize_u64(*n),
            Value::Signed(n) => s.serialize_i64(*n),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Bool(b) => s.serialize_bool(*b),
            // serde writes addresses through a stack buffer; `collect_str` would go through fmt and escaping
            Value::Ip(a) => a.serialize(s),
            Value::Time(t) => s.serialize_str(t.text().as_str()),
            Value::Mac(t) | Value::Text(t) | Value::Hex(t) => s.serialize_str(t),
        }
    }
}

/// Seconds since 1970 with a fraction, and how many fraction digits the element's type carries (0, 3, 6, 9).
/// Kept as numbers and formatted only when printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    unix_secs: u64,
    nanos: u32,
    digits: u8,
}

/// The last second `wire::timefmt::civil` can take (it counts in u64 nanoseconds): 2554-07-21.
const LAST_UNIX_SECOND: u64 = u64::MAX / 1_000_000_000 - 1;
/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const NTP_TO_UNIX: u64 = 2_208_988_800;

impl Time {
    fn new(unix_secs: u64, nanos: u32, digits: u8) -> Option<Time> {
        (unix_secs <= LAST_UNIX_SECOND).then_some(Time {
            unix_secs,
            nanos,
            digits,
        })
    }

    /// dateTimeSeconds: seconds since 1970.
    fn seconds(n: u64) -> Option<Time> {
        Time::new(n, 0, 0)
    }

    /// dateTimeMilliseconds: milliseconds since 1970.
    fn milliseconds(n: u64) -> Option<Time> {
        Time::new(n / 1000, (n % 1000) as u32 * 1_000_000, 3)
    }

    /// dateTimeMicroseconds/Nanoseconds (RFC 7011 §6.1.9–10): NTP format, seconds since 1900 in the high 32
    /// bits and a binary fraction of a second in the low 32. For microseconds the low 11 bits of the fraction
    /// are to be ignored. The fraction is rounded to the nearest unit; a time before 1970 is not printed as one.
    fn ntp(n: u64, digits: u8) -> Option<Time> {
        let unix_secs = (n >> 32).checked_sub(NTP_TO_UNIX)?;
        let frac = match digits {
            6 => n & 0xffff_f800,
            _ => n & 0xffff_ffff,
        };
        let unit = 10u64.pow(9 - u32::from(digits));
        let units = (frac * (1_000_000_000 / unit) + (1 << 31)) >> 32;
        // rounding up the last unit of a second carries into the next second
        let (carry, units) = (
            units / (1_000_000_000 / unit),
            units % (1_000_000_000 / unit),
        );
        Time::new(unix_secs + carry, (units * unit) as u32, digits)
    }
}

impl Time {
    /// Milliseconds since 1970 (for durations: a flow's end minus its start).
    pub fn unix_ms(&self) -> u64 {
        self.unix_secs * 1000 + u64::from(self.nanos / 1_000_000)
    }

    /// `yyyy-mm-ddThh:mm:ss[.fff…]Z` in a stack buffer: printing times is on the JSON path of every flow that
    /// carries them, where `fmt` machinery and an escaping adapter cost more than the digits.
    fn text(&self) -> TimeText {
        let (y, mo, d, h, mi, s, _) = wire::timefmt::civil(self.unix_secs * 1_000_000_000);
        let mut t = TimeText {
            buf: *b"0000-00-00T00:00:00.000000000Z",
            len: 0,
        };
        let b = &mut t.buf;
        put_date_time(b, (y, mo, d, h, mi, s));
        let digits = usize::from(self.digits.min(9));
        let mut end = 19;
        if digits > 0 {
            let frac = self.nanos / 10u32.pow(9 - digits as u32);
            put_digits(&mut b[20..20 + digits], u64::from(frac));
            end = 20 + digits;
        }
        b[end] = b'Z';
        t.len = end + 1;
        t
    }
}

/// The text of a [`Time`]: at most 30 ASCII bytes.
struct TimeText {
    buf: [u8; 30],
    len: usize,
}

impl TimeText {
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// Writes `yyyy-mm-ddThh:mm:ss` digits into the first 19 bytes of `out`, whose separators are already there.
pub(crate) fn put_date_time(out: &mut [u8], (y, mo, d, h, mi, s): (i64, u32, u32, u32, u32, u32)) {
    put_digits(&mut out[0..4], y as u64);
    for (at, v) in [(5, mo), (8, d), (11, h), (14, mi), (17, s)] {
        put_digits(&mut out[at..at + 2], u64::from(v));
    }
}

/// Writes `v` in decimal into `out`, zero-padded to its length (higher digits dropped).
pub(crate) fn put_digits(out: &mut [u8], mut v: u64) {
    for c in out.iter_mut().rev() {
        *c = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 0xf)]));
    }
    s
}

pub fn mac(b: &[u8; 6]) -> String {
    let [a, b_, c, d, e, f] = *b;
    format!("{a:02x}:{b_:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// Reads `v` as its element's abstract data type `t`. Integers and floats may come in reduced-size encoding
/// (RFC 7011 §6.2). Bytes whose length does not fit the type are kept as hex; so are octet arrays, 256-bit
/// flags and structured data (lists), whose inner records this decoder does not walk.
pub fn read(t: DataType, v: &[u8]) -> Value {
    let typed = match t {
        DataType::Unsigned8
        | DataType::Unsigned16
        | DataType::Unsigned32
        | DataType::Unsigned64 => uint(v).map(Value::Unsigned),
        DataType::Signed8 | DataType::Signed16 | DataType::Signed32 | DataType::Signed64 => {
            int(v).map(Value::Signed)
        }
        DataType::Float32 | DataType::Float64 => float(v).map(Value::Float),
        DataType::Boolean => uint(v).map(boolean),
        DataType::Ipv4Address => <[u8; 4]>::try_from(v)
            .ok()
            .map(|a| Value::Ip(Ipv4Addr::from(a).into())),
        DataType::Ipv6Address => <[u8; 16]>::try_from(v)
            .ok()
            .map(|a| Value::Ip(Ipv6Addr::from(a).into())),
        DataType::MacAddress => <[u8; 6]>::try_from(v).ok().map(|a| Value::Mac(mac(&a))),
        DataType::String => Some(Value::Text(text(v))),
        DataType::DateTimeSeconds => uint(v).map(|n| time(n, Time::seconds(n))),
        DataType::DateTimeMilliseconds => uint(v).map(|n| time(n, Time::milliseconds(n))),
        DataType::DateTimeMicroseconds => ntp64(v).map(|n| time(n, Time::ntp(n, 6))),
        DataType::DateTimeNanoseconds => ntp64(v).map(|n| time(n, Time::ntp(n, 9))),
        DataType::OctetArray
        | DataType::Unsigned256
        | DataType::BasicList
        | DataType::SubTemplateList
        | DataType::SubTemplateMultiList => None,
    };
    typed.unwrap_or_else(|| Value::Hex(hex(v)))
}

/// RFC 7011 §6.1.5: 1 is true, 2 is false; any other value is kept as the number it is.
fn boolean(n: u64) -> Value {
    match n {
        1 => Value::Bool(true),
        2 => Value::Bool(false),
        n => Value::Unsigned(n),
    }
}

/// A time, or the number it was sent as when it falls outside what RFC 3339 printing here covers.
fn time(raw: u64, t: Option<Time>) -> Value {
    t.map_or(Value::Unsigned(raw), Value::Time)
}

/// NTP timestamps have no reduced-size encoding: exactly 8 bytes.
fn ntp64(v: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes)
}

/// Big-endian two's complement of 1..=8 bytes, sign-extended (reduced-size encoding keeps the sign bit).
fn int(v: &[u8]) -> Option<i64> {
    let n = uint(v)?;
    let unused = 64 - 8 * v.len() as u32;
    Some(((n << unused) as i64) >> unused)
}

fn float(v: &[u8]) -> Option<f64> {
    match v.len() {
        4 => Some(f64::from(f32::from_be_bytes(v.try_into().ok()?))),
        8 => Some(f64::from_be_bytes(v.try_into().ok()?)),
        _ => None,
    }
}

/// UTF-8 text with invalid sequences replaced and trailing NULs dropped.
pub fn text(v: &[u8]) -> String {
    let end = v.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    crate::syslog::owned_text(&v[..end])
}

/// Named values in template order, printed as a JSON object. A name that repeats gets `#2`, `#3`...
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Vec<(Cow<'static, str>, Value)>);

impl Fields {
    pub fn push(&mut self, name: Cow<'static, str>, v: Value) {
        let taken = |n: &str| self.0.iter().any(|(k, _)| k == n);
        let name = match taken(&name) {
            false => name,
            true => (2..)
                .map(|i| format!("{name}#{i}"))
                .find(|n| !taken(n))
                .map(Cow::Owned)
                .unwrap_or(name),
        };
        self.0.push((name, v));
    }

    /// Adds a value whose name is known not to be there yet.
    pub fn push_new(&mut self, name: Cow<'static, str>, v: Value) {
        self.0.push((name, v));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_by_type_and_fallback_to_hex() {
        assert_eq!(read(DataType::Unsigned64, &[1, 0]), Value::Unsigned(256));
        assert_eq!(
            read(DataType::Ipv4Address, &[10, 0, 0, 1]),
            Value::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            read(DataType::Ipv4Address, &[10, 0, 0]),
            Value::Hex("0a0000".into())
        );
        assert_eq!(
            read(DataType::MacAddress, &[0, 1, 2, 3, 4, 0xff]),
            Value::Mac("00:01:02:03:04:ff".into())
        );
        assert_eq!(
            read(DataType::String, b"eth0\0\0"),
            Value::Text("eth0".into())
        );
        assert_eq!(
            read(DataType::String, b"caf\xc3 x"),
            Value::Text("caf\u{fffd} x".into()),
            "invalid UTF-8 is replaced, not dropped"
        );
        assert_eq!(
            read(DataType::Unsigned32, &[0; 9]),
            Value::Hex("000000000000000000".into())
        );
        assert_eq!(
            read(DataType::OctetArray, &[0x12, 0x34]),
            Value::Hex("1234".into())
        );
        assert_eq!(
            read(DataType::SubTemplateList, &[0xff, 1, 0]),
            Value::Hex("ff0100".into())
        );
        assert_eq!(read(DataType::Unsigned256, &[1]), Value::Hex("01".into()));
    }

    #[test]
    fn signed_floats_and_booleans() {
        assert_eq!(read(DataType::Signed32, &[0xff, 0xfe]), Value::Signed(-2));
        assert_eq!(
            read(DataType::Signed32, &[0x7f, 0xfe]),
            Value::Signed(0x7ffe)
        );
        assert_eq!(
            read(DataType::Signed64, &[0x80, 0, 0, 0, 0, 0, 0, 0]),
            Value::Signed(i64::MIN)
        );
        assert_eq!(
            read(DataType::Float64, &1.5f32.to_be_bytes()),
            Value::Float(1.5)
        );
        assert_eq!(
            read(DataType::Float32, &[0; 3]),
            Value::Hex("000000".into())
        );
        assert_eq!(read(DataType::Boolean, &[1]), Value::Bool(true));
        assert_eq!(read(DataType::Boolean, &[2]), Value::Bool(false));
        assert_eq!(read(DataType::Boolean, &[0]), Value::Unsigned(0));
        let json = |v: Value| serde_json::to_string(&v).unwrap();
        assert_eq!(json(read(DataType::Boolean, &[2])), "false");
        assert_eq!(json(read(DataType::Signed8, &[0x80])), "-128");
    }

    fn printed(t: DataType, v: &[u8]) -> String {
        serde_json::to_string(&read(t, v)).unwrap()
    }

    #[test]
    fn times_are_rfc3339_utc() {
        // 2026-12-07T08:15:02Z is 1796631302 s after 1970, 4005620102 s after 1900
        let secs: u32 = 1_796_631_302;
        assert_eq!(
            printed(DataType::DateTimeSeconds, &secs.to_be_bytes()),
            r#""2026-12-07T08:15:02Z""#
        );
        let ms = u64::from(secs) * 1000 + 123;
        assert_eq!(
            printed(DataType::DateTimeMilliseconds, &ms.to_be_bytes()),
            r#""2026-12-07T08:15:02.123Z""#
        );
        // reduced-size milliseconds (6 bytes hold them until the year 10889)
        assert_eq!(
            printed(DataType::DateTimeMilliseconds, &ms.to_be_bytes()[2..]),
            r#""2026-12-07T08:15:02.123Z""#
        );
        let ntp_secs = u64::from(secs) + NTP_TO_UNIX;
        // 0.5 s exactly
        let half = ntp_secs << 32 | 0x8000_0000;
        assert_eq!(
            printed(DataType::DateTimeNanoseconds, &half.to_be_bytes()),
            r#""2026-12-07T08:15:02.500000000Z""#
        );
        // 123456789 ns as an exporter writes it: ns * 2^32 / 10^9, truncated
        let frac = (123_456_789u64 << 32) / 1_000_000_000;
        assert_eq!(
            printed(
                DataType::DateTimeNanoseconds,
                &(ntp_secs << 32 | frac).to_be_bytes()
            ),
            r#""2026-12-07T08:15:02.123456789Z""#
        );
        let frac = (123_456u64 << 32) / 1_000_000;
        assert_eq!(
            printed(
                DataType::DateTimeMicroseconds,
                &(ntp_secs << 32 | frac).to_be_bytes()
            ),
            r#""2026-12-07T08:15:02.123456Z""#
        );
        // the low 11 bits of a microsecond fraction are ignored
        assert_eq!(
            printed(
                DataType::DateTimeMicroseconds,
                &(ntp_secs << 32 | frac | 0x7ff).to_be_bytes()
            ),
            r#""2026-12-07T08:15:02.123456Z""#
        );
        // a fraction that rounds up to the next second carries
        assert_eq!(
            printed(
                DataType::DateTimeNanoseconds,
                &(ntp_secs << 32 | 0xffff_ffff).to_be_bytes()
            ),
            r#""2026-12-07T08:15:03.000000000Z""#
        );
    }

    #[test]
    fn times_out_of_range_stay_numbers_and_bad_lengths_hex() {
        // NTP 0 (an exporter's "unset") is 1900, before what is printed as a time
        assert_eq!(
            read(DataType::DateTimeMicroseconds, &[0; 8]),
            Value::Unsigned(0)
        );
        assert_eq!(
            read(DataType::DateTimeMilliseconds, &[0xff; 8]),
            Value::Unsigned(u64::MAX)
        );
        assert_eq!(
            read(DataType::DateTimeNanoseconds, &[1, 2, 3, 4]),
            Value::Hex("01020304".into())
        );
        assert_eq!(
            printed(DataType::DateTimeSeconds, &[0; 4]),
            r#""1970-01-01T00:00:00Z""#
        );
    }

    #[test]
    fn repeated_names_are_numbered() {
        let mut f = Fields::default();
        f.push("a".into(), Value::Unsigned(1));
        f.push("a".into(), Value::Unsigned(2));
        f.push("a".into(), Value::Unsigned(3));
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"a":1,"a#2":2,"a#3":3}"#
        );
    }
}

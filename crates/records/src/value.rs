//! Field values of template-based flow records, and the ordered name → value map they are printed as.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::ser::{Serialize, SerializeMap, Serializer};
use wire::netflow::ie::ValueType;

/// One decoded field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Unsigned(u64),
    Float(f64),
    Ip(IpAddr),
    /// `aa:bb:cc:dd:ee:ff`
    Mac(String),
    Text(String),
    /// Bytes without a known meaning, as lowercase hex.
    Hex(String),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Unsigned(n) => s.serialize_u64(*n),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Ip(a) => s.collect_str(a),
            Value::Mac(t) | Value::Text(t) | Value::Hex(t) => s.serialize_str(t),
        }
    }
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    b.iter().for_each(|x| {
        let _ = write!(s, "{x:02x}");
    });
    s
}

pub fn mac(b: &[u8; 6]) -> String {
    let [a, b_, c, d, e, f] = *b;
    format!("{a:02x}:{b_:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// Reads `v` as `t`; bytes whose length does not fit the type are kept as hex.
pub fn read(t: ValueType, v: &[u8]) -> Value {
    let typed = match t {
        ValueType::Unsigned => wire::netflow::uint(v).map(Value::Unsigned),
        ValueType::Ipv4 => <[u8; 4]>::try_from(v)
            .ok()
            .map(|a| Value::Ip(Ipv4Addr::from(a).into())),
        ValueType::Ipv6 => <[u8; 16]>::try_from(v)
            .ok()
            .map(|a| Value::Ip(Ipv6Addr::from(a).into())),
        ValueType::Mac => <[u8; 6]>::try_from(v).ok().map(|a| Value::Mac(mac(&a))),
        ValueType::Text => Some(Value::Text(text(v))),
        ValueType::Float => float(v).map(Value::Float),
        ValueType::Octets => None,
    };
    typed.unwrap_or_else(|| Value::Hex(hex(v)))
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
    String::from_utf8_lossy(&v[..end]).into_owned()
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
        assert_eq!(read(ValueType::Unsigned, &[1, 0]), Value::Unsigned(256));
        assert_eq!(
            read(ValueType::Ipv4, &[10, 0, 0, 1]),
            Value::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            read(ValueType::Ipv4, &[10, 0, 0]),
            Value::Hex("0a0000".into())
        );
        assert_eq!(
            read(ValueType::Mac, &[0, 1, 2, 3, 4, 0xff]),
            Value::Mac("00:01:02:03:04:ff".into())
        );
        assert_eq!(
            read(ValueType::Text, b"eth0\0\0"),
            Value::Text("eth0".into())
        );
        assert_eq!(
            read(ValueType::Unsigned, &[0; 9]),
            Value::Hex("000000000000000000".into())
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

//! OBJECT IDENTIFIER values: decoded from BER with every sub-identifier checked, shown as dotted decimal.

use std::fmt;
use std::str::FromStr;

use super::ber::Tlv;
use crate::error::WireError;

/// net-snmp's MAX_OID_LEN: no MIB object needs more arcs.
pub const MAX_ARCS: usize = 128;
/// A sub-identifier of at most 32 bits takes at most five base-128 digits.
const MAX_SUBID_BYTES: usize = 5;

/// An object identifier of 2 to [`MAX_ARCS`] arcs, each a `u32`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(Vec<u32>);

/// A dotted-decimal string that is not an OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an OID (dotted decimal, 2 to 128 arcs of at most 2^32-1, first arc 0..2)")]
pub struct OidParseError;

impl Oid {
    /// `None` if there are fewer than two arcs or more than [`MAX_ARCS`], or if the first two cannot be
    /// encoded (the first arc is 0, 1 or 2; under 0 and 1 the second is below 40).
    pub fn new(arcs: Vec<u32>) -> Option<Self> {
        let ok_first = match arcs.as_slice() {
            [0 | 1, second, ..] => *second < 40,
            [2, second, ..] => *second <= u32::MAX - 80,
            _ => false,
        };
        (ok_first && arcs.len() <= MAX_ARCS).then_some(Self(arcs))
    }

    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// This OID followed by `more`, or `None` past [`MAX_ARCS`].
    pub fn extended(&self, more: &[u32]) -> Option<Self> {
        Self::new([self.0.as_slice(), more].concat())
    }

    /// Decodes the contents of an OBJECT IDENTIFIER element.
    pub(crate) fn decode(t: &Tlv) -> Result<Self, WireError> {
        if t.value.is_empty() {
            return Err(t.err("snmp: empty OID"));
        }
        let mut arcs = Vec::with_capacity(t.value.len().min(MAX_ARCS) + 1);
        let mut rest = t.value;
        while !rest.is_empty() {
            let at = t.at + t.value.len() - rest.len();
            let (sub, used) = subidentifier(rest).map_err(|what| WireError::new(what, at))?;
            push_arcs(&mut arcs, sub).ok_or(WireError::new("snmp: OID of over 128 arcs", at))?;
            rest = rest.get(used..).unwrap_or_default();
        }
        Ok(Self(arcs))
    }
}

/// One base-128 sub-identifier at the start of `b`: its value and how many bytes it took.
fn subidentifier(b: &[u8]) -> Result<(u32, usize), &'static str> {
    if b.first() == Some(&0x80) {
        return Err("snmp: OID sub-identifier with a leading zero digit");
    }
    let mut value = 0u64;
    for (i, &d) in b.iter().take(MAX_SUBID_BYTES).enumerate() {
        value = (value << 7) | u64::from(d & 0x7f);
        if d & 0x80 == 0 {
            let v = u32::try_from(value).map_err(|_| "snmp: OID arc above 2^32-1")?;
            return Ok((v, i + 1));
        }
    }
    match b.len() > MAX_SUBID_BYTES {
        true => Err("snmp: OID arc above 2^32-1"),
        false => Err("snmp: OID ends inside a sub-identifier"),
    }
}

/// Appends one sub-identifier; the first one holds the first two arcs (X * 40 + Y). `None` when full.
fn push_arcs(arcs: &mut Vec<u32>, sub: u32) -> Option<()> {
    if arcs.len() >= MAX_ARCS {
        return None;
    }
    if !arcs.is_empty() {
        arcs.push(sub);
        return Some(());
    }
    let first = (sub / 40).min(2);
    arcs.extend([first, sub - first * 40]);
    Some(())
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for arc in &self.0 {
            write!(f, "{sep}{arc}")?;
            sep = ".";
        }
        Ok(())
    }
}

impl FromStr for Oid {
    type Err = OidParseError;

    /// `1.3.6.1.2.1.1.3.0`; a leading dot is accepted, as net-snmp prints it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix('.').unwrap_or(s);
        let arcs = s
            .split('.')
            .take(MAX_ARCS + 1)
            .map(|a| a.parse::<u32>().map_err(|_| OidParseError))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(arcs).ok_or(OidParseError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: &[u8]) -> Result<Oid, WireError> {
        Oid::decode(&Tlv {
            tag: 0x06,
            value: v,
            at: 100,
        })
    }

    #[test]
    fn decodes_and_prints_dotted_decimal() {
        let o = decode(&[0x2b, 6, 1, 6, 3, 1, 1, 5, 3]).unwrap();
        assert_eq!(o.to_string(), "1.3.6.1.6.3.1.1.5.3");
        assert_eq!(o, "1.3.6.1.6.3.1.1.5.3".parse().unwrap());
        let big = decode(&[0x2b, 6, 1, 4, 1, 0xbf, 0x08, 0x8f, 0xff, 0xff, 0xff, 0x7f]).unwrap();
        assert_eq!(big.to_string(), "1.3.6.1.4.1.8072.4294967295");
        assert_eq!(decode(&[0x00]).unwrap().to_string(), "0.0");
        assert_eq!(decode(&[0x88, 0x37, 0x03]).unwrap().to_string(), "2.999.3");
        assert_eq!(".1.3.6".parse::<Oid>().unwrap().arcs(), &[1, 3, 6]);
    }

    #[test]
    fn rejects_bad_encodings_with_offsets() {
        assert_eq!(decode(&[]), Err(WireError::new("snmp: empty OID", 100)));
        assert_eq!(
            decode(&[0x2b, 0x80, 0x01]),
            Err(WireError::new(
                "snmp: OID sub-identifier with a leading zero digit",
                101
            ))
        );
        assert_eq!(
            decode(&[0x2b, 0x86]).unwrap_err().what,
            "snmp: OID ends inside a sub-identifier"
        );
        assert_eq!(
            decode(&[0x2b, 0x90, 0x80, 0x80, 0x80, 0x00])
                .unwrap_err()
                .what,
            "snmp: OID arc above 2^32-1"
        );
        assert_eq!(
            decode(&[0x2b, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00])
                .unwrap_err()
                .what,
            "snmp: OID arc above 2^32-1"
        );
        let mut long = vec![0x2b];
        long.extend([1u8; 126]);
        assert_eq!(decode(&long).unwrap().arcs().len(), 128);
        long.push(1);
        assert_eq!(
            decode(&long).unwrap_err(),
            WireError::new("snmp: OID of over 128 arcs", 227)
        );
    }

    #[test]
    fn constructors_check_the_arcs() {
        assert!(Oid::new(vec![1]).is_none());
        assert!(Oid::new(vec![3, 1]).is_none());
        assert!(Oid::new(vec![1, 40]).is_none());
        assert!(Oid::new(vec![1; 129]).is_none());
        assert!("1.3.x".parse::<Oid>().is_err());
        assert!("1..3".parse::<Oid>().is_err());
        assert!("".parse::<Oid>().is_err());
        let o: Oid = "1.3.6".parse().unwrap();
        assert_eq!(o.extended(&[0, 7]).unwrap().to_string(), "1.3.6.0.7");
        assert!(Oid::new(vec![1; 128]).unwrap().extended(&[1]).is_none());
    }
}

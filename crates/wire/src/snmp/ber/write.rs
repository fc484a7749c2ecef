//! Writing BER: what a relay's rewrites (`snmp::rewrite`) and the traffic generator encode. Lengths are
//! definite and in their shortest form (as DER has them), which every BER reader accepts.

use super::tag::{OBJECT_ID, SEQUENCE};

/// A length's encoding: up to one byte of form and eight of length. Returns the bytes and how many are used.
fn encode_length(len: usize) -> ([u8; 9], usize) {
    let mut out = [0u8; 9];
    if len < 0x80 {
        out[0] = len as u8;
        return (out, 1);
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let n = bytes.len() - skip;
    out[0] = 0x80 | n as u8;
    out[1..=n].copy_from_slice(&bytes[skip..]);
    (out, 1 + n)
}

/// Appends a definite length: the short form below 128, else the long form with as few bytes as it needs.
pub fn length(out: &mut Vec<u8>, len: usize) {
    let (bytes, n) = encode_length(len);
    out.extend_from_slice(&bytes[..n]);
}

/// Appends an element whose contents are `value`.
pub fn tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    length(out, value.len());
    out.extend_from_slice(value);
}

/// Appends an element whose contents `content` writes into the buffer. The length goes in front afterwards,
/// so nested elements need no buffer of their own; only a length of 128 or more moves the contents.
pub fn nested(out: &mut Vec<u8>, tag: u8, content: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    out.push(0); // the short form's one byte; the long form's other bytes are inserted after it
    let start = out.len();
    content(out);
    let (bytes, n) = encode_length(out.len() - start);
    out[start - 1] = bytes[0];
    out.splice(start..start, bytes[1..n].iter().copied());
}

/// A leading byte of a two's complement number that only repeats the sign of the next one.
fn redundant(b: u8, next: u8) -> bool {
    (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0)
}

/// Appends a signed INTEGER, or an application type with its encoding, in the fewest bytes.
pub fn integer(out: &mut Vec<u8>, tag: u8, v: i64) {
    let bytes = v.to_be_bytes();
    let skip = bytes
        .windows(2)
        .take_while(|w| redundant(w[0], w[1]))
        .count();
    tlv(out, tag, &bytes[skip..]);
}

/// Appends a non-negative integer type (Counter32, Gauge32, TimeTicks, Counter64): big-endian, minimal, with
/// a leading zero byte when the top bit is set (which would otherwise read as negative).
pub fn unsigned(out: &mut Vec<u8>, tag: u8, v: u64) {
    let mut bytes = [0u8; 9];
    bytes[1..].copy_from_slice(&v.to_be_bytes());
    let zeros = bytes.iter().take_while(|&&b| b == 0).count().min(8);
    // bytes[0] is zero, so a first significant byte with its top bit set always has a zero before it.
    let skip = match bytes[zeros] & 0x80 {
        0 => zeros,
        _ => zeros - 1,
    };
    tlv(out, tag, &bytes[skip..]);
}

/// One sub-identifier in base 128, most significant group first, the high bit set on all but the last.
fn base128(out: &mut Vec<u8>, v: u64) {
    let groups = (u64::BITS - v.leading_zeros()).div_ceil(7).max(1);
    for i in (0..groups).rev() {
        let more = if i > 0 { 0x80 } else { 0 };
        out.push(((v >> (7 * i)) & 0x7f) as u8 | more);
    }
}

/// Appends the contents of an OBJECT IDENTIFIER: the first two arcs as one sub-identifier (X.690 8.19), then
/// the others. Fewer than two arcs (not an OID, which [`crate::snmp::Oid`] rules out) write nothing.
pub fn oid_contents(out: &mut Vec<u8>, arcs: &[u32]) {
    let [a, b, rest @ ..] = arcs else {
        return;
    };
    base128(out, u64::from(*a) * 40 + u64::from(*b));
    for &arc in rest {
        base128(out, u64::from(arc));
    }
}

/// Appends an OBJECT IDENTIFIER element.
pub fn oid(out: &mut Vec<u8>, arcs: &[u32]) {
    nested(out, OBJECT_ID, |o| oid_contents(o, arcs));
}

/// Appends a variable binding: `name`, then the value `value` writes.
pub fn varbind(out: &mut Vec<u8>, name: &[u32], value: impl FnOnce(&mut Vec<u8>)) {
    nested(out, SEQUENCE, |vb| {
        oid(vb, name);
        value(vb);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::ber::tag::{COUNTER64, INTEGER, OCTET_STRING};
    use crate::snmp::ber::{signed, unsigned as read_unsigned, Reader};

    fn one(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut o = Vec::new();
        f(&mut o);
        o
    }

    #[test]
    fn lengths_short_and_long() {
        assert_eq!(one(|o| length(o, 0x7f)), [0x7f]);
        assert_eq!(one(|o| length(o, 200)), [0x81, 200]);
        assert_eq!(one(|o| length(o, 300)), [0x82, 0x01, 0x2c]);
        assert_eq!(one(|o| length(o, 70_000)), [0x83, 0x01, 0x11, 0x70]);
        for n in [0, 1, 127, 128, 255, 256, 65_535, 65_536] {
            let value = vec![b'x'; n];
            let nest = one(|o| nested(o, OCTET_STRING, |c| c.extend_from_slice(&value)));
            assert_eq!(nest, one(|o| tlv(o, OCTET_STRING, &value)), "{n}");
            let t = Reader::new(&nest, 0).next().unwrap();
            assert_eq!(t.value.len(), n);
        }
    }

    #[test]
    fn integers_in_the_fewest_bytes() {
        let o = one(|o| {
            integer(o, INTEGER, 0);
            integer(o, INTEGER, 128);
            integer(o, INTEGER, -1);
        });
        assert_eq!(o, [2, 1, 0, 2, 2, 0, 128, 2, 1, 0xff]);
        assert_eq!(one(|o| unsigned(o, INTEGER, 0)), [2, 1, 0]);
        assert_eq!(one(|o| unsigned(o, INTEGER, 0x80)), [2, 2, 0, 0x80]);
        assert_eq!(one(|o| unsigned(o, INTEGER, 0x7fff)), [2, 2, 0x7f, 0xff]);
        for v in [0, 1, -1, 127, 128, -128, -129, i64::MIN, i64::MAX] {
            let o = one(|o| integer(o, INTEGER, v));
            assert_eq!(signed(&Reader::new(&o, 0).next().unwrap()), Ok(v), "{v}");
        }
        for v in [0, 0x80, u64::from(u32::MAX), u64::MAX] {
            let o = one(|o| unsigned(o, COUNTER64, v));
            let t = Reader::new(&o, 0).next().unwrap();
            assert_eq!(read_unsigned(&t, u64::MAX), Ok(v), "{v}");
        }
    }

    #[test]
    fn object_identifiers() {
        assert_eq!(
            one(|o| oid(o, &[1, 3, 6, 1, 4, 1, 8072, 2, 3])),
            [6, 9, 0x2b, 6, 1, 4, 1, 0xbf, 0x08, 2, 3]
        );
        assert_eq!(
            one(|o| oid_contents(o, &[1, 3, 6, 1, 4, 1, 2636])),
            [0x2b, 6, 1, 4, 1, 0x94, 0x4c]
        );
        assert_eq!(one(|o| oid_contents(o, &[2, 999])), [0x88, 0x37]);
        assert_eq!(one(|o| oid_contents(o, &[1, 3, u32::MAX])).len(), 6);
        assert_eq!(one(|o| oid_contents(o, &[1])), []);
    }
}

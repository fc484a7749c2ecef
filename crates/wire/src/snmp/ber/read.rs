//! Reading BER. A [`Reader`] walks the elements of one constructed value; each [`Tlv`] borrows its contents
//! and knows their offset in the datagram, so errors point at the byte.

use super::tag::{INTEGER, OCTET_STRING};
use crate::error::WireError;

/// Long-form lengths beyond four bytes would describe more than any datagram holds.
const MAX_LENGTH_BYTES: usize = 4;
/// The low five bits of a tag all set announce a multi-byte tag, which SNMP never uses.
const HIGH_TAG_NUMBER: u8 = 0x1f;

/// An element's header: its tag, where its contents start (an index into the buffer read) and their length
/// as the header claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub tag: u8,
    pub start: usize,
    pub len: usize,
}

/// The header at `at` of `buf`, without checking that the contents are there: a quick look at the first
/// bytes of a datagram (classification, a Response's request-id), where walking the whole message would
/// cost more than it tells. `None` for a truncated, multi-byte-tag, indefinite or over-long header.
pub fn peek(buf: &[u8], at: usize) -> Option<Header> {
    let mut r = Reader {
        buf,
        pos: at,
        base: 0,
    };
    r.header().ok()
}

/// One element: its tag, its contents, and where the contents start in the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub at: usize,
}

impl<'a> Tlv<'a> {
    /// A reader over the elements this (constructed) element contains.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value, self.at)
    }

    pub fn err(&self, what: &'static str) -> WireError {
        WireError::new(what, self.at)
    }
}

/// Walks consecutive elements of `buf`, which starts at offset `base` of the datagram.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Offset in the datagram of the next element.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn next(&mut self) -> Result<Tlv<'a>, WireError> {
        let h = self.header()?;
        let at = self.offset();
        let value = self
            .buf
            .get(h.start..)
            .and_then(|rest| rest.get(..h.len))
            .ok_or(WireError::new("snmp: element longer than its parent", at))?;
        self.pos += h.len;
        Ok(Tlv {
            tag: h.tag,
            value,
            at,
        })
    }

    /// The next element, which must carry `tag`; `what` names it in the error.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, WireError> {
        let at = self.offset();
        let t = self.next()?;
        if t.tag != tag {
            return Err(WireError::new(what, at));
        }
        Ok(t)
    }

    pub fn integer(&mut self, what: &'static str) -> Result<Tlv<'a>, WireError> {
        self.expect(INTEGER, what)
    }

    pub fn octets(&mut self, what: &'static str) -> Result<Tlv<'a>, WireError> {
        self.expect(OCTET_STRING, what)
    }

    /// Fails if anything follows the last element read.
    pub fn finish(&self, what: &'static str) -> Result<(), WireError> {
        match self.is_empty() {
            true => Ok(()),
            false => Err(WireError::new(what, self.offset())),
        }
    }

    /// Tag and length; leaves the reader at the first byte of the contents.
    fn header(&mut self) -> Result<Header, WireError> {
        let tag = self.tag()?;
        let len = self.length()?;
        Ok(Header {
            tag,
            start: self.pos,
            len,
        })
    }

    fn byte(&mut self) -> Result<u8, WireError> {
        let b = crate::error::byte(self.buf, self.pos).map_err(|_| self.truncated())?;
        self.pos += 1;
        Ok(b)
    }

    fn truncated(&self) -> WireError {
        WireError::new("snmp: truncated element header", self.offset())
    }

    fn tag(&mut self) -> Result<u8, WireError> {
        let tag = self.byte()?;
        if tag & HIGH_TAG_NUMBER == HIGH_TAG_NUMBER {
            return Err(WireError::new("snmp: multi-byte tag", self.offset() - 1));
        }
        Ok(tag)
    }

    fn length(&mut self) -> Result<usize, WireError> {
        let first = self.byte()?;
        if first < 0x80 {
            return Ok(usize::from(first));
        }
        let n = usize::from(first & 0x7f);
        if n == 0 {
            return Err(WireError::new("snmp: indefinite length", self.offset() - 1));
        }
        if n > MAX_LENGTH_BYTES {
            return Err(WireError::new(
                "snmp: length of over 4 bytes",
                self.offset() - 1,
            ));
        }
        (0..n).try_fold(0usize, |len, _| Ok((len << 8) | usize::from(self.byte()?)))
    }
}

/// The contents of an INTEGER: big-endian two's complement of one to eight bytes; `None` when empty or wider.
pub fn integer_value(bytes: &[u8]) -> Option<i64> {
    let &first = bytes.first()?;
    if bytes.len() > 8 {
        return None;
    }
    let seed = if first & 0x80 != 0 { -1i64 } else { 0 };
    Some(bytes.iter().fold(seed, |v, &b| (v << 8) | i64::from(b)))
}

/// An INTEGER of at most eight contents bytes, two's complement.
pub(crate) fn signed(t: &Tlv) -> Result<i64, WireError> {
    integer_value(t.value).ok_or_else(|| match t.value.is_empty() {
        true => t.err("snmp: empty integer"),
        false => t.err("snmp: integer wider than 64 bits"),
    })
}

/// An INTEGER that must fit in 32 bits (Integer32, request-id, error-status, ...).
pub(crate) fn int32(t: &Tlv) -> Result<i32, WireError> {
    i32::try_from(signed(t)?).map_err(|_| t.err("snmp: integer out of 32-bit range"))
}

/// An INTEGER that must lie in `0..=i32::MAX` (msgID, msgMaxSize, engine boots and time, ...).
pub(crate) fn non_negative(t: &Tlv) -> Result<u32, WireError> {
    u32::try_from(int32(t)?).map_err(|_| t.err("snmp: negative integer"))
}

/// A non-negative integer no greater than `max` (Counter32, Gauge32, TimeTicks, Counter64). Leading zero
/// bytes are tolerated; a set sign bit is a negative number, hence out of range.
pub(crate) fn unsigned(t: &Tlv, max: u64) -> Result<u64, WireError> {
    let Some(&first) = t.value.first() else {
        return Err(t.err("snmp: empty integer"));
    };
    if first & 0x80 != 0 {
        return Err(t.err("snmp: negative unsigned value"));
    }
    let digits = t.value.iter().skip_while(|&&b| b == 0).count();
    if digits > 8 {
        return Err(t.err("snmp: unsigned value wider than 64 bits"));
    }
    let v = t.value.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
    if v > max {
        return Err(t.err("snmp: unsigned value out of range"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::ber::tag::NULL;

    fn one(b: &[u8]) -> Result<Tlv<'_>, WireError> {
        Reader::new(b, 10).next()
    }

    #[test]
    fn short_and_long_lengths() {
        let t = one(&[0x04, 0x02, b'h', b'i']).unwrap();
        assert_eq!((t.tag, t.value, t.at), (0x04, &b"hi"[..], 12));
        let t = one(&[0x04, 0x81, 0x01, b'x']).unwrap();
        assert_eq!((t.value, t.at), (&b"x"[..], 13));
        let t = one(&[0x04, 0x84, 0, 0, 0, 1, b'y', b'z']).unwrap();
        assert_eq!(t.value, b"y");
        let mut r = Reader::new(&[0x05, 0x00, 0x05, 0x00], 0);
        assert_eq!(r.next().unwrap().tag, NULL);
        assert!(r.finish("trailing").is_err());
        r.next().unwrap();
        assert!(r.finish("trailing").is_ok());
    }

    #[test]
    fn bad_headers_say_what_and_where() {
        let what = |b: &[u8]| one(b).unwrap_err();
        assert_eq!(
            what(&[0x30, 0x80, 0, 0]),
            WireError::new("snmp: indefinite length", 11)
        );
        assert_eq!(
            what(&[0x30, 0x85, 0, 0, 0, 0, 1]).what,
            "snmp: length of over 4 bytes"
        );
        assert_eq!(what(&[0x1f, 0x01, 0]).what, "snmp: multi-byte tag");
        assert_eq!(
            what(&[0x04, 0x03, 1, 2]),
            WireError::new("snmp: element longer than its parent", 12)
        );
        assert_eq!(
            what(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]).what,
            "snmp: element longer than its parent"
        );
        for cut in [&[][..], &[0x04], &[0x04, 0x82, 0x01]] {
            assert_eq!(what(cut).what, "snmp: truncated element header", "{cut:?}");
        }
        assert_eq!(
            Reader::new(&[0x04, 0x00], 0).expect(INTEGER, "want integer"),
            Err(WireError::new("want integer", 0))
        );
    }

    #[test]
    fn peek_reads_a_header_without_its_contents() {
        let h = peek(&[0x00, 0x30, 0x82, 0x01, 0x00, 0x02], 1).unwrap();
        assert_eq!(
            h,
            Header {
                tag: 0x30,
                start: 5,
                len: 256
            }
        );
        assert_eq!(peek(&[0x30, 0x80], 0), None, "indefinite");
        assert_eq!(
            peek(&[0x30, 0x85, 0, 0, 0, 0, 1], 0),
            None,
            "over 4 length bytes"
        );
        assert_eq!(peek(&[0x3f, 0x01, 0], 0), None, "multi-byte tag");
        assert_eq!(peek(&[0x30, 0x82, 0x01], 0), None, "truncated");
        assert_eq!(peek(&[0x30, 0x01], 2), None, "nothing there");
    }

    #[test]
    fn integers_signed_and_unsigned() {
        fn int(value: &[u8]) -> Tlv<'_> {
            Tlv {
                tag: INTEGER,
                value,
                at: 0,
            }
        }
        assert_eq!(signed(&int(&[0x7f])), Ok(127));
        assert_eq!(signed(&int(&[0xff])), Ok(-1));
        assert_eq!(signed(&int(&[0x80, 0x00])), Ok(-32768));
        assert!(signed(&int(&[])).is_err());
        assert!(signed(&int(&[1; 9])).is_err());
        assert_eq!(int32(&int(&[0x7f, 0xff, 0xff, 0xff])), Ok(i32::MAX));
        assert!(int32(&int(&[0x00, 0x80, 0x00, 0x00, 0x00])).is_err());
        assert!(non_negative(&int(&[0xff])).is_err());
        assert_eq!(
            unsigned(&int(&[0x00, 0xff, 0xff, 0xff, 0xff]), u32::MAX.into()),
            Ok(0xffff_ffff)
        );
        assert!(unsigned(&int(&[0x01, 0x00, 0x00, 0x00, 0x00]), u32::MAX.into()).is_err());
        assert!(
            unsigned(&int(&[0xff]), u32::MAX.into()).is_err(),
            "negative"
        );
        assert_eq!(
            unsigned(
                &int(&[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
                u64::MAX
            ),
            Ok(u64::MAX)
        );
        assert!(unsigned(&int(&[1, 0, 0, 0, 0, 0, 0, 0, 0]), u64::MAX).is_err());
        assert_eq!(
            unsigned(&int(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 5]), u64::MAX),
            Ok(5)
        );
    }
}

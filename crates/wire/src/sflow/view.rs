//! The XDR reader under the sFlow decoder: a borrowed slice that knows its offset in the datagram, and the
//! iterator over `{ data_format, opaque data<> }` entries that samples and records share.

use std::iter::FusedIterator;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{be32, WireError};

const ADDRESS_IPV4: u32 = 1;
const ADDRESS_IPV6: u32 = 2;
const ENTRY_FORMAT: usize = 0;
const ENTRY_LENGTH: usize = 4;
const ENTRY_HEADER: usize = 8;
const ENTERPRISE_SHIFT: u32 = 12;
const FORMAT_MASK: u32 = 0xfff;

/// A slice of the datagram; `base` is where it starts, so errors can name datagram offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct View<'a> {
    bytes: &'a [u8],
    base: usize,
}

impl<'a> View<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: usize) -> Self {
        Self { bytes, base }
    }

    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The datagram offset of byte `at`.
    pub(crate) fn offset(&self, at: usize) -> usize {
        self.base.saturating_add(at)
    }

    pub(crate) fn u32(&self, at: usize) -> Result<u32, WireError> {
        be32(self.bytes, at).map_err(|e| WireError::new(e.what, self.offset(at)))
    }

    pub(crate) fn u64(&self, at: usize) -> Result<u64, WireError> {
        Ok(u64::from(self.u32(at)?) << 32 | u64::from(self.u32(at + 4)?))
    }

    /// `len` bytes from `at`, or `what` at `at`.
    pub(crate) fn sub(&self, at: usize, len: usize, what: &'static str) -> Result<Self, WireError> {
        let end = at.checked_add(len);
        let bytes = end.and_then(|end| self.bytes.get(at..end));
        bytes
            .map(|b| Self::new(b, self.offset(at)))
            .ok_or(WireError::new(what, self.offset(at)))
    }

    /// Everything from `at` on (empty past the end).
    pub(crate) fn rest(&self, at: usize) -> Self {
        let b = self.bytes.get(at..).unwrap_or_default();
        Self::new(b, self.offset(at.min(self.bytes.len())))
    }

    /// Checks that a fixed structure of `len` bytes is present (a longer one is fine: its tail is ignored).
    pub(crate) fn fixed(self, len: usize, what: &'static str) -> Result<Self, WireError> {
        self.sub(0, len, what)
    }

    /// An XDR `opaque<>` at `at`: the bytes, and the offset after them and their padding (padding missing at
    /// the very end is tolerated: nothing follows it).
    pub(crate) fn opaque(&self, at: usize, what: &'static str) -> Result<(Self, usize), WireError> {
        let len = usize::try_from(self.u32(at)?).unwrap_or(usize::MAX);
        let start = at + 4;
        let data = self
            .sub(start, len, what)
            .map_err(|_| WireError::new(what, self.offset(at)))?;
        let padded = start.saturating_add(len.saturating_add(3) & !3);
        Ok((data, padded.min(self.bytes.len())))
    }

    /// A 6-byte MAC address at `at`.
    pub(crate) fn mac(&self, at: usize) -> Result<[u8; 6], WireError> {
        let b = self.sub(at, 6, "sFlow: MAC address truncated")?.bytes();
        b.try_into()
            .map_err(|_| WireError::new("sFlow: MAC address truncated", self.offset(at)))
    }

    /// A bare IPv4 (`len` 4) or IPv6 (`len` 16) address at `at`.
    pub(crate) fn ip(&self, at: usize, len: usize) -> Result<IpAddr, WireError> {
        let ip = match len {
            4 => ipv4_at(self.bytes, at).map(IpAddr::V4),
            _ => ipv6_at(self.bytes, at).map(IpAddr::V6),
        };
        ip.ok_or(WireError::new("sFlow: address truncated", self.offset(at)))
    }
}

/// An sFlow `address` at `at`: the address and the offset after it.
pub(crate) fn address(v: &View<'_>, at: usize) -> Result<(IpAddr, usize), WireError> {
    let ip = match v.u32(at)? {
        ADDRESS_IPV4 => ipv4_at(v.bytes, at + 4).map(IpAddr::V4),
        ADDRESS_IPV6 => ipv6_at(v.bytes, at + 4).map(IpAddr::V6),
        _ => {
            let what = "sFlow: address type not 1 (IPv4) or 2 (IPv6)";
            return Err(WireError::new(what, v.offset(at)));
        }
    };
    let ip = ip.ok_or(WireError::new("sFlow: address truncated", v.offset(at + 4)))?;
    Ok((ip, at + 4 + if ip.is_ipv4() { 4 } else { 16 }))
}

pub(crate) fn ipv4_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let a: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(Ipv4Addr::from(a))
}

pub(crate) fn ipv6_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let a: [u8; 16] = b.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(Ipv6Addr::from(a))
}

/// One `{ data_format, opaque data<> }` entry: a sample or a record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub(crate) enterprise: u32,
    pub(crate) format: u32,
    pub(crate) data: View<'a>,
}

/// The errors an entry walk reports, per kind of entry.
#[derive(Debug)]
pub(crate) struct Framing {
    /// The count promises another entry but its format and length are not there.
    pub(crate) missing: &'static str,
    /// The entry's length runs past its parent.
    pub(crate) length: &'static str,
}

pub(crate) const SAMPLES: Framing = Framing {
    missing: "sFlow: datagram ends before num_samples samples",
    length: "sFlow: sample length exceeds the datagram",
};
pub(crate) const FLOW_RECORDS: Framing = Framing {
    missing: "sFlow: flow sample ends before its records",
    length: "sFlow: flow record length exceeds its sample",
};
pub(crate) const COUNTER_RECORDS: Framing = Framing {
    missing: "sFlow: counter sample ends before its records",
    length: "sFlow: counter record length exceeds its sample",
};

/// Decoded entries (samples or records) in order: at most `count` items, ending early after the first error.
/// Built by [`super::Datagram::samples`], [`super::FlowSample::records`] and
/// [`super::CounterSample::records`].
#[derive(Debug, Clone)]
pub struct Items<'a, T> {
    rest: View<'a>,
    left: u32,
    framing: &'static Framing,
    decode: fn(Entry<'a>) -> Result<T, WireError>,
}

impl<'a, T> Items<'a, T> {
    pub(crate) fn new(
        rest: View<'a>,
        left: u32,
        framing: &'static Framing,
        decode: fn(Entry<'a>) -> Result<T, WireError>,
    ) -> Self {
        Self {
            rest,
            left,
            framing,
            decode,
        }
    }

    fn entry(&mut self) -> Result<Entry<'a>, WireError> {
        let head = self.rest.sub(0, ENTRY_HEADER, self.framing.missing)?;
        let tag = head.u32(ENTRY_FORMAT)?;
        let (data, end) = self.rest.opaque(ENTRY_LENGTH, self.framing.length)?;
        self.rest = self.rest.rest(end);
        Ok(Entry {
            enterprise: tag >> ENTERPRISE_SHIFT,
            format: tag & FORMAT_MASK,
            data,
        })
    }
}

impl<T> Iterator for Items<'_, T> {
    type Item = Result<T, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let item = self.entry().and_then(self.decode);
        self.left = if item.is_ok() { self.left - 1 } else { 0 };
        Some(item)
    }

    /// Each entry takes at least 8 bytes, plus at most one error item: no count can inflate the upper bound.
    fn size_hint(&self) -> (usize, Option<usize>) {
        let fit = self.rest.bytes().len() / ENTRY_HEADER + 1;
        (
            0,
            Some(fit.min(usize::try_from(self.left).unwrap_or(usize::MAX))),
        )
    }
}

impl<T> FusedIterator for Items<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_carry_datagram_offsets() {
        let b = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        let v = View::new(&b, 100);
        assert_eq!(v.u64(0), Ok(0x1_0000_0002));
        assert_eq!(v.u32(10).unwrap_err().offset, 110);
        assert_eq!(v.sub(4, 9, "x").unwrap_err(), WireError::new("x", 104));
        assert_eq!(v.sub(4, usize::MAX, "x").unwrap_err().offset, 104);
        assert_eq!(v.rest(8).bytes(), &[0, 0, 0, 3]);
        assert_eq!(v.rest(20).offset(0), 112);
    }

    #[test]
    fn opaque_is_padded() {
        let b = [0, 0, 0, 3, 7, 8, 9, 0, 0xaa];
        let (data, end) = View::new(&b, 0).opaque(0, "x").unwrap();
        assert_eq!((data.bytes(), end), (&[7, 8, 9][..], 8));
        assert_eq!(View::new(&b[..7], 0).opaque(0, "x").unwrap().1, 7);
        assert!(View::new(&b[..6], 0).opaque(0, "x").is_err());
        assert!(View::new(&[0xff, 0xff, 0xff, 0xff], 0)
            .opaque(0, "x")
            .is_err());
    }

    #[test]
    fn addresses() {
        let b = [0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 2];
        let v = View::new(&b, 0);
        assert_eq!(
            address(&v, 0),
            Ok((IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 8))
        );
        assert_eq!(address(&v, 8).unwrap_err().what, "sFlow: address truncated");
        assert_eq!(address(&v, 4).unwrap_err().offset, 4);
    }
}

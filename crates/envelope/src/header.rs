//! The body header: [`Header`] to build one, [`Envelope`] to read one without copying.

use std::net::{IpAddr, Ipv6Addr};

use wire::kind::Kind;

pub const MAGIC: [u8; 4] = *b"SKWE";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 96;
/// Addresses are IPv6 (else IPv4-mapped).
pub const FLAG_IPV6: u8 = 0b001;
/// The datagram was reassembled from IP fragments.
pub const FLAG_REASSEMBLED: u8 = 0b010;

mod field {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 4;
    pub const KIND: usize = 5;
    pub const VARIANT: usize = 6;
    pub const FLAGS: usize = 7;
    pub const HEADER_LEN: usize = 8;
    pub const SRC_PORT: usize = 10;
    pub const DST_PORT: usize = 12;
    pub const PUBLISHER: usize = 16;
    pub const SEQUENCE: usize = 24;
    pub const TIMESTAMP: usize = 32;
    pub const SRC_ADDR: usize = 40;
    pub const DST_ADDR: usize = 56;
    pub const INTERFACE: usize = 72;
    pub const PAYLOAD_LEN: usize = 88;
}

/// Length of the interface-name field.
pub const INTERFACE_LEN: usize = 16;

/// Everything the header says, owned. The publisher fills one per datagram and calls [`Header::encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The kind byte; a known [`Kind`] when published by this build, any value when read.
    pub kind: u8,
    pub variant: u8,
    pub flags: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub publisher: u64,
    pub sequence: u64,
    pub timestamp_ns: u64,
    pub interface: [u8; INTERFACE_LEN],
}

/// A body that does not follow the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("body of {0} bytes is shorter than the 96-byte header")]
    Short(usize),
    #[error("bad magic")]
    Magic,
    #[error("unsupported envelope version {0}")]
    Version(u8),
    #[error("header length {header_len} + payload length {payload_len} != body length {body_len}")]
    Length {
        header_len: usize,
        payload_len: usize,
        body_len: usize,
    },
}

/// Maps an address into the 16-byte field: IPv6 as is, IPv4 as `::ffff:a.b.c.d`.
pub fn addr_bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn addr_from(b: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(b);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// An interface name as the fixed NUL-padded field (longer names are cut at 15 bytes).
pub fn interface_field(name: &str) -> [u8; INTERFACE_LEN] {
    let mut f = [0u8; INTERFACE_LEN];
    let n = name.len().min(INTERFACE_LEN - 1);
    f[..n].copy_from_slice(&name.as_bytes()[..n]);
    f
}

impl Header {
    pub fn for_kind(kind: Kind) -> Self {
        Self {
            kind: kind.code(),
            variant: 0,
            flags: 0,
            src: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            src_port: 0,
            dst_port: 0,
            publisher: 0,
            sequence: 0,
            timestamp_ns: 0,
            interface: [0; INTERFACE_LEN],
        }
    }

    /// Writes header and payload to `out` (cleared first). The IPv6 flag is derived from the addresses.
    pub fn encode(&self, payload: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.reserve(HEADER_LEN + payload.len());
        let v6 = matches!(self.src, IpAddr::V6(_)) || matches!(self.dst, IpAddr::V6(_));
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[
            VERSION,
            self.kind,
            self.variant,
            self.flags | if v6 { FLAG_IPV6 } else { 0 },
        ]);
        out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        out.extend_from_slice(&self.src_port.to_le_bytes());
        out.extend_from_slice(&self.dst_port.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.publisher.to_le_bytes());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&self.timestamp_ns.to_le_bytes());
        out.extend_from_slice(&addr_bytes(self.src));
        out.extend_from_slice(&addr_bytes(self.dst));
        out.extend_from_slice(&self.interface);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        debug_assert_eq!(out.len(), HEADER_LEN);
        out.extend_from_slice(payload);
    }
}

/// A checked, zero-copy view of a body. After [`Envelope::new_checked`] no accessor can panic.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<T: AsRef<[u8]>> {
    buf: T,
    header_len: usize,
}

impl<T: AsRef<[u8]>> Envelope<T> {
    pub fn new_checked(buf: T) -> Result<Self, EnvelopeError> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(EnvelopeError::Short(b.len()));
        }
        if b[field::MAGIC..field::MAGIC + 4] != MAGIC {
            return Err(EnvelopeError::Magic);
        }
        if b[field::VERSION] != VERSION {
            return Err(EnvelopeError::Version(b[field::VERSION]));
        }
        let header_len = usize::from(le16(b, field::HEADER_LEN));
        let payload_len = le32(b, field::PAYLOAD_LEN) as usize;
        if header_len < HEADER_LEN || header_len.checked_add(payload_len) != Some(b.len()) {
            return Err(EnvelopeError::Length {
                header_len,
                payload_len,
                body_len: b.len(),
            });
        }
        Ok(Self { buf, header_len })
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    pub fn kind_code(&self) -> u8 {
        self.b()[field::KIND]
    }
    pub fn kind(&self) -> Option<Kind> {
        Kind::from_code(self.kind_code())
    }
    pub fn variant(&self) -> u8 {
        self.b()[field::VARIANT]
    }
    pub fn flags(&self) -> u8 {
        self.b()[field::FLAGS]
    }
    pub fn src_port(&self) -> u16 {
        le16(self.b(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        le16(self.b(), field::DST_PORT)
    }
    pub fn publisher(&self) -> u64 {
        le64(self.b(), field::PUBLISHER)
    }
    pub fn sequence(&self) -> u64 {
        le64(self.b(), field::SEQUENCE)
    }
    pub fn timestamp_ns(&self) -> u64 {
        le64(self.b(), field::TIMESTAMP)
    }
    pub fn src(&self) -> IpAddr {
        addr_from(self.addr_field(field::SRC_ADDR))
    }
    pub fn dst(&self) -> IpAddr {
        addr_from(self.addr_field(field::DST_ADDR))
    }
    /// The raw 16-byte source-address field, as the bucket hash reads it.
    pub fn src_field(&self) -> [u8; 16] {
        self.addr_field(field::SRC_ADDR)
    }
    pub fn interface(&self) -> &str {
        let f = &self.b()[field::INTERFACE..field::INTERFACE + INTERFACE_LEN];
        let end = f.iter().position(|&c| c == 0).unwrap_or(INTERFACE_LEN);
        std::str::from_utf8(&f[..end]).unwrap_or("?")
    }
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len..]
    }

    fn addr_field(&self, at: usize) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.b()[at..at + 16]);
        a
    }

    /// The owned header, e.g. to re-publish with another sequence.
    pub fn header(&self) -> Header {
        Header {
            kind: self.kind_code(),
            variant: self.variant(),
            flags: self.flags() & !FLAG_IPV6,
            src: self.src(),
            dst: self.dst(),
            src_port: self.src_port(),
            dst_port: self.dst_port(),
            publisher: self.publisher(),
            sequence: self.sequence(),
            timestamp_ns: self.timestamp_ns(),
            interface: interface_field(self.interface()),
        }
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Header {
        Header {
            variant: 1,
            flags: FLAG_REASSEMBLED,
            src: "192.0.2.10".parse().unwrap(),
            dst: "192.0.2.1".parse().unwrap(),
            src_port: 40000,
            dst_port: 514,
            publisher: 0x0102_0304_0506_0708,
            sequence: 42,
            timestamp_ns: 1_764_000_000_123_456_789,
            interface: interface_field("eth0"),
            ..Header::for_kind(Kind::Syslog)
        }
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let mut body = Vec::new();
        h.encode(b"<13>hello", &mut body);
        assert_eq!(body.len(), HEADER_LEN + 9);
        let e = Envelope::new_checked(&body[..]).unwrap();
        assert_eq!(e.header(), h);
        assert_eq!(e.kind(), Some(Kind::Syslog));
        assert_eq!(e.interface(), "eth0");
        assert_eq!(e.payload(), b"<13>hello");
        assert_eq!(e.flags() & FLAG_IPV6, 0);
    }

    #[test]
    fn ipv6_sets_the_flag() {
        let h = Header {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            ..sample()
        };
        let mut body = Vec::new();
        h.encode(&[], &mut body);
        let e = Envelope::new_checked(body).unwrap();
        assert_ne!(e.flags() & FLAG_IPV6, 0);
        assert_eq!(e.src(), h.src);
    }

    #[test]
    fn rejects_bad_bodies() {
        let mut body = Vec::new();
        sample().encode(b"abc", &mut body);
        assert_eq!(
            Envelope::new_checked(&body[..50]).unwrap_err(),
            EnvelopeError::Short(50)
        );
        let mut bad = body.clone();
        bad[0] = b'X';
        assert_eq!(
            Envelope::new_checked(&bad[..]).unwrap_err(),
            EnvelopeError::Magic
        );
        let mut bad = body.clone();
        bad[4] = 9;
        assert_eq!(
            Envelope::new_checked(&bad[..]).unwrap_err(),
            EnvelopeError::Version(9)
        );
        body.push(0);
        assert!(matches!(
            Envelope::new_checked(&body[..]),
            Err(EnvelopeError::Length { .. })
        ));
        let mut huge = body.clone();
        huge[88..92].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Envelope::new_checked(&huge[..]).is_err());
    }

    #[test]
    fn unknown_kinds_are_kept() {
        let mut body = Vec::new();
        Header {
            kind: 77,
            ..sample()
        }
        .encode(b"x", &mut body);
        let e = Envelope::new_checked(&body[..]).unwrap();
        assert_eq!((e.kind(), e.kind_code()), (None, 77));
    }
}

#[cfg(test)]
mod doc_example {
    use super::*;

    /// The hex dump of the worked example, read from the document itself.
    fn documented_body() -> Vec<u8> {
        let doc = include_str!("../../../docs/wire-format.md");
        let dump = doc
            .split("Body (105 bytes):")
            .nth(1)
            .expect("the worked example");
        dump.lines()
            .skip(2)
            .take_while(|l| !l.starts_with("```"))
            .filter(|l| l.len() > 6 && l.as_bytes()[..4].iter().all(u8::is_ascii_hexdigit))
            .flat_map(|l| {
                l[6..]
                    .split_whitespace()
                    .take_while(|t| t.len() == 2)
                    .map(|t| u8::from_str_radix(t, 16).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The worked example of docs/wire-format.md, byte for byte.
    #[test]
    fn matches_the_document() {
        let h = Header {
            flags: 0,
            ..super::tests::sample()
        };
        let mut body = Vec::new();
        h.encode(b"<13>hello", &mut body);
        assert_eq!(body, documented_body());
        let mut topic = Vec::new();
        crate::write_topic("syslog", h.src, crate::exporter_bucket(h.src), &mut topic);
        assert_eq!(topic, b"syslog/b27/192.0.2.10/");
    }
}

//! NetFlow v5: a 24-byte header and up to 30 fixed 48-byte flow records.

use std::net::Ipv4Addr;

use crate::error::{be16, be32, byte, WireError};

pub const HEADER_LEN: usize = 24;
pub const RECORD_LEN: usize = 48;
/// The most records a v5 datagram carries (Cisco's limit; a larger count is refused).
pub const MAX_RECORDS: usize = 30;

const COUNT: usize = 2;
const SYS_UPTIME: usize = 4;
const UNIX_SECS: usize = 8;
const UNIX_NSECS: usize = 12;
const SEQUENCE: usize = 16;
const ENGINE_TYPE: usize = 20;
const ENGINE_ID: usize = 21;
const SAMPLING: usize = 22;

/// The v5 header, checked against the datagram's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub count: u16,
    pub sys_uptime_ms: u32,
    pub unix_secs: u32,
    pub unix_nsecs: u32,
    /// Flows exported before this datagram.
    pub sequence: u32,
    pub engine_type: u8,
    pub engine_id: u8,
    /// Top two bits of the sampling field.
    pub sampling_mode: u8,
    /// Low 14 bits: 1 in N packets, 0 when not sampled.
    pub sampling_interval: u16,
}

/// A checked v5 datagram: header plus exactly `count` records.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub header: Header,
    records: &'a [u8],
}

impl<'a> Packet<'a> {
    pub fn parse(p: &'a [u8]) -> Result<Self, WireError> {
        if be16(p, 0)? != 5 {
            return Err(WireError::new("netflow v5: version is not 5", 0));
        }
        let count = be16(p, COUNT)?;
        if usize::from(count) > MAX_RECORDS {
            return Err(WireError::new("netflow v5: count above 30", COUNT));
        }
        let end = HEADER_LEN + usize::from(count) * RECORD_LEN;
        let records = p.get(HEADER_LEN..end).ok_or(WireError::new(
            "netflow v5: count exceeds the datagram",
            COUNT,
        ))?;
        let sampling = be16(p, SAMPLING)?;
        let header = Header {
            count,
            sys_uptime_ms: be32(p, SYS_UPTIME)?,
            unix_secs: be32(p, UNIX_SECS)?,
            unix_nsecs: be32(p, UNIX_NSECS)?,
            sequence: be32(p, SEQUENCE)?,
            engine_type: byte(p, ENGINE_TYPE)?,
            engine_id: byte(p, ENGINE_ID)?,
            sampling_mode: (sampling >> 14) as u8,
            sampling_interval: sampling & 0x3fff,
        };
        Ok(Self { header, records })
    }

    pub fn records(&self) -> impl Iterator<Item = Record<'a>> + 'a {
        self.records.chunks_exact(RECORD_LEN).map(Record)
    }
}

/// One 48-byte flow record (the constructor guarantees the length, so the accessors cannot fail).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a>(&'a [u8]);

impl Record<'_> {
    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.0[at], self.0[at + 1]])
    }
    fn u32_at(&self, at: usize) -> u32 {
        u32::from_be_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
    }
    fn addr_at(&self, at: usize) -> Ipv4Addr {
        Ipv4Addr::from(self.u32_at(at))
    }
    pub fn src_addr(&self) -> Ipv4Addr {
        self.addr_at(0)
    }
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.addr_at(4)
    }
    pub fn next_hop(&self) -> Ipv4Addr {
        self.addr_at(8)
    }
    pub fn input(&self) -> u16 {
        self.u16_at(12)
    }
    pub fn output(&self) -> u16 {
        self.u16_at(14)
    }
    pub fn packets(&self) -> u32 {
        self.u32_at(16)
    }
    pub fn bytes(&self) -> u32 {
        self.u32_at(20)
    }
    /// System uptime (ms) at the flow's first packet.
    pub fn first_ms(&self) -> u32 {
        self.u32_at(24)
    }
    pub fn last_ms(&self) -> u32 {
        self.u32_at(28)
    }
    pub fn src_port(&self) -> u16 {
        self.u16_at(32)
    }
    pub fn dst_port(&self) -> u16 {
        self.u16_at(34)
    }
    pub fn tcp_flags(&self) -> u8 {
        self.0[37]
    }
    pub fn protocol(&self) -> u8 {
        self.0[38]
    }
    pub fn tos(&self) -> u8 {
        self.0[39]
    }
    pub fn src_as(&self) -> u16 {
        self.u16_at(40)
    }
    pub fn dst_as(&self) -> u16 {
        self.u16_at(42)
    }
    pub fn src_mask(&self) -> u8 {
        self.0[44]
    }
    pub fn dst_mask(&self) -> u8 {
        self.0[45]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(count: u16, records: usize) -> Vec<u8> {
        let mut p = vec![0u8; HEADER_LEN + records * RECORD_LEN];
        p[1] = 5;
        p[2..4].copy_from_slice(&count.to_be_bytes());
        p[16..20].copy_from_slice(&77u32.to_be_bytes());
        p[22..24].copy_from_slice(&(0x4000u16 | 100).to_be_bytes());
        p
    }

    #[test]
    fn header_and_records() {
        let mut p = datagram(2, 2);
        let r = HEADER_LEN + RECORD_LEN;
        p[r..r + 4].copy_from_slice(&[10, 0, 0, 1]);
        p[r + 16..r + 20].copy_from_slice(&12u32.to_be_bytes());
        p[r + 32..r + 34].copy_from_slice(&443u16.to_be_bytes());
        p[r + 38] = 6;
        let v = Packet::parse(&p).unwrap();
        assert_eq!(v.header.sequence, 77);
        assert_eq!(
            (v.header.sampling_mode, v.header.sampling_interval),
            (1, 100)
        );
        let recs: Vec<_> = v.records().collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].src_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(
            (recs[1].packets(), recs[1].src_port(), recs[1].protocol()),
            (12, 443, 6)
        );
    }

    #[test]
    fn count_beyond_datagram_or_limit_is_an_error() {
        assert!(Packet::parse(&datagram(3, 2)).is_err());
        assert!(Packet::parse(&datagram(31, 31)).is_err());
        assert!(Packet::parse(&datagram(0, 0)).is_ok());
        for n in 0..HEADER_LEN {
            assert!(Packet::parse(&datagram(1, 1)[..n]).is_err());
        }
    }
}

//! Classification: the destination port says what a datagram should be, the payload confirms it.

use crate::error::{be16, be32, byte};
use crate::kind::{Family, Kind};
use crate::netflow::{v5, IPFIX_HEADER, V9_HEADER};
use crate::snmp::ber::{self, tag};

/// Envelope flag: the SNMP PDU is an InformRequest.
pub const FLAG_INFORM: u8 = 0b100;

/// A confirmed classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub kind: Kind,
    /// Kind-specific detail, as the envelope's `variant` byte (syslog RFC, NetFlow version, SNMP version).
    pub variant: u8,
    /// Extra envelope flags (only [`FLAG_INFORM`] today).
    pub flags: u8,
}

/// Why a datagram on a watched port was not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Classified(Class),
    /// Nobody configured this port.
    Unwatched,
    /// The payload does not fit what the port should carry.
    Mismatch(Family),
}

/// The configured port → family table (65 536 entries, one byte each: a lookup is one load).
#[derive(Clone)]
pub struct Classifier {
    ports: Box<[Option<Family>]>,
}

impl Default for Classifier {
    fn default() -> Self {
        let mut c = Self::empty();
        for f in Family::ALL {
            for &p in f.default_ports() {
                c.set(p, f);
            }
        }
        c
    }
}

impl Classifier {
    pub fn empty() -> Self {
        Self {
            ports: vec![None; 65536].into_boxed_slice(),
        }
    }

    pub fn set(&mut self, port: u16, family: Family) {
        self.ports[usize::from(port)] = Some(family);
    }

    pub fn family(&self, port: u16) -> Option<Family> {
        self.ports[usize::from(port)]
    }

    /// Every watched port, ascending, with its family.
    pub fn watched(&self) -> impl Iterator<Item = (u16, Family)> + '_ {
        (0..=u16::MAX).filter_map(|p| self.family(p).map(|f| (p, f)))
    }

    pub fn classify(&self, dst_port: u16, payload: &[u8]) -> Verdict {
        let Some(family) = self.family(dst_port) else {
            return Verdict::Unwatched;
        };
        match confirm(family, payload) {
            Some(class) => Verdict::Classified(class),
            None => Verdict::Mismatch(family),
        }
    }
}

/// Checks the payload against the family and names the exact kind.
pub fn confirm(family: Family, payload: &[u8]) -> Option<Class> {
    match family {
        Family::Syslog => syslog(payload),
        Family::Netflow | Family::Ipfix => netflow(payload),
        Family::Sflow => sflow(payload),
        Family::Snmptrap => snmp(payload),
    }
}

fn class(kind: Kind, variant: u8) -> Class {
    Class {
        kind,
        variant,
        flags: 0,
    }
}

/// `<PRI>` with PRI 0..=191, then RFC 5424 when the version `1 ` follows.
fn syslog(p: &[u8]) -> Option<Class> {
    let (_, rest) = crate::syslog::pri(p).ok()?;
    let variant = if rest.starts_with(b"1 ") { 2 } else { 1 };
    Some(class(Kind::Syslog, variant))
}

fn netflow(p: &[u8]) -> Option<Class> {
    match be16(p, 0).ok()? {
        5 => {
            let count = usize::from(be16(p, 2).ok()?);
            let fits = (1..=v5::MAX_RECORDS).contains(&count)
                && p.len() >= v5::HEADER_LEN + count * v5::RECORD_LEN;
            fits.then(|| class(Kind::NetflowV5, 5))
        }
        9 => v9_fits(p).then(|| class(Kind::NetflowV9, 9)),
        10 => {
            // Bytes after the stated length are left to the decoder (which counts them): collectors read
            // the message and ignore them, and a relay is not stricter than the collector behind it.
            let len = usize::from(be16(p, 2).ok()?);
            (len >= IPFIX_HEADER && len <= p.len()).then(|| class(Kind::Ipfix, 10))
        }
        _ => None,
    }
}

/// A v9 header, then (if anything follows) a flowset whose length fits: at least its own 4-byte header and
/// no more than what is left.
fn v9_fits(p: &[u8]) -> bool {
    if p.len() == V9_HEADER {
        return true;
    }
    let Ok(len) = be16(p, V9_HEADER + 2) else {
        return false;
    };
    p.len() >= V9_HEADER && (4..=p.len() - V9_HEADER).contains(&usize::from(len))
}

const SFLOW_V4_HEADER: usize = 28;
const SFLOW_V6_HEADER: usize = 40;

fn sflow(p: &[u8]) -> Option<Class> {
    let min = match (be32(p, 0).ok()?, be32(p, 4).ok()?) {
        (5, 1) => SFLOW_V4_HEADER,
        (5, 2) => SFLOW_V6_HEADER,
        _ => return None,
    };
    (p.len() >= min).then(|| class(Kind::Sflow, 5))
}

/// An SNMP message: v1 or v2c with any PDU (the InformRequest flagged), or any v3 message (its PDU may be
/// encrypted).
/// Only the headers on the way to the PDU tag are read, not the whole message: enough to name the kind.
fn snmp(p: &[u8]) -> Option<Class> {
    let msg = ber::peek(p, 0)?;
    // `start` lies within `p` (its header was read from it), so the subtraction cannot underflow.
    if msg.tag != tag::SEQUENCE || msg.len > p.len() - msg.start {
        return None;
    }
    let v = ber::peek(p, msg.start)?;
    if v.tag != tag::INTEGER || v.len != 1 {
        return None;
    }
    let version = byte(p, v.start).ok()?;
    if version == 3 {
        return Some(class(Kind::Snmptrap, 3));
    }
    let community = ber::peek(p, v.start + 1)?;
    if community.tag != tag::OCTET_STRING {
        return None;
    }
    let pdu = byte(p, community.start.saturating_add(community.len)).ok()?;
    // Any PDU, not only notifications: a trap port's other traffic (a response, a get) is decoded as a `pdu`
    // record, and a relay passes on what the collector behind it would see.
    match (version, pdu) {
        (1, tag::INFORM) => Some(Class {
            flags: FLAG_INFORM,
            ..class(Kind::Snmptrap, 1)
        }),
        (0 | 1, pdu) if pdu & tag::CLASS_MASK == tag::PDU_CLASS => {
            Some(class(Kind::Snmptrap, version))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(f: Family, p: &[u8]) -> Option<(Kind, u8)> {
        confirm(f, p).map(|c| (c.kind, c.variant))
    }

    #[test]
    fn syslog_pri_and_version() {
        assert_eq!(
            kind_of(Family::Syslog, b"<34>Oct 11 22:14:15 host su: x"),
            Some((Kind::Syslog, 1))
        );
        assert_eq!(
            kind_of(Family::Syslog, b"<165>1 2003-10-11T22:14:15Z h a - - - m"),
            Some((Kind::Syslog, 2))
        );
        assert_eq!(
            kind_of(
                Family::Syslog,
                b"<189>123: *Mar  1 00:00:01: %LINK-3-UPDOWN"
            ),
            Some((Kind::Syslog, 1))
        );
        for bad in [
            &b"<192>x"[..],
            b"<>x",
            b"<1234>x",
            b"hello",
            b"",
            b"<12",
            b"<1a>",
        ] {
            assert_eq!(kind_of(Family::Syslog, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn netflow_versions() {
        let mut v5 = vec![0u8; 24 + 48];
        v5[1] = 5;
        v5[3] = 1;
        assert_eq!(kind_of(Family::Netflow, &v5), Some((Kind::NetflowV5, 5)));
        assert_eq!(kind_of(Family::Netflow, &v5[..50]), None, "count lies");
        let mut v9 = vec![0u8; 20];
        v9[1] = 9;
        assert_eq!(kind_of(Family::Netflow, &v9), Some((Kind::NetflowV9, 9)));
        v9.extend_from_slice(&[0, 0, 0, 8, 1, 0, 0, 1]); // template flowset of 8 bytes
        assert_eq!(kind_of(Family::Netflow, &v9), Some((Kind::NetflowV9, 9)));
        v9[23] = 9;
        assert_eq!(
            kind_of(Family::Netflow, &v9),
            None,
            "flowset longer than the datagram"
        );
        v9[23] = 2;
        assert_eq!(
            kind_of(Family::Netflow, &v9),
            None,
            "flowset shorter than its header"
        );
        assert_eq!(kind_of(Family::Netflow, &v9[..21]), None);
        let mut ipfix = vec![0u8; 16];
        ipfix[1] = 10;
        ipfix[3] = 16;
        assert_eq!(kind_of(Family::Ipfix, &ipfix), Some((Kind::Ipfix, 10)));
        assert_eq!(kind_of(Family::Netflow, &ipfix), Some((Kind::Ipfix, 10)));
        ipfix[3] = 17;
        assert_eq!(kind_of(Family::Ipfix, &ipfix), None, "length lies");
        ipfix[3] = 16;
        ipfix.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(
            kind_of(Family::Ipfix, &ipfix),
            Some((Kind::Ipfix, 10)),
            "two stray bytes after the message"
        );
        assert_eq!(kind_of(Family::Netflow, &[0, 7, 0, 0]), None);
    }

    #[test]
    fn sflow_header() {
        let mut s = vec![0u8; 28];
        s[3] = 5;
        s[7] = 1;
        assert_eq!(kind_of(Family::Sflow, &s), Some((Kind::Sflow, 5)));
        s[7] = 2;
        assert_eq!(
            kind_of(Family::Sflow, &s),
            None,
            "IPv6 agent needs 40 bytes"
        );
    }

    #[test]
    fn snmp_versions_and_pdus() {
        // SEQUENCE { INTEGER 1, OCTET STRING "public", [7] {} }
        let v2 = [
            0x30, 0x0d, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa7,
            0x00,
        ];
        assert_eq!(kind_of(Family::Snmptrap, &v2), Some((Kind::Snmptrap, 1)));
        let mut inform = v2;
        inform[13] = 0xa6;
        assert_eq!(
            confirm(Family::Snmptrap, &inform).unwrap().flags,
            FLAG_INFORM
        );
        let mut v1 = v2;
        v1[4] = 0;
        v1[13] = 0xa4;
        assert_eq!(kind_of(Family::Snmptrap, &v1), Some((Kind::Snmptrap, 0)));
        for pdu in [0xa0, 0xa1, 0xa2, 0xa3, 0xa5, 0xa8] {
            let mut other = v2;
            other[13] = pdu;
            assert_eq!(kind_of(Family::Snmptrap, &other), Some((Kind::Snmptrap, 1)));
            assert_eq!(confirm(Family::Snmptrap, &other).unwrap().flags, 0);
            other[4] = 0;
            assert_eq!(kind_of(Family::Snmptrap, &other), Some((Kind::Snmptrap, 0)));
        }
        let mut not_a_pdu = v2;
        not_a_pdu[13] = 0x30;
        assert_eq!(kind_of(Family::Snmptrap, &not_a_pdu), None);
        let mut v2_version = v2;
        v2_version[4] = 2;
        assert_eq!(kind_of(Family::Snmptrap, &v2_version), None);
        let v3 = [0x30, 0x03, 0x02, 0x01, 0x03];
        assert_eq!(kind_of(Family::Snmptrap, &v3), Some((Kind::Snmptrap, 3)));
        assert_eq!(
            kind_of(Family::Snmptrap, &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(kind_of(Family::Snmptrap, &[0x30, 0x85]), None);
    }

    #[test]
    fn ports_decide_the_family() {
        let c = Classifier::default();
        assert_eq!(c.family(514), Some(Family::Syslog));
        assert_eq!(c.family(9996), Some(Family::Netflow));
        assert_eq!(c.classify(53, b"<1>x"), Verdict::Unwatched);
        assert_eq!(
            c.classify(514, b"garbage"),
            Verdict::Mismatch(Family::Syslog)
        );
        assert_eq!(c.watched().count(), 7);
    }
}

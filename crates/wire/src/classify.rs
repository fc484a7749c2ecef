//! Classification: the destination port says what a datagram should be, the payload confirms it.

use crate::error::{be16, be32, byte};
use crate::kind::{Family, Kind};
use crate::netflow::{v5, IPFIX_HEADER, V9_HEADER};
use crate::snmp::ber::{self, tag};

/// Envelope flag: the SNMP PDU is an InformRequest.
pub const FLAG_INFORM: u8 = 0b100;
/// Envelope flag: the payload does not fit its port's kind (published under that kind all the same, so that
/// a relay is no stricter than the collector behind it). [`confirm`] names the reason again.
pub const FLAG_MISMATCHED: u8 = 0b1000;

/// A classification: confirmed, or (with [`FLAG_MISMATCHED`]) the port's kind for a payload that does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub kind: Kind,
    /// Kind-specific detail, as the envelope's `variant` byte (syslog RFC, NetFlow version, SNMP version;
    /// 0 for a mismatched payload).
    pub variant: u8,
    /// Extra envelope flags ([`FLAG_INFORM`], [`FLAG_MISMATCHED`]).
    pub flags: u8,
}

/// What classification says of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Classified(Class),
    /// Nobody configured this port.
    Unwatched,
    /// The payload does not fit what the port should carry: the port's kind (see [`Mismatch::class`]) and why.
    Mismatch(Mismatch),
}

/// A payload refused on a watched port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// The kind it is published under when mismatched datagrams are relayed.
    pub kind: Kind,
    pub reason: Refusal,
}

impl Mismatch {
    /// The class to publish it with: the port's kind, variant 0, flagged.
    pub fn class(&self) -> Class {
        Class {
            kind: self.kind,
            variant: 0,
            flags: FLAG_MISMATCHED,
        }
    }
}

/// Why a payload does not fit its port's kind. Each has a counter name ([`Refusal::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Syslog that does not start with `<`.
    NoPri,
    /// Syslog whose `<PRI>` is not 1–3 digits closed by `>`, or above 191.
    BadPri,
    /// NetFlow/IPFIX version other than 5, 9, 10; sFlow other than version 5 with an IPv4 or IPv6 agent.
    UnknownVersion,
    /// Shorter than the kind's fixed header.
    ShortHeader,
    /// NetFlow v5: a record count of 0 or above 30, or more records than the datagram holds.
    V5Count,
    /// NetFlow v9: the first flowset's length is below 4 or beyond the datagram.
    V9SetLength,
    /// IPFIX: the message length is below the 16-byte header or beyond the datagram.
    IpfixLength,
    /// SNMP: not a BER SEQUENCE holding a one-byte version INTEGER and (v1/v2c) a community, within the datagram.
    NotSnmp,
    /// SNMP v1/v2c: a PDU other than a trap or an inform (get, set, response, report...).
    NotNotification,
}

impl Refusal {
    pub const ALL: [Refusal; 9] = [
        Refusal::NoPri,
        Refusal::BadPri,
        Refusal::UnknownVersion,
        Refusal::ShortHeader,
        Refusal::V5Count,
        Refusal::V9SetLength,
        Refusal::IpfixLength,
        Refusal::NotSnmp,
        Refusal::NotNotification,
    ];
    pub const COUNT: usize = Refusal::ALL.len();

    /// The counter name, in stats and summaries.
    pub const fn name(self) -> &'static str {
        match self {
            Refusal::NoPri => "no_pri",
            Refusal::BadPri => "bad_pri",
            Refusal::UnknownVersion => "unknown_version",
            Refusal::ShortHeader => "short_header",
            Refusal::V5Count => "v5_count",
            Refusal::V9SetLength => "v9_set_length",
            Refusal::IpfixLength => "ipfix_length",
            Refusal::NotSnmp => "not_snmp",
            Refusal::NotNotification => "not_notification",
        }
    }

    /// A dense index `0..Refusal::COUNT`.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Mismatched datagrams per kind and reason. Serialized as `{kind: {reason: n}}` with the non-zero ones only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalCounts([[u64; Refusal::COUNT]; Kind::COUNT]);

impl RefusalCounts {
    pub fn add(&mut self, m: Mismatch) {
        self.0[m.kind.index()][m.reason.index()] += 1;
    }

    pub fn get(&self, kind: Kind, reason: Refusal) -> u64 {
        self.0[kind.index()][reason.index()]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().flatten().sum()
    }

    /// The non-zero counts as (kind, reason, count).
    pub fn iter(&self) -> impl Iterator<Item = (Kind, Refusal, u64)> + '_ {
        Kind::ALL.into_iter().flat_map(move |k| {
            Refusal::ALL
                .into_iter()
                .map(move |r| (k, r, self.get(k, r)))
                .filter(|&(_, _, n)| n > 0)
        })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for RefusalCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let kinds: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| self.0[k.index()].iter().any(|&n| n > 0))
            .collect();
        let mut map = s.serialize_map(Some(kinds.len()))?;
        for k in kinds {
            let reasons: std::collections::BTreeMap<&str, u64> = self
                .iter()
                .filter(|&(kind, _, _)| kind == k)
                .map(|(_, r, n)| (r.name(), n))
                .collect();
            map.serialize_entry(k.name(), &reasons)?;
        }
        map.end()
    }
}

/// The configured port → family table (65 536 entries, one byte each: a lookup is one load), and what to do
/// with a payload that does not fit its port.
#[derive(Clone)]
pub struct Classifier {
    ports: Box<[Option<Family>]>,
    /// Publish mismatched payloads flagged under the port's kind (the default), rather than drop them.
    relay_mismatched: bool,
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
            relay_mismatched: true,
        }
    }

    /// Whether a payload that does not fit its port is published (flagged) or dropped; either way it is
    /// counted by its reason.
    pub fn set_relay_mismatched(&mut self, relay: bool) {
        self.relay_mismatched = relay;
    }

    pub fn relays_mismatched(&self) -> bool {
        self.relay_mismatched
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
            Ok(class) => Verdict::Classified(class),
            Err(reason) => Verdict::Mismatch(Mismatch {
                kind: port_kind(family, payload),
                reason,
            }),
        }
    }
}

/// Checks the payload against the family and names the exact kind, or says why it does not fit.
pub fn confirm(family: Family, payload: &[u8]) -> Result<Class, Refusal> {
    match family {
        Family::Syslog => syslog(payload),
        Family::Netflow | Family::Ipfix => netflow(payload),
        Family::Sflow => sflow(payload),
        Family::Snmptrap => snmp(payload),
    }
}

/// Why a datagram published with [`FLAG_MISMATCHED`] under `kind` did not fit it (`None` if it does fit now:
/// a publisher with other rules).
pub fn refusal(kind: Kind, payload: &[u8]) -> Option<Refusal> {
    confirm(kind.family(), payload).err()
}

/// The kind a mismatched payload is published under: the port's; on a NetFlow or IPFIX port the one its
/// version field names, else NetFlow v9 (NetFlow port) or IPFIX (IPFIX port).
fn port_kind(family: Family, payload: &[u8]) -> Kind {
    match family {
        Family::Syslog => Kind::Syslog,
        Family::Sflow => Kind::Sflow,
        Family::Snmptrap => Kind::Snmptrap,
        Family::Netflow | Family::Ipfix => match be16(payload, 0) {
            Ok(5) => Kind::NetflowV5,
            Ok(9) => Kind::NetflowV9,
            Ok(10) => Kind::Ipfix,
            _ if family == Family::Ipfix => Kind::Ipfix,
            _ => Kind::NetflowV9,
        },
    }
}

fn class(kind: Kind, variant: u8) -> Class {
    Class {
        kind,
        variant,
        flags: 0,
    }
}

/// `<PRI>` with PRI 0..=191, then RFC 5424 when the version `1 ` follows. An octet count before it
/// (`65 <14>1 ...`, the TCP framing of RFC 6587 that some senders keep over UDP) is allowed.
fn syslog(p: &[u8]) -> Result<Class, Refusal> {
    let p = skip_octet_count(p);
    let (_, rest) = crate::syslog::pri(p).map_err(|_| match p.first() {
        Some(b'<') => Refusal::BadPri,
        _ => Refusal::NoPri,
    })?;
    let variant = if rest.starts_with(b"1 ") { 2 } else { 1 };
    Ok(class(Kind::Syslog, variant))
}

/// What follows `DIGITS SP` when `<` comes next (an octet count of at most 8 digits); else the input.
fn skip_octet_count(p: &[u8]) -> &[u8] {
    let digits = p.iter().take(9).take_while(|b| b.is_ascii_digit()).count();
    match (digits, p.get(digits), p.get(digits + 1)) {
        (1..=8, Some(b' '), Some(b'<')) => &p[digits + 1..],
        _ => p,
    }
}

fn netflow(p: &[u8]) -> Result<Class, Refusal> {
    match be16(p, 0).map_err(|_| Refusal::ShortHeader)? {
        5 => {
            let count = usize::from(be16(p, 2).map_err(|_| Refusal::ShortHeader)?);
            if p.len() < v5::HEADER_LEN {
                return Err(Refusal::ShortHeader);
            }
            let fits = (1..=v5::MAX_RECORDS).contains(&count)
                && p.len() >= v5::HEADER_LEN + count * v5::RECORD_LEN;
            fits.then(|| class(Kind::NetflowV5, 5))
                .ok_or(Refusal::V5Count)
        }
        9 => v9(p),
        10 => {
            if p.len() < IPFIX_HEADER {
                return Err(Refusal::ShortHeader);
            }
            // Bytes after the stated length are left to the decoder (which counts them): collectors read
            // the message and ignore them, and a relay is not stricter than the collector behind it.
            let len = usize::from(be16(p, 2).map_err(|_| Refusal::ShortHeader)?);
            (len >= IPFIX_HEADER && len <= p.len())
                .then(|| class(Kind::Ipfix, 10))
                .ok_or(Refusal::IpfixLength)
        }
        _ => Err(Refusal::UnknownVersion),
    }
}

/// A v9 header, then (if anything follows) a flowset whose length fits: at least its own 4-byte header and
/// no more than what is left.
fn v9(p: &[u8]) -> Result<Class, Refusal> {
    if p.len() < V9_HEADER {
        return Err(Refusal::ShortHeader);
    }
    if p.len() == V9_HEADER {
        return Ok(class(Kind::NetflowV9, 9));
    }
    let len = be16(p, V9_HEADER + 2).map_err(|_| Refusal::V9SetLength)?;
    (4..=p.len() - V9_HEADER)
        .contains(&usize::from(len))
        .then(|| class(Kind::NetflowV9, 9))
        .ok_or(Refusal::V9SetLength)
}

const SFLOW_V4_HEADER: usize = 28;
const SFLOW_V6_HEADER: usize = 40;

fn sflow(p: &[u8]) -> Result<Class, Refusal> {
    let short = |_| Refusal::ShortHeader;
    let min = match (be32(p, 0).map_err(short)?, be32(p, 4).map_err(short)?) {
        (5, 1) => SFLOW_V4_HEADER,
        (5, 2) => SFLOW_V6_HEADER,
        _ => return Err(Refusal::UnknownVersion),
    };
    (p.len() >= min)
        .then(|| class(Kind::Sflow, 5))
        .ok_or(Refusal::ShortHeader)
}

/// An SNMP message: v1 or v2c with any PDU (the InformRequest flagged), or any v3 message (its PDU may be
/// encrypted).
/// Only the headers on the way to the PDU tag are read, not the whole message: enough to name the kind.
fn snmp(p: &[u8]) -> Result<Class, Refusal> {
    let msg = ber::peek(p, 0).ok_or(Refusal::NotSnmp)?;
    // `start` lies within `p` (its header was read from it), so the subtraction cannot underflow.
    if msg.tag != tag::SEQUENCE || msg.len > p.len() - msg.start {
        return Err(Refusal::NotSnmp);
    }
    let v = ber::peek(p, msg.start).ok_or(Refusal::NotSnmp)?;
    if v.tag != tag::INTEGER || v.len != 1 {
        return Err(Refusal::NotSnmp);
    }
    let version = byte(p, v.start).map_err(|_| Refusal::NotSnmp)?;
    if version == 3 {
        return Ok(class(Kind::Snmptrap, 3));
    }
    let community = ber::peek(p, v.start + 1).ok_or(Refusal::NotSnmp)?;
    if community.tag != tag::OCTET_STRING {
        return Err(Refusal::NotSnmp);
    }
    let pdu =
        byte(p, community.start.saturating_add(community.len)).map_err(|_| Refusal::NotSnmp)?;
    match (version, pdu) {
        (0, tag::TRAP_V1) | (1, tag::TRAP_V2) => Ok(class(Kind::Snmptrap, version)),
        (1, tag::INFORM) => Ok(Class {
            flags: FLAG_INFORM,
            ..class(Kind::Snmptrap, 1)
        }),
        (0 | 1, _) => Err(Refusal::NotNotification),
        _ => Err(Refusal::NotSnmp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(f: Family, p: &[u8]) -> Option<(Kind, u8)> {
        confirm(f, p).ok().map(|c| (c.kind, c.variant))
    }

    fn reason(f: Family, p: &[u8]) -> Refusal {
        confirm(f, p).expect_err("refused")
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
        assert_eq!(
            kind_of(
                Family::Syslog,
                b"58 <14>1 2026-12-07T08:15:02Z host app 42 ID7 - octet-counted"
            ),
            Some((Kind::Syslog, 2))
        );
        assert_eq!(
            kind_of(Family::Syslog, b"9 <13>hello10 <14>abcdef"),
            Some((Kind::Syslog, 1))
        );
        for bad in [
            &b"<192>x"[..],
            b"<>x",
            b"<1234>x",
            b"<12",
            b"<1a>",
            b"<999>x",
        ] {
            assert_eq!(reason(Family::Syslog, bad), Refusal::BadPri, "{bad:?}");
        }
        for bad in [
            &b"hello"[..],
            b"",
            b"Oct 11 22:14:15 host su: x",
            b"65 hello",
            b"58<14>x",
            b"123456789 <14>x",
        ] {
            assert_eq!(reason(Family::Syslog, bad), Refusal::NoPri, "{bad:?}");
        }
        assert_eq!(
            kind_of(Family::Syslog, b"65 <14>1 2003-10-11T22:14:15Z h a - - - m"),
            Some((Kind::Syslog, 2)),
            "octet-counted framing over UDP"
        );
    }

    #[test]
    fn netflow_versions() {
        let mut v5 = vec![0u8; 24 + 48];
        v5[1] = 5;
        v5[3] = 1;
        assert_eq!(kind_of(Family::Netflow, &v5), Some((Kind::NetflowV5, 5)));
        assert_eq!(
            reason(Family::Netflow, &v5[..50]),
            Refusal::V5Count,
            "count lies"
        );
        assert_eq!(reason(Family::Netflow, &v5[..20]), Refusal::ShortHeader);
        let mut v9 = vec![0u8; 20];
        v9[1] = 9;
        assert_eq!(kind_of(Family::Netflow, &v9), Some((Kind::NetflowV9, 9)));
        v9.extend_from_slice(&[0, 0, 0, 8, 1, 0, 0, 1]); // template flowset of 8 bytes
        assert_eq!(kind_of(Family::Netflow, &v9), Some((Kind::NetflowV9, 9)));
        v9[23] = 9;
        assert_eq!(
            reason(Family::Netflow, &v9),
            Refusal::V9SetLength,
            "flowset longer than the datagram"
        );
        v9[23] = 2;
        assert_eq!(
            reason(Family::Netflow, &v9),
            Refusal::V9SetLength,
            "flowset shorter than its header"
        );
        assert_eq!(reason(Family::Netflow, &v9[..21]), Refusal::V9SetLength);
        assert_eq!(reason(Family::Netflow, &v9[..19]), Refusal::ShortHeader);
        let mut ipfix = vec![0u8; 16];
        ipfix[1] = 10;
        ipfix[3] = 16;
        assert_eq!(kind_of(Family::Ipfix, &ipfix), Some((Kind::Ipfix, 10)));
        assert_eq!(kind_of(Family::Netflow, &ipfix), Some((Kind::Ipfix, 10)));
        ipfix[3] = 17;
        assert_eq!(
            reason(Family::Ipfix, &ipfix),
            Refusal::IpfixLength,
            "length lies"
        );
        ipfix[3] = 16;
        ipfix.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(
            kind_of(Family::Ipfix, &ipfix),
            Some((Kind::Ipfix, 10)),
            "two stray bytes after the message"
        );
        assert_eq!(
            reason(Family::Netflow, &[0, 7, 0, 0]),
            Refusal::UnknownVersion
        );
        assert_eq!(reason(Family::Netflow, &[0]), Refusal::ShortHeader);
    }

    #[test]
    fn sflow_header() {
        let mut s = vec![0u8; 28];
        s[3] = 5;
        s[7] = 1;
        assert_eq!(kind_of(Family::Sflow, &s), Some((Kind::Sflow, 5)));
        s[7] = 2;
        assert_eq!(
            reason(Family::Sflow, &s),
            Refusal::ShortHeader,
            "IPv6 agent needs 40 bytes"
        );
        s[3] = 4;
        assert_eq!(reason(Family::Sflow, &s), Refusal::UnknownVersion);
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
            assert_eq!(reason(Family::Snmptrap, &other), Refusal::NotNotification);
            other[4] = 0;
            assert_eq!(reason(Family::Snmptrap, &other), Refusal::NotNotification);
        }
        let mut v2_version = v2;
        v2_version[4] = 2;
        assert_eq!(reason(Family::Snmptrap, &v2_version), Refusal::NotSnmp);
        let v3 = [0x30, 0x03, 0x02, 0x01, 0x03];
        assert_eq!(kind_of(Family::Snmptrap, &v3), Some((Kind::Snmptrap, 3)));
        assert_eq!(
            reason(Family::Snmptrap, &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            Refusal::NotSnmp
        );
        assert_eq!(reason(Family::Snmptrap, &[0x30, 0x85]), Refusal::NotSnmp);
    }

    #[test]
    fn refusals_count_per_kind_and_reason() {
        let mut c = RefusalCounts::default();
        let m = |kind, reason| Mismatch { kind, reason };
        c.add(m(Kind::Syslog, Refusal::NoPri));
        c.add(m(Kind::Syslog, Refusal::NoPri));
        c.add(m(Kind::Ipfix, Refusal::IpfixLength));
        assert_eq!(c.total(), 3);
        assert_eq!(c.get(Kind::Syslog, Refusal::NoPri), 2);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            [
                (Kind::Syslog, Refusal::NoPri, 2),
                (Kind::Ipfix, Refusal::IpfixLength, 1)
            ]
        );
        assert_eq!(
            refusal(Kind::NetflowV5, &[0, 5, 0, 1]),
            Some(Refusal::ShortHeader)
        );
        assert_eq!(refusal(Kind::Syslog, b"<13>ok"), None);
        let names: std::collections::HashSet<_> = Refusal::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Refusal::COUNT);
        assert!(Refusal::ALL.iter().enumerate().all(|(i, r)| r.index() == i));
    }

    #[test]
    fn ports_decide_the_family() {
        let c = Classifier::default();
        assert_eq!(c.family(514), Some(Family::Syslog));
        assert_eq!(c.family(9996), Some(Family::Netflow));
        assert_eq!(c.classify(53, b"<1>x"), Verdict::Unwatched);
        assert_eq!(
            c.classify(514, b"garbage"),
            Verdict::Mismatch(Mismatch {
                kind: Kind::Syslog,
                reason: Refusal::NoPri
            })
        );
        let port_kind = |port, p: &[u8]| match c.classify(port, p) {
            Verdict::Mismatch(m) => m.kind,
            v => panic!("{v:?}"),
        };
        assert_eq!(port_kind(2055, &[0, 5, 0, 0]), Kind::NetflowV5);
        assert_eq!(port_kind(2055, &[0, 7, 0, 0]), Kind::NetflowV9);
        assert_eq!(port_kind(4739, &[0, 7, 0, 0]), Kind::Ipfix);
        assert_eq!(port_kind(2055, &[0, 10, 0, 99]), Kind::Ipfix);
        assert_eq!(port_kind(162, b"x"), Kind::Snmptrap);
        assert_eq!(port_kind(6343, b"x"), Kind::Sflow);
        assert_eq!(c.watched().count(), 7);
    }
}

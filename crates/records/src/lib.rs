//! Typed records decoded from telemetry datagrams, one JSON object each (docs/records.md).
//!
//! A [`Decoder`] takes a datagram with its capture metadata ([`Datagram`]) and hands each record to a callback:
//! a syslog message, a flow, a counter sample, a trap. It keeps the state decoding needs across datagrams —
//! NetFlow v9/IPFIX templates and sampling rates — within the bounds it was built with.
#![forbid(unsafe_code)]

pub mod netflow;
mod printer;
pub mod sflow;
pub mod snmp;
pub mod syslog;
pub mod value;

use std::net::IpAddr;

use serde::Serialize;
use wire::classify::{Mismatch, RefusalCounts};
use wire::kind::Kind;
use wire::netflow::cache::Limits;
use wire::netflow::Session;
use wire::snmp::Usm;
pub use wire::snmp::UsmError;

pub use printer::Printer;

/// A datagram to decode: its kind, exporter, capture time and payload.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    pub kind: Kind,
    pub exporter: IpAddr,
    /// Capture time, nanoseconds since the Unix epoch.
    pub received_ns: u64,
    pub payload: &'a [u8],
    /// Capture found that the payload does not fit its port's kind ([`wire::classify::FLAG_MISMATCHED`]):
    /// counted under its reason, then decoded as far as it goes.
    pub mismatched: bool,
}

/// A capture time as RFC 3339 UTC with microseconds (`2026-12-07T08:15:02.123456Z`), held inline: every record
/// of a datagram carries one, and a `String` each was an allocation per record.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Stamp([u8; Stamp::LEN]);

impl Stamp {
    /// `yyyy-mm-ddThh:mm:ss.uuuuuuZ`: a u64 of nanoseconds ends in year 2554, so the year has four digits.
    const LEN: usize = 27;

    /// The stamp of `ns`, reusing `last` when it falls in the same second (only the microseconds are written):
    /// datagrams come in bursts, and the calendar arithmetic is a visible share of a short message's cost.
    pub fn within(last: &Stamp, last_secs: u64, ns: u64) -> Self {
        if ns / 1_000_000_000 != last_secs {
            return Stamp::new(ns);
        }
        let mut b = last.0;
        value::put_digits(&mut b[20..26], ns / 1000 % 1_000_000);
        Stamp(b)
    }

    pub fn new(ns: u64) -> Self {
        let (y, mo, d, h, mi, s, us) = wire::timefmt::civil(ns);
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        value::put_date_time(&mut b, (y, mo, d, h, mi, s));
        value::put_digits(&mut b[20..26], u64::from(us));
        Stamp(b)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One record: what every record carries, then its own fields.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub kind: &'static str,
    pub record: &'static str,
    pub exporter: IpAddr,
    /// Capture time, RFC 3339 UTC with microseconds.
    pub received: Stamp,
    #[serde(flatten)]
    pub body: Body,
}

/// The record types.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Body {
    Message(syslog::Message),
    V5Flow(netflow::V5Flow),
    Flow(netflow::Flow),
    Options(netflow::OptionsRecord),
    Template(netflow::TemplateRecord),
    SflowFlow(sflow::SflowFlow),
    SflowCounters(sflow::SflowCounters),
    /// An sFlow sample of an enterprise or format this decoder does not read.
    SflowOther(sflow::SflowOther),
    Trap(snmp::Trap),
}

impl Body {
    /// The `record` field.
    pub fn name(&self) -> &'static str {
        match self {
            Body::Message(_) => "message",
            Body::V5Flow(_) | Body::Flow(_) | Body::SflowFlow(_) => "flow",
            Body::SflowCounters(_) => "counters",
            Body::SflowOther(_) => "other",
            Body::Trap(t) if t.pdu == "trap" || t.pdu == "trap-v1" || t.pdu == "inform" => "trap",
            Body::Trap(_) => "pdu",
            Body::Options(_) => "options",
            Body::Template(_) => "template",
        }
    }
}

/// Why a datagram (or part of it) did not decode.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    #[error("{0}")]
    Malformed(#[from] wire::WireError),
    #[error("data set for template {0} that was never received (or has expired)")]
    NoTemplate(u16),
    /// One v9/IPFIX set that could not be read; the datagram's other sets were decoded.
    #[error("set skipped: {0}")]
    BadSet(wire::WireError),
    #[error("{0}")]
    Snmp(#[from] wire::snmp::SnmpError),
}

/// Decoder settings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print v9/IPFIX templates as records of their own (`record` = `template`).
    pub templates: bool,
    pub limits: Limits,
    /// SNMPv3 users whose authenticated (and encrypted) messages can be decoded.
    pub snmp_users: Vec<wire::snmp::UsmUser>,
}

/// Counters of one decoder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub datagrams: u64,
    pub records: u64,
    /// Datagrams that could not be read at all (no header, not the kind they claim, no key for SNMPv3).
    pub malformed: u64,
    /// v9/IPFIX data sets skipped because their template is unknown (never received, or expired).
    pub sets_without_template: u64,
    /// Sets (or sFlow samples) that could not be read, in datagrams whose other parts decoded.
    pub sets_malformed: u64,
    /// SNMPv3 messages not decoded for want of keys: unknown user, no key for the level, failed
    /// authentication or decryption, or out of the time window (also counted in `malformed`).
    pub snmp_usm_failed: u64,
    /// `snmp_usm_failed` by reason.
    pub snmp_usm_errors: UsmErrors,
    /// SNMPv3 messages whose engine boots or time came as a negative INTEGER, read as unsigned (decoded).
    pub snmp_lenient_integers: u64,
    /// sFlow samples of an enterprise or format not read here (each printed as an `other` record).
    pub sflow_samples_unknown: u64,
    /// Bytes after an IPFIX message's stated length in its datagram (the message decoded, the tail not).
    pub ipfix_trailing_bytes: u64,
    /// Datagrams capture flagged as not fitting their port's kind (decoded as far as they go).
    pub mismatched: u64,
    /// `mismatched` per kind and the reason it did not fit.
    pub refused: RefusalCounts,
}

/// SNMPv3 messages refused by USM, per reason ([`wire::snmp::UsmReason`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UsmErrors {
    /// No user of that name is configured.
    pub unknown_user: u64,
    /// The user is configured only for other engines.
    pub unknown_engine: u64,
    /// The user has no key for the message's security level.
    pub no_key: u64,
    /// The MAC length is not the configured protocol's: the sender uses another algorithm.
    pub wrong_auth_protocol: u64,
    /// The MAC does not match: another password (or tampering).
    pub wrong_digest: u64,
    /// Older than what the engine already sent (RFC 3414 3.2 step 7).
    pub not_in_time_window: u64,
    /// The salt or the decrypted PDU was not right: another privacy password or algorithm.
    pub decryption_failed: u64,
}

impl UsmErrors {
    fn count(&mut self, reason: wire::snmp::UsmReason) {
        use wire::snmp::UsmReason as R;
        *match reason {
            R::UnknownUser => &mut self.unknown_user,
            R::UnknownEngine => &mut self.unknown_engine,
            R::NoKey => &mut self.no_key,
            R::WrongAuthProtocol => &mut self.wrong_auth_protocol,
            R::WrongDigest => &mut self.wrong_digest,
            R::NotInTimeWindow => &mut self.not_in_time_window,
            R::DecryptionFailed => &mut self.decryption_failed,
        } += 1;
    }
}

pub struct Decoder {
    options: Options,
    netflow: Session,
    usm: Usm,
    pub stats: Stats,
    /// The latest datagram's second and stamp ([`Stamp::within`]).
    last_stamp: (u64, Stamp),
}

impl Decoder {
    /// Fails only on an SNMP user list that cannot work (short password, duplicate name...).
    pub fn new(options: Options) -> Result<Self, UsmError> {
        Ok(Self {
            netflow: Session::new(options.limits),
            usm: Usm::new(options.snmp_users.clone())?,
            options,
            stats: Stats::default(),
            last_stamp: (0, Stamp::new(0)),
        })
    }

    pub fn template_stats(&self) -> wire::netflow::cache::CacheStats {
        self.netflow.stats()
    }

    /// Decodes one datagram, handing each record to `out`. Problems inside a datagram whose other parts
    /// decoded (a v9/IPFIX set without its template) are returned after those parts went out.
    pub fn decode(
        &mut self,
        d: &Datagram<'_>,
        out: &mut impl FnMut(Record),
    ) -> Result<(), Vec<DecodeError>> {
        self.stats.datagrams += 1;
        if d.mismatched {
            self.count_mismatched(d);
        }
        let received = Stamp::within(&self.last_stamp.1, self.last_stamp.0, d.received_ns);
        self.last_stamp = (d.received_ns / 1_000_000_000, received);
        let mut records = 0;
        let mut emit = |kind: &'static str, body: Body| {
            records += 1;
            out(Record {
                kind,
                record: body.name(),
                exporter: d.exporter,
                received,
                body,
            })
        };
        let problems = self.dispatch(d, &mut emit);
        self.stats.records += records;
        match problems {
            Ok(()) => Ok(()),
            Err(p) => {
                self.count(&p, records);
                Err(p)
            }
        }
    }

    fn count_mismatched(&mut self, d: &Datagram<'_>) {
        self.stats.mismatched += 1;
        if let Some(reason) = wire::classify::refusal(d.kind, d.payload) {
            self.stats.refused.add(Mismatch {
                kind: d.kind,
                reason,
            });
        }
    }

    /// Counts problems: a datagram that could not be read at all is `malformed`; skipped parts of one that
    /// could (v9/IPFIX sets, an sFlow sample after good ones) are `sets_without_template` / `sets_malformed`.
    fn count(&mut self, problems: &[DecodeError], records: u64) {
        for p in problems {
            match p {
                DecodeError::NoTemplate(_) => self.stats.sets_without_template += 1,
                DecodeError::BadSet(_) => self.stats.sets_malformed += 1,
                DecodeError::Malformed(_) if records > 0 => self.stats.sets_malformed += 1,
                DecodeError::Malformed(_) => self.stats.malformed += 1,
                DecodeError::Snmp(e) => {
                    self.stats.malformed += 1;
                    if let Some(reason) = e.usm_reason() {
                        self.stats.snmp_usm_failed += 1;
                        self.stats.snmp_usm_errors.count(reason);
                    }
                }
            }
        }
    }

    fn dispatch(
        &mut self,
        d: &Datagram<'_>,
        emit: &mut impl FnMut(&'static str, Body),
    ) -> Result<(), Vec<DecodeError>> {
        let one = |e: wire::WireError| vec![DecodeError::from(e)];
        match d.kind {
            Kind::Syslog => syslog::messages(d.payload, &mut |b| emit("syslog", b)).map_err(one),
            Kind::NetflowV5 => {
                netflow::v5_flows(d.payload, &mut |b| emit("netflow-v5", b)).map_err(one)
            }
            Kind::NetflowV9 | Kind::Ipfix => self.template_based(d, emit),
            Kind::Sflow => {
                let mut unknown = 0;
                let r = sflow::samples(d.payload, &mut |b| {
                    unknown += u64::from(matches!(b, Body::SflowOther(_)));
                    emit("sflow", b)
                });
                self.stats.sflow_samples_unknown += unknown;
                r.map_err(one)
            }
            Kind::Snmptrap => {
                let received_secs = d.received_ns / 1_000_000_000;
                let lenient = snmp::message(d.payload, &mut self.usm, received_secs, &mut |b| {
                    emit("snmptrap", b)
                })
                .map_err(|e| vec![e.into()])?;
                self.stats.snmp_lenient_integers += u64::from(lenient);
                Ok(())
            }
        }
    }

    fn template_based(
        &mut self,
        d: &Datagram<'_>,
        emit: &mut impl FnMut(&'static str, Body),
    ) -> Result<(), Vec<DecodeError>> {
        let mut problems = Vec::new();
        let templates = self.options.templates;
        let header = wire::netflow::header(d.payload)
            .map_err(|e| vec![e.into()])?
            .0;
        self.stats.ipfix_trailing_bytes += header.trailing_bytes as u64;
        let export = netflow::Export::from(&header);
        let kind = if export.version == 9 {
            "netflow-v9"
        } else {
            "ipfix"
        };
        let mut on_event =
            |e: wire::netflow::Event<'_>| match netflow::event(export, e, templates, &mut |b| {
                emit(kind, b)
            }) {
                netflow::Outcome::Ok => {}
                netflow::Outcome::NoTemplate(id) => problems.push(DecodeError::NoTemplate(id)),
                netflow::Outcome::Bad(e) => problems.push(DecodeError::BadSet(e)),
            };
        self.netflow
            .decode(
                d.exporter,
                d.received_ns / 1_000_000_000,
                d.payload,
                &mut on_event,
            )
            .map_err(|e| vec![e.into()])?;
        match problems.is_empty() {
            true => Ok(()),
            false => Err(problems),
        }
    }
}

/// Writes one record as a JSON line.
pub fn write_json(w: &mut impl std::io::Write, r: &Record) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, r)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests;

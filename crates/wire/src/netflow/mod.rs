//! NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011).
//!
//! v5 is stateless ([`v5::Packet`]). v9 and IPFIX need the templates an exporter sent earlier: a [`Session`]
//! keeps them per (exporter, observation domain) in a bounded [`cache::TemplateCache`], learns sampling rates
//! from options data, and hands every record of a datagram to a callback as an [`Event`] that borrows the
//! datagram and the cached template.

pub mod cache;
pub mod ie;
mod sampling;
pub mod split;
pub mod template;
pub mod v5;

use std::net::IpAddr;

use crate::error::{be16, be32, WireError};
use cache::{CacheStats, Limits, Scope, TemplateCache};
use sampling::Sampling;
use template::{Announcement, Fields, Template};

/// Template-based export protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    V9,
    Ipfix,
}

/// Message header lengths (also what classification checks a datagram against).
pub(crate) const V9_HEADER: usize = 20;
pub(crate) const IPFIX_HEADER: usize = 16;
const SET_HEADER: usize = 4;

/// The message header of a v9 or IPFIX datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub protocol: Protocol,
    /// v9: records (template and data) in the datagram, as the exporter counted them.
    pub count: Option<u16>,
    /// v9 only: milliseconds since the exporter booted.
    pub sys_uptime_ms: Option<u32>,
    /// Seconds since the Unix epoch.
    pub export_time: u32,
    /// v9: export datagrams so far; IPFIX: data records so far (per domain).
    pub sequence: u32,
    /// v9 source id / IPFIX observation domain id.
    pub domain: u32,
    /// IPFIX: bytes of the datagram after the message's stated length (not decoded); v9: 0.
    pub trailing_bytes: usize,
}

/// Reads the header of a v9 or IPFIX message; returns it and the bytes holding the sets.
pub fn header(p: &[u8]) -> Result<(Header, &[u8]), WireError> {
    match be16(p, 0)? {
        9 => v9_header(p),
        10 => ipfix_header(p),
        _ => Err(WireError::new("netflow: version is neither 9 nor 10", 0)),
    }
}

fn v9_header(p: &[u8]) -> Result<(Header, &[u8]), WireError> {
    let h = Header {
        protocol: Protocol::V9,
        count: Some(be16(p, 2)?),
        sys_uptime_ms: Some(be32(p, 4)?),
        export_time: be32(p, 8)?,
        sequence: be32(p, 12)?,
        domain: be32(p, 16)?,
        trailing_bytes: 0,
    };
    Ok((h, &p[V9_HEADER..]))
}

fn ipfix_header(p: &[u8]) -> Result<(Header, &[u8]), WireError> {
    let len = usize::from(be16(p, 2)?);
    if len < IPFIX_HEADER {
        return Err(WireError::new("ipfix: message length below 16", 2));
    }
    let sets = p.get(IPFIX_HEADER..len).ok_or(WireError::new(
        "ipfix: message length exceeds the datagram",
        2,
    ))?;
    let h = Header {
        protocol: Protocol::Ipfix,
        count: None,
        sys_uptime_ms: None,
        export_time: be32(p, 4)?,
        sequence: be32(p, 8)?,
        domain: be32(p, 12)?,
        trailing_bytes: p.len() - len,
    };
    Ok((h, sets))
}

/// One data record with the template that describes it.
#[derive(Debug, Clone, Copy)]
pub struct DataRecord<'a> {
    pub template: &'a Template,
    pub bytes: &'a [u8],
    /// 1-in-N packet sampling that applies to this flow (from the record itself or from options data).
    pub sampling_rate: Option<u32>,
}

impl<'a> DataRecord<'a> {
    pub fn fields(&self) -> Fields<'a, 'a> {
        self.template.fields_of(self.bytes)
    }
}

/// What a datagram carried, in order.
#[derive(Debug)]
pub enum Event<'a> {
    /// A template or options template was learned or refreshed.
    Template(&'a Template),
    Flow(DataRecord<'a>),
    /// A record of an options template (exporter statistics, sampling, interface names...).
    Options(DataRecord<'a>),
    /// A data set whose template is not (or no longer) known: its bytes are skipped.
    NoTemplate {
        template_id: u16,
        bytes: usize,
    },
    /// A set that could not be read; decoding goes on with the next set when the set length allows.
    BadSet(WireError),
}

/// Template and sampling state over many exporters.
pub struct Session {
    cache: TemplateCache,
    sampling: Sampling,
}

impl Default for Session {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Session {
    pub fn new(limits: Limits) -> Self {
        Self {
            sampling: Sampling::new(limits.max_templates),
            cache: TemplateCache::new(limits),
        }
    }

    pub fn stats(&self) -> CacheStats {
        self.cache.stats
    }

    pub fn templates(&self) -> usize {
        self.cache.len()
    }

    /// Decodes one v9 or IPFIX datagram from `exporter` received at `now` (seconds). An all-zero tail after
    /// the last set is padding (exporters that fill a datagram to a fixed size send one), not a bad set. A header error is
    /// returned; set-level problems are reported as events and the other sets still decode.
    pub fn decode(
        &mut self,
        exporter: IpAddr,
        now: u64,
        p: &[u8],
        out: &mut impl FnMut(Event<'_>),
    ) -> Result<Header, WireError> {
        let (h, mut sets) = header(p)?;
        let scope = Scope {
            exporter,
            domain: h.domain,
            protocol: h.protocol,
        };
        let mut at = p.len() - sets.len();
        while sets.len() >= SET_HEADER && !is_padding(sets) {
            let (id, len) = (be16(sets, 0)?, usize::from(be16(sets, 2)?));
            if len < SET_HEADER || len > sets.len() {
                out(Event::BadSet(WireError::new(
                    "netflow: set length out of bounds",
                    at + 2,
                )));
                break;
            }
            self.set(
                scope,
                id,
                &sets[SET_HEADER..len],
                (now, at + SET_HEADER),
                out,
            );
            sets = &sets[len..];
            at += len;
        }
        Ok(h)
    }

    /// One set; `(now, base)` is the clock and the offset of the set body in the datagram.
    fn set(
        &mut self,
        scope: Scope,
        id: u16,
        body: &[u8],
        (now, base): (u64, usize),
        out: &mut impl FnMut(Event<'_>),
    ) {
        match (scope.protocol, id) {
            (Protocol::V9, 0) | (Protocol::Ipfix, 2) => {
                self.template_set(scope, false, body, (now, base), out)
            }
            (Protocol::V9, 1) | (Protocol::Ipfix, 3) => {
                self.template_set(scope, true, body, (now, base), out)
            }
            (_, 256..) => self.data(scope, id, body, now, out),
            _ => {} // reserved set ids are skipped
        }
    }

    fn template_set(
        &mut self,
        scope: Scope,
        options: bool,
        body: &[u8],
        (now, base): (u64, usize),
        out: &mut impl FnMut(Event<'_>),
    ) {
        let cache = &mut self.cache;
        let learn = &mut |a: Announcement| match a {
            Announcement::Define(t) => {
                out(Event::Template(&t));
                cache.insert(scope, t, now);
            }
            Announcement::Withdraw(id) => cache.withdraw(scope, id),
        };
        if let Err(e) = template::parse_set(scope.protocol, options, body, learn) {
            out(Event::BadSet(WireError::new(e.what, e.offset + base)));
        }
    }

    fn data(
        &mut self,
        scope: Scope,
        id: u16,
        body: &[u8],
        now: u64,
        out: &mut impl FnMut(Event<'_>),
    ) {
        let Self { cache, sampling } = self;
        let Some(t) = cache.get(scope, id, now) else {
            out(Event::NoTemplate {
                template_id: id,
                bytes: body.len(),
            });
            return;
        };
        let mut rest = body;
        while let Some((bytes, r)) = t.split_record(rest) {
            rest = r;
            let mut rec = DataRecord {
                template: t,
                bytes,
                sampling_rate: None,
            };
            if t.options {
                sampling.learn(scope, &rec);
                out(Event::Options(rec));
            } else {
                rec.sampling_rate = sampling.rate(scope, &rec);
                out(Event::Flow(rec));
            }
        }
    }
}

/// A big-endian unsigned integer of 1..=8 bytes (IPFIX reduced-size encoding).
pub fn uint(v: &[u8]) -> Option<u64> {
    (1..=8)
        .contains(&v.len())
        .then(|| v.iter().fold(0u64, |n, b| n << 8 | u64::from(*b)))
}

/// Whether what follows the last set is only padding: zero bytes. No set looks like that (a length of 0 is
/// shorter than any set header), so nothing readable is skipped.
pub(crate) fn is_padding(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests;

//! sFlow version 5, zero-copy: the datagram header, flow and counter samples (compact and expanded) and their
//! records, and the sampled packet header inside a raw header record ([`RawHeader::decode`]).
//!
//! Everything borrows the datagram; nothing is allocated, whatever a count or length claims. Decoding is
//! tolerant: samples and records come from iterators of `Result`, so a bad sample is an error item while the
//! samples before it stay usable. An iterator stops after its first error (the framing after a bad length
//! cannot be trusted) or after its count. Unknown sample and record formats are kept as
//! [`Sample::Unknown`] / [`FlowRecord::Unknown`] / [`CounterRecord::Unknown`] with their bytes. Error
//! offsets are relative to the start of the datagram.

mod counters;
mod flow;
mod packet;
#[cfg(test)]
mod testing;
mod view;

use std::net::IpAddr;

use crate::error::WireError;
use view::{address, View};

pub use counters::{CounterRecord, CounterSample, EthCounters, IfCounters, Processor};
pub use flow::{FlowRecord, FlowSample, Gateway, Interface, IpData, RawHeader};
pub use packet::{
    decode_header, SampledIp, SampledPacket, HEADER_ETHERNET, HEADER_IPV4, HEADER_IPV6,
};
pub use view::Items;

pub const VERSION: u32 = 5;

const SAMPLE_FLOW: u32 = 1;
const SAMPLE_COUNTERS: u32 = 2;
const SAMPLE_FLOW_EXPANDED: u32 = 3;
const SAMPLE_COUNTERS_EXPANDED: u32 = 4;

const VERSION_AT: usize = 0;
const AGENT_AT: usize = 4;
/// After the agent address (4 or 16 bytes): offsets from its end.
const SUB_AGENT: usize = 0;
const SEQUENCE: usize = 4;
const UPTIME: usize = 8;
const NUM_SAMPLES: usize = 12;
const HEADER_TAIL: usize = 16;

/// Iterators over samples and records: each item is a decoded entry or the error that ended the walk.
pub type Samples<'a> = Items<'a, Sample<'a>>;
pub type FlowRecords<'a> = Items<'a, FlowRecord<'a>>;
pub type CounterRecords<'a> = Items<'a, CounterRecord<'a>>;

/// A checked datagram header; the samples are decoded lazily by [`Datagram::samples`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub agent: IpAddr,
    pub sub_agent_id: u32,
    /// Datagrams sent by this sub-agent before this one.
    pub sequence: u32,
    /// Milliseconds since the agent booted.
    pub uptime_ms: u32,
    /// How many samples the header announces (not checked against the data: see [`Datagram::samples`]).
    pub num_samples: u32,
    samples: View<'a>,
}

/// One sample. `Unknown` keeps a sample of another enterprise or format as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample<'a> {
    Flow(FlowSample<'a>),
    Counters(CounterSample<'a>),
    Unknown {
        enterprise: u32,
        format: u32,
        data: &'a [u8],
    },
}

/// Checks the datagram header: version 5, an IPv4 or IPv6 agent address, and the fixed fields.
pub fn parse(p: &[u8]) -> Result<Datagram<'_>, WireError> {
    let v = View::new(p, 0);
    if v.u32(VERSION_AT)? != VERSION {
        return Err(WireError::new("sFlow: version is not 5", VERSION_AT));
    }
    let (agent, at) = address(&v, AGENT_AT)?;
    let tail = v.sub(at, HEADER_TAIL, "sFlow: datagram header truncated")?;
    Ok(Datagram {
        agent,
        sub_agent_id: tail.u32(SUB_AGENT)?,
        sequence: tail.u32(SEQUENCE)?,
        uptime_ms: tail.u32(UPTIME)?,
        num_samples: tail.u32(NUM_SAMPLES)?,
        samples: v.rest(at + HEADER_TAIL),
    })
}

impl<'a> Datagram<'a> {
    /// The samples, in order. Yields at most `num_samples` items; if the data ends first, the last item is an
    /// error. Bytes after the last sample are ignored.
    pub fn samples(&self) -> Samples<'a> {
        Items::new(
            self.samples,
            self.num_samples,
            &view::SAMPLES,
            Sample::decode,
        )
    }
}

impl<'a> Sample<'a> {
    fn decode(e: view::Entry<'a>) -> Result<Self, WireError> {
        match (e.enterprise, e.format) {
            (0, SAMPLE_FLOW) => FlowSample::parse(e.data, false).map(Sample::Flow),
            (0, SAMPLE_FLOW_EXPANDED) => FlowSample::parse(e.data, true).map(Sample::Flow),
            (0, SAMPLE_COUNTERS) => CounterSample::parse(e.data, false).map(Sample::Counters),
            (0, SAMPLE_COUNTERS_EXPANDED) => {
                CounterSample::parse(e.data, true).map(Sample::Counters)
            }
            (enterprise, format) => Ok(Sample::Unknown {
                enterprise,
                format,
                data: e.data.bytes(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::testing::*;
    use super::*;

    #[test]
    fn header_fields_v4_and_v6() {
        let p = datagram_v4([192, 0, 2, 1], 7, &[]);
        let d = parse(&p).unwrap();
        assert_eq!(d.agent, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(
            (d.sub_agent_id, d.sequence, d.uptime_ms),
            (3, 7, 86_400_000)
        );
        assert_eq!(d.num_samples, 0);
        assert_eq!(d.samples().count(), 0);
        let mut p6 = words(&[5, 2]);
        p6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p6.extend(words(&[9, 10, 11, 0]));
        let d = parse(&p6).unwrap();
        assert_eq!(d.agent, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!((d.sub_agent_id, d.sequence, d.uptime_ms), (9, 10, 11));
    }

    #[test]
    fn bad_headers_are_errors() {
        let p = datagram_v4([192, 0, 2, 1], 7, &[]);
        for n in 0..p.len() {
            assert!(parse(&p[..n]).is_err(), "{n}");
        }
        let mut bad = p.clone();
        bad[3] = 4;
        assert_eq!(parse(&bad).unwrap_err().offset, 0);
        let mut bad = p;
        bad[7] = 3;
        assert_eq!(parse(&bad).unwrap_err().offset, AGENT_AT);
    }

    #[test]
    fn unknown_sample_is_kept() {
        let s = sample((42 << 12) | 7, &[1, 2, 3, 4, 5]);
        let p = datagram_v4([10, 0, 0, 1], 1, &[s]);
        let d = parse(&p).unwrap();
        let all: Vec<_> = d.samples().collect();
        assert_eq!(
            all,
            [Ok(Sample::Unknown {
                enterprise: 42,
                format: 7,
                data: &[1, 2, 3, 4, 5][..]
            })]
        );
    }

    #[test]
    fn bad_sample_after_a_good_one() {
        let good = sample(SAMPLE_COUNTERS, &counter_sample_body(5, 0, &[]));
        let short = sample(SAMPLE_FLOW, &words(&[1, 2, 3]));
        let p = datagram_v4([10, 0, 0, 1], 1, &[good.clone(), short, good]);
        let d = parse(&p).unwrap();
        let all: Vec<_> = d.samples().collect();
        assert_eq!(all.len(), 2);
        assert!(matches!(all[0], Ok(Sample::Counters(c)) if c.sequence == 5));
        let e = all[1].unwrap_err();
        assert_eq!(e.offset, 28 + good_len() + 8);
    }

    fn good_len() -> usize {
        8 + counter_sample_body(5, 0, &[]).len()
    }

    #[test]
    fn huge_counts_and_lengths_end_in_one_error() {
        let good = sample(SAMPLE_COUNTERS, &counter_sample_body(5, 0, &[]));
        let mut p = datagram_v4([10, 0, 0, 1], 1, &[good]);
        p[24..28].copy_from_slice(&u32::MAX.to_be_bytes());
        let d = parse(&p).unwrap();
        assert_eq!(d.samples().size_hint(), (0, Some(3)));
        let all: Vec<_> = d.samples().collect();
        assert_eq!(all.len(), 2);
        assert!(all[0].is_ok());
        assert_eq!(all[1].unwrap_err().offset, p.len());
        p[32..36].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        let all: Vec<_> = parse(&p).unwrap().samples().collect();
        assert_eq!(all, [Err(WireError::new(view::SAMPLES.length, 32))]);
    }

    #[test]
    fn truncation_at_every_length_never_panics() {
        let p = pmacct();
        for n in 0..=p.len() {
            walk(&p[..n]);
        }
        let mut q = p.to_vec();
        for i in 0..q.len() {
            let old = q[i];
            for b in [0, 1, 0x7f, 0xff] {
                q[i] = b;
                walk(&q);
            }
            q[i] = old;
        }
    }
}

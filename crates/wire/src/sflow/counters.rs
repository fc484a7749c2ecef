//! Counter samples (compact format 2, expanded format 4) and their records.

use super::flow::{source_id, SEQUENCE};
use super::view::{Entry, Items, View, COUNTER_RECORDS};
use super::CounterRecords;
use crate::error::WireError;

const RECORD_GENERIC: u32 = 1;
const RECORD_ETHERNET: u32 = 2;
const RECORD_PROCESSOR: u32 = 1001;

const COMPACT_NUM_RECORDS: usize = 8;
const COMPACT_LEN: usize = 12;
const EXPANDED_NUM_RECORDS: usize = 12;
const EXPANDED_LEN: usize = 16;

const IF_INDEX: usize = 0;
const IF_TYPE: usize = 4;
const IF_SPEED: usize = 8;
const IF_DIRECTION: usize = 16;
const IF_STATUS: usize = 20;
const IF_IN_OCTETS: usize = 24;
const IF_IN_UCAST: usize = 32;
const IF_IN_MULTICAST: usize = 36;
const IF_IN_BROADCAST: usize = 40;
const IF_IN_DISCARDS: usize = 44;
const IF_IN_ERRORS: usize = 48;
const IF_IN_UNKNOWN_PROTOS: usize = 52;
const IF_OUT_OCTETS: usize = 56;
const IF_OUT_UCAST: usize = 64;
const IF_OUT_MULTICAST: usize = 68;
const IF_OUT_BROADCAST: usize = 72;
const IF_OUT_DISCARDS: usize = 76;
const IF_OUT_ERRORS: usize = 80;
const IF_PROMISCUOUS: usize = 84;
const IF_FIXED: usize = 88;

/// The 13 dot3Stats counters, one word each, in this order.
const ETH_COUNTERS: usize = 13;
const ETH_FIXED: usize = ETH_COUNTERS * 4;

const CPU_5S: usize = 0;
const CPU_1M: usize = 4;
const CPU_5M: usize = 8;
const TOTAL_MEMORY: usize = 12;
const FREE_MEMORY: usize = 20;
const PROCESSOR_FIXED: usize = 28;

/// A counter sample: the source (compact: 8-bit type and 24-bit index) and its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterSample<'a> {
    pub expanded: bool,
    pub sequence: u32,
    pub source_id_type: u32,
    pub source_id_index: u32,
    pub num_records: u32,
    records: View<'a>,
}

/// One counter record. `Unknown` keeps a record of another enterprise or format as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterRecord<'a> {
    Generic(IfCounters),
    Ethernet(EthCounters),
    Processor(Processor),
    Unknown {
        enterprise: u32,
        format: u32,
        data: &'a [u8],
    },
}

/// Generic interface counters (format 1), as in the IF-MIB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct IfCounters {
    pub if_index: u32,
    pub if_type: u32,
    /// Bits per second.
    pub if_speed: u64,
    /// 0: unknown, 1: full duplex, 2: half duplex, 3: in, 4: out.
    pub if_direction: u32,
    /// Bit 0: admin up, bit 1: oper up.
    pub if_status: u32,
    pub in_octets: u64,
    pub in_ucast_pkts: u32,
    pub in_multicast_pkts: u32,
    pub in_broadcast_pkts: u32,
    pub in_discards: u32,
    pub in_errors: u32,
    pub in_unknown_protos: u32,
    pub out_octets: u64,
    pub out_ucast_pkts: u32,
    pub out_multicast_pkts: u32,
    pub out_broadcast_pkts: u32,
    pub out_discards: u32,
    pub out_errors: u32,
    pub promiscuous_mode: u32,
}

/// Ethernet interface counters (format 2): the dot3Stats table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EthCounters {
    pub alignment_errors: u32,
    pub fcs_errors: u32,
    pub single_collision_frames: u32,
    pub multiple_collision_frames: u32,
    pub sqe_test_errors: u32,
    pub deferred_transmissions: u32,
    pub late_collisions: u32,
    pub excessive_collisions: u32,
    pub internal_mac_transmit_errors: u32,
    pub carrier_sense_errors: u32,
    pub frame_too_longs: u32,
    pub internal_mac_receive_errors: u32,
    pub symbol_errors: u32,
}

/// Processor information (format 1001). CPU loads are in hundredths of a percent; memory in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Processor {
    pub cpu_5s: u32,
    pub cpu_1m: u32,
    pub cpu_5m: u32,
    pub total_memory: u64,
    pub free_memory: u64,
}

impl<'a> CounterSample<'a> {
    pub(super) fn parse(data: View<'a>, expanded: bool) -> Result<Self, WireError> {
        let (num, len, what) = if expanded {
            let what = "sFlow: expanded counter sample shorter than 16 bytes";
            (EXPANDED_NUM_RECORDS, EXPANDED_LEN, what)
        } else {
            let what = "sFlow: counter sample shorter than 12 bytes";
            (COMPACT_NUM_RECORDS, COMPACT_LEN, what)
        };
        let v = data.fixed(len, what)?;
        let (source_id_type, source_id_index) = source_id(&v, expanded)?;
        Ok(Self {
            expanded,
            sequence: v.u32(SEQUENCE)?,
            source_id_type,
            source_id_index,
            num_records: v.u32(num)?,
            records: data.rest(len),
        })
    }

    /// The records, in order: at most `num_records`, ending early after the first error.
    pub fn records(&self) -> CounterRecords<'a> {
        Items::new(
            self.records,
            self.num_records,
            &COUNTER_RECORDS,
            CounterRecord::decode,
        )
    }
}

impl<'a> CounterRecord<'a> {
    fn decode(e: Entry<'a>) -> Result<Self, WireError> {
        match (e.enterprise, e.format) {
            (0, RECORD_GENERIC) => IfCounters::parse(e.data).map(Self::Generic),
            (0, RECORD_ETHERNET) => EthCounters::parse(e.data).map(Self::Ethernet),
            (0, RECORD_PROCESSOR) => Processor::parse(e.data).map(Self::Processor),
            (enterprise, format) => Ok(Self::Unknown {
                enterprise,
                format,
                data: e.data.bytes(),
            }),
        }
    }
}

impl IfCounters {
    fn parse(data: View<'_>) -> Result<Self, WireError> {
        let v = data.fixed(
            IF_FIXED,
            "sFlow: generic interface counters shorter than 88 bytes",
        )?;
        Ok(Self {
            if_index: v.u32(IF_INDEX)?,
            if_type: v.u32(IF_TYPE)?,
            if_speed: v.u64(IF_SPEED)?,
            if_direction: v.u32(IF_DIRECTION)?,
            if_status: v.u32(IF_STATUS)?,
            in_octets: v.u64(IF_IN_OCTETS)?,
            in_ucast_pkts: v.u32(IF_IN_UCAST)?,
            in_multicast_pkts: v.u32(IF_IN_MULTICAST)?,
            in_broadcast_pkts: v.u32(IF_IN_BROADCAST)?,
            in_discards: v.u32(IF_IN_DISCARDS)?,
            in_errors: v.u32(IF_IN_ERRORS)?,
            in_unknown_protos: v.u32(IF_IN_UNKNOWN_PROTOS)?,
            out_octets: v.u64(IF_OUT_OCTETS)?,
            out_ucast_pkts: v.u32(IF_OUT_UCAST)?,
            out_multicast_pkts: v.u32(IF_OUT_MULTICAST)?,
            out_broadcast_pkts: v.u32(IF_OUT_BROADCAST)?,
            out_discards: v.u32(IF_OUT_DISCARDS)?,
            out_errors: v.u32(IF_OUT_ERRORS)?,
            promiscuous_mode: v.u32(IF_PROMISCUOUS)?,
        })
    }
}

impl EthCounters {
    fn parse(data: View<'_>) -> Result<Self, WireError> {
        let v = data.fixed(ETH_FIXED, "sFlow: Ethernet counters shorter than 52 bytes")?;
        let c = |i: usize| v.u32(i * 4);
        Ok(Self {
            alignment_errors: c(0)?,
            fcs_errors: c(1)?,
            single_collision_frames: c(2)?,
            multiple_collision_frames: c(3)?,
            sqe_test_errors: c(4)?,
            deferred_transmissions: c(5)?,
            late_collisions: c(6)?,
            excessive_collisions: c(7)?,
            internal_mac_transmit_errors: c(8)?,
            carrier_sense_errors: c(9)?,
            frame_too_longs: c(10)?,
            internal_mac_receive_errors: c(11)?,
            symbol_errors: c(12)?,
        })
    }
}

impl Processor {
    fn parse(data: View<'_>) -> Result<Self, WireError> {
        let v = data.fixed(
            PROCESSOR_FIXED,
            "sFlow: processor counters shorter than 28 bytes",
        )?;
        Ok(Self {
            cpu_5s: v.u32(CPU_5S)?,
            cpu_1m: v.u32(CPU_1M)?,
            cpu_5m: v.u32(CPU_5M)?,
            total_memory: v.u64(TOTAL_MEMORY)?,
            free_memory: v.u64(FREE_MEMORY)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{parse, Sample};
    use super::*;

    fn generic() -> Vec<u8> {
        let mut b = words(&[5, 6]);
        b.extend(10_000_000_000u64.to_be_bytes());
        b.extend(words(&[1, 3]));
        b.extend(0x1_0000_0001u64.to_be_bytes());
        b.extend(words(&[11, 12, 13, 14, 15, 16]));
        b.extend(0x2_0000_0002u64.to_be_bytes());
        b.extend(words(&[21, 22, 23, 24, 25, 1]));
        b
    }

    fn counters(p: &[u8]) -> CounterSample<'_> {
        let Some(Ok(Sample::Counters(c))) = parse(p).unwrap().samples().next() else {
            panic!("not a counter sample")
        };
        c
    }

    #[test]
    fn generic_ethernet_processor_and_unknown() {
        let eth: Vec<u32> = (100..113).collect();
        let mut cpu = words(&[150, 250, 350, 0, 1 << 30]);
        cpu.extend(0x8000u64.to_be_bytes());
        let recs = [
            record(1, &generic()),
            record(2, &words(&eth)),
            record(1001, &cpu),
            record((4300 << 12) | 3, &[9; 6]),
        ];
        let body = counter_sample_body(8, (2 << 24) | 17, &recs);
        let p = datagram_v4([10, 0, 0, 1], 1, &[sample(2, &body)]);
        let c = counters(&p);
        assert!(!c.expanded);
        assert_eq!(
            (
                c.sequence,
                c.source_id_type,
                c.source_id_index,
                c.num_records
            ),
            (8, 2, 17, 4)
        );
        let got: Vec<_> = c.records().map(Result::unwrap).collect();
        let CounterRecord::Generic(g) = got[0] else {
            panic!()
        };
        assert_eq!((g.if_index, g.if_type, g.if_speed), (5, 6, 10_000_000_000));
        assert_eq!(
            (g.if_direction, g.if_status, g.in_octets),
            (1, 3, 0x1_0000_0001)
        );
        assert_eq!(
            (g.in_ucast_pkts, g.in_multicast_pkts, g.in_broadcast_pkts),
            (11, 12, 13)
        );
        assert_eq!(
            (g.in_discards, g.in_errors, g.in_unknown_protos),
            (14, 15, 16)
        );
        assert_eq!(
            (g.out_octets, g.out_ucast_pkts, g.out_multicast_pkts),
            (0x2_0000_0002, 21, 22)
        );
        assert_eq!(
            (g.out_broadcast_pkts, g.out_discards, g.out_errors),
            (23, 24, 25)
        );
        assert_eq!(g.promiscuous_mode, 1);
        let CounterRecord::Ethernet(e) = got[1] else {
            panic!()
        };
        assert_eq!(
            (e.alignment_errors, e.fcs_errors, e.single_collision_frames),
            (100, 101, 102)
        );
        assert_eq!((e.multiple_collision_frames, e.sqe_test_errors), (103, 104));
        assert_eq!(
            (
                e.deferred_transmissions,
                e.late_collisions,
                e.excessive_collisions
            ),
            (105, 106, 107)
        );
        assert_eq!(
            (e.internal_mac_transmit_errors, e.carrier_sense_errors),
            (108, 109)
        );
        assert_eq!(
            (
                e.frame_too_longs,
                e.internal_mac_receive_errors,
                e.symbol_errors
            ),
            (110, 111, 112)
        );
        let expected = Processor {
            cpu_5s: 150,
            cpu_1m: 250,
            cpu_5m: 350,
            total_memory: 1 << 30,
            free_memory: 0x8000,
        };
        assert_eq!(got[2], CounterRecord::Processor(expected));
        let unknown = CounterRecord::Unknown {
            enterprise: 4300,
            format: 3,
            data: &[9; 6],
        };
        assert_eq!(got[3], unknown);
    }

    #[test]
    fn expanded_counter_sample() {
        let mut body = words(&[3, 1, 0x0123_4567, 1]);
        body.extend(record(1, &generic()));
        let p = datagram_v4([10, 0, 0, 1], 1, &[sample(4, &body)]);
        let c = counters(&p);
        assert!(c.expanded);
        assert_eq!(
            (c.sequence, c.source_id_type, c.source_id_index),
            (3, 1, 0x0123_4567)
        );
        let got: Vec<_> = c.records().collect();
        assert!(matches!(got[..], [Ok(CounterRecord::Generic(g))] if g.out_errors == 25));
    }

    #[test]
    fn short_records_and_samples_are_errors() {
        let short = generic()[..84].to_vec();
        let body = counter_sample_body(1, 1, &[record(2, &[0; 52]), record(1, &short)]);
        let p = datagram_v4([10, 0, 0, 1], 1, &[sample(2, &body)]);
        let got: Vec<_> = counters(&p).records().collect();
        assert!(got[0].is_ok());
        let e = got[1].unwrap_err();
        assert_eq!(
            e.what,
            "sFlow: generic interface counters shorter than 88 bytes"
        );
        assert_eq!(e.offset, 28 + 8 + 12 + 60 + 8);
        let p = datagram_v4([10, 0, 0, 1], 1, &[sample(4, &words(&[1, 2, 3]))]);
        let e = parse(&p).unwrap().samples().next().unwrap().unwrap_err();
        assert_eq!(
            e,
            WireError::new("sFlow: expanded counter sample shorter than 16 bytes", 36)
        );
    }
}

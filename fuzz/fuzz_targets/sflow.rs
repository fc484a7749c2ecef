//! The sFlow decoder: walks every sample and record and decodes every sampled header. Never a panic; every
//! borrowed slice lies inside the input; no iterator yields more than its count or goes on after an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::sflow::{self, CounterSample, FlowRecord, FlowSample, Sample};

fn check_items<T>(items: impl Iterator<Item = Result<T, wire::WireError>>, count: u32, len: usize) {
    let mut n = 0u64;
    let mut failed = false;
    for item in items {
        assert!(!failed, "an item after an error");
        failed = item.is_err();
        if let Err(e) = item {
            assert!(e.offset <= len, "error offset {} past {len}", e.offset);
        }
        n += 1;
    }
    assert!(n <= u64::from(count));
}

fn flow(f: &FlowSample<'_>, data: &[u8]) {
    check_items(f.records(), f.num_records, data.len());
    for r in f.records().flatten() {
        match r {
            FlowRecord::RawHeader(h) => {
                assert!(h.header.len() <= data.len());
                if let Err(e) = h.decode() {
                    assert!(e.offset <= data.len());
                }
            }
            FlowRecord::Unknown { data: d, .. } => assert!(d.len() <= data.len()),
            FlowRecord::ExtendedGateway(g) => assert!(g.tail.len() <= data.len()),
            _ => {}
        }
    }
}

fn counters(c: &CounterSample<'_>, data: &[u8]) {
    check_items(c.records(), c.num_records, data.len());
}

fuzz_target!(|data: &[u8]| {
    let Ok(d) = sflow::parse(data) else { return };
    check_items(d.samples(), d.num_samples, data.len());
    for s in d.samples().flatten() {
        match s {
            Sample::Flow(f) => flow(&f, data),
            Sample::Counters(c) => counters(&c, data),
            Sample::Unknown { data: u, .. } => assert!(u.len() <= data.len()),
        }
    }
});

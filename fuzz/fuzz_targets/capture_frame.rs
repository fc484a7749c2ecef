//! The capture path's packet parsing: link header, encapsulations (PPPoE, MPLS, IP-in-IP, GRE/ERSPAN, VXLAN),
//! IP, fragments (with small caps), UDP, classification.
//! The first byte picks the link type; the rest is a sequence of frames, each prefixed by a 2-byte length.
#![no_main]

use capture::{DefragConfig, FrameParser, LoopGuard};
use libfuzzer_sys::fuzz_target;
use wire::classify::Classifier;
use wire::link::LinkType;

const LINKS: [LinkType; 6] = [
    LinkType::ETHERNET,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::RAW,
];
const CAP: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(first) % LINKS.len()];
    let cfg = DefragConfig {
        max_bytes: CAP,
        max_datagrams: 16,
        timeout_ns: 1_000,
    };
    let mut d = FrameParser::new(
        Classifier::default(),
        cfg,
        LoopGuard::new(vec![51400], vec!["192.0.2.1".parse().unwrap()]),
    );
    let mut ts = 0;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = &rest[2..2 + len];
        rest = &rest[2 + len..];
        ts += 100;
        if let Some(c) = d.frame(link, ts, frame) {
            assert!(c.payload.len() <= 65535);
        }
        assert!(d.stats().defrag.held_bytes as usize <= CAP);
    }
});

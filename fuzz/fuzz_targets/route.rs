//! Forward's routing rules over hostile payloads: the facts a rule reads (syslog facility, severity, host,
//! app and text; SNMP version, community and trap OID; the v9/IPFIX domain) are decoded lazily from the
//! datagram. Routing never panics, names only configured destinations and groups, and gives the same
//! verdict twice.
//!
//! Input: byte 0 picks the kind (or none), bytes 1..5 the IPv4 exporter, the rest is the payload.
#![no_main]

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};

use forward::route::{Facts, Router, Target, Verdict};
use libfuzzer_sys::fuzz_target;
use wire::kind::Kind;

/// Two destinations, a group, and one rule per kind of fact, so every decoder behind `Facts` runs.
const RULES: &str = r#"
[[forward.destination]]
name = "a"
url = "udp://127.0.0.1:9"
kinds = ["netflow"]
[[forward.destination]]
name = "b"
url = "udp://127.0.0.1:10"
[[forward.group]]
name = "g"
members = ["a", "b"]
[[forward.rule]]
match.severities = ["err", "crit"]
match.facilities = ["local3"]
to = ["a"]
[[forward.rule]]
match.hosts = ["edge1"]
match.apps = ["sshd"]
to = ["g"]
[[forward.rule]]
match.message = "(?i)link.*down"
to = ["b"]
[[forward.rule]]
match.trap_oids = ["1.3.6.1.6.3.1.1.5"]
match.communities = ["public"]
to = ["b"]
[[forward.rule]]
match.snmp_versions = ["1", "3"]
to = ["a", "g"]
[[forward.rule]]
match.domains = [0, 1, 256]
to = ["a"]
[[forward.rule]]
match.exporters = ["192.0.2.0/24"]
drop = true
"#;

thread_local! {
    static ROUTER: RefCell<(Router, usize, usize)> = RefCell::new({
        let cfg = config::Config::parse("route.toml", RULES).expect("the fuzz rules load");
        let f = &cfg.forward;
        (Router::new(f).expect("the fuzz rules compile"), f.destination.len(), f.group.len())
    });
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let kind = Kind::ALL
        .get(usize::from(pick) % (Kind::ALL.len() + 1))
        .copied();
    let (addr, payload) = rest.split_at(rest.len().min(4));
    let mut octets = [0u8; 4];
    octets[..addr.len()].copy_from_slice(addr);
    let exporter = IpAddr::V4(Ipv4Addr::from(octets));
    ROUTER.with_borrow_mut(|(router, dests, groups)| {
        let first = router.route(&Facts::new(kind, exporter, payload));
        let again = router.route(&Facts::new(kind, exporter, payload));
        assert_eq!(first, again, "routing is a function of the datagram");
        if let Verdict::To(targets) = first {
            assert!(!targets.is_empty());
            for t in targets {
                match t {
                    Target::Dest(d) => assert!(d < *dests),
                    Target::Group(g) => assert!(g < *groups),
                }
            }
        }
    });
});

//! The BPF program for live capture: UDP to the watched ports, except a local forwarder's own output (the
//! loop guard), plus every IP fragment (non-first fragments carry no UDP header, so a port filter alone would
//! lose them), plus every packet of the encapsulations capture walks through (IP-in-IP, GRE, VXLAN, PPPoE
//! sessions, MPLS): BPF cannot look inside them, so the inner port is checked after capture.

use wire::classify::Classifier;

use crate::guard::LoopGuard;

pub fn build(classifier: &Classifier, guard: &LoopGuard) -> String {
    let ports: Vec<String> = classifier
        .watched()
        .map(|(p, _)| format!("dst port {p}"))
        .collect();
    let mut udp = format!("udp and ({})", ports.join(" or "));
    if let Some(own) = guard.bpf() {
        udp.push_str(&format!(" and not ({own})"));
    }
    format!("({udp}) or (ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44) or {TUNNELS}")
}

/// Carriers of encapsulated traffic. `ether proto` rather than libpcap's `pppoes`/`mpls` keywords, which
/// shift the offsets of every test after them.
const TUNNELS: &str = "(ip proto 4 or ip proto 41 or ip proto 47 or ip6 proto 4 or ip6 proto 41 or \
                       ip6 proto 47) or (udp dst port 4789) or (ether proto 0x8864 or ether proto 0x8847 or \
                       ether proto 0x8848)";

#[cfg(test)]
mod tests {
    use super::*;
    use wire::kind::Family;

    #[test]
    fn names_ports_guard_and_fragments() {
        let mut c = Classifier::empty();
        c.set(514, Family::Syslog);
        c.set(2055, Family::Netflow);
        let f = build(&c, &LoopGuard::new(vec![51400], vec![]));
        assert_eq!(
            f,
            "(udp and (dst port 514 or dst port 2055) and not ((src port 51400) and (src net 127.0.0.0/8 or \
             src host ::1))) or (ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44) or (ip proto 4 or \
             ip proto 41 or ip proto 47 or ip6 proto 4 or ip6 proto 41 or ip6 proto 47) or (udp dst port 4789) \
             or (ether proto 0x8864 or ether proto 0x8847 or ether proto 0x8848)"
        );
    }
}

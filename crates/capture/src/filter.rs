//! The BPF program for live capture: UDP to the watched ports, except a local forwarder's own output (the
//! loop guard), plus every IP fragment (non-first fragments carry no UDP header, so a port filter alone would
//! lose them).

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
    format!("({udp}) or (ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)")
}

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
             src host ::1))) or (ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)"
        );
    }
}

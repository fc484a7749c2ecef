//! The BPF program for live capture: UDP to the watched ports, not from a forwarder's loop-guard port, plus
//! every IP fragment (non-first fragments carry no UDP header, so a port filter alone would lose them).

use wire::classify::Classifier;

pub fn build(classifier: &Classifier, guard_ports: &[u16]) -> String {
    let ports: Vec<String> = classifier
        .watched()
        .map(|(p, _)| format!("dst port {p}"))
        .collect();
    let mut udp = format!("udp and ({})", ports.join(" or "));
    for g in guard_ports {
        udp.push_str(&format!(" and not src port {g}"));
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
        let f = build(&c, &[51400]);
        assert_eq!(
            f,
            "(udp and (dst port 514 or dst port 2055) and not src port 51400) or (ip and ip[6:2] & 0x3fff != 0) \
             or (ip6 and ip6[6] == 44)"
        );
    }
}

//! The loop guard: a datagram is a forwarder's own output — never to be published again — when it leaves
//! from a guard source port *and* from one of this host's own addresses. A forwarder on another host that
//! happens to send from the same port (e.g. chained into this capture's listener) is not affected.

use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoopGuard {
    ports: Vec<u16>,
    /// This host's addresses besides loopback (loopback always counts as local).
    local: Vec<IpAddr>,
}

impl LoopGuard {
    pub fn new(ports: Vec<u16>, local: Vec<IpAddr>) -> Self {
        let local = local.into_iter().filter(|a| !a.is_loopback()).collect();
        Self { ports, local }
    }

    /// A guard for `ports` with this host's interface addresses.
    pub fn for_this_host(ports: Vec<u16>) -> Self {
        Self::new(ports, local_addresses())
    }

    pub fn is_own(&self, src: SocketAddr) -> bool {
        let ip = src.ip().to_canonical();
        self.ports.contains(&src.port()) && (ip.is_loopback() || self.local.contains(&ip))
    }

    /// The BPF expression matching the guarded traffic (for `not (...)`), or `None` when nothing is guarded.
    pub fn bpf(&self) -> Option<String> {
        if self.ports.is_empty() {
            return None;
        }
        let ports: Vec<String> = self.ports.iter().map(|p| format!("src port {p}")).collect();
        let mut hosts = vec!["src net 127.0.0.0/8".to_owned(), "src host ::1".to_owned()];
        hosts.extend(self.local.iter().map(|a| format!("src host {a}")));
        Some(format!(
            "({}) and ({})",
            ports.join(" or "),
            hosts.join(" or ")
        ))
    }
}

/// Every address configured on this host's interfaces (IPv6 link-local ones left out: a forwarder does not
/// send from them, and their scope makes them ambiguous).
pub fn local_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out: Vec<IpAddr> = addrs
        .filter_map(|i| i.address)
        .filter_map(|a| {
            if let Some(v4) = a.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .filter(|a| !matches!(a, IpAddr::V6(v6) if v6.is_unicast_link_local()))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_output_is_local_and_from_a_guard_port() {
        let g = LoopGuard::new(
            vec![51400],
            vec!["192.0.2.1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
        );
        let own = |s: &str| g.is_own(s.parse().unwrap());
        assert!(own("127.0.0.1:51400") && own("127.9.9.9:51400") && own("[::1]:51400"));
        assert!(own("192.0.2.1:51400") && own("[::ffff:192.0.2.1]:51400"));
        assert!(!own("198.51.100.7:51400"), "another host's forwarder");
        assert!(!own("127.0.0.1:51401"));
        assert_eq!(
            g.bpf().unwrap(),
            "(src port 51400) and (src net 127.0.0.0/8 or src host ::1 or src host 192.0.2.1)"
        );
        assert_eq!(LoopGuard::new(vec![], vec![]).bpf(), None);
    }

    #[test]
    fn this_host_has_loopback_at_least() {
        assert!(local_addresses().iter().all(|a| !a.is_unspecified()));
    }
}

//! The topic scheme: `<kind>/b<bucket>/<exporter>/`, every part closed by `/` so that prefixes never match
//! half a field.

use std::io::Write;
use std::net::IpAddr;

use crate::header::addr_bytes;

/// Number of exporter-affinity buckets.
pub const BUCKETS: u32 = 64;

/// FNV-1a (32-bit) of the 16-byte address field, modulo [`BUCKETS`].
pub fn bucket(addr_field: &[u8; 16]) -> u8 {
    let h = addr_field.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (h % BUCKETS) as u8
}

/// The bucket of an exporter address.
pub fn exporter_bucket(exporter: IpAddr) -> u8 {
    bucket(&addr_bytes(exporter))
}

/// Writes the topic of a datagram of `kind_name` from `exporter` (in `bucket`) into `out` (cleared first).
pub fn write_topic(kind_name: &str, exporter: IpAddr, bucket: u8, out: &mut Vec<u8>) {
    out.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{kind_name}/b{bucket:02}/{exporter}/");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(kind: &str, a: &str) -> String {
        let mut v = Vec::new();
        let a = a.parse().unwrap();
        write_topic(kind, a, exporter_bucket(a), &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn shape_and_separators() {
        let t = topic("syslog", "10.0.0.1");
        assert!(
            t.starts_with("syslog/b") && t.ends_with("/10.0.0.1/"),
            "{t}"
        );
        assert_eq!(t.len(), "syslog/b00/10.0.0.1/".len());
        let t10 = topic("syslog", "10.0.0.10");
        assert!(!t10.starts_with(&t));
        assert!(topic("netflow-v9", "2001:db8::1").ends_with("/2001:db8::1/"));
    }

    #[test]
    fn bucket_is_fnv1a_of_the_mapped_address() {
        // Values computed independently (Python, from docs/wire-format.md): FNV-1a over the 16 bytes, mod 64.
        assert_eq!(exporter_bucket("192.0.2.10".parse().unwrap()), 27);
        assert_eq!(bucket(&[0u8; 16]), 5); // FNV-1a of 16 zero bytes is 0x69691905
        assert_ne!(
            exporter_bucket("10.0.0.1".parse().unwrap()),
            exporter_bucket("10.0.0.2".parse().unwrap())
        );
    }
}

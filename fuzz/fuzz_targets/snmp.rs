//! The SNMP decoder: a message or an error, never a panic; what it returns stays within its caps.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use wire::snmp::{self, AuthProtocol, PrivProtocol, Usm, UsmUser};

/// One SHA + AES user, keyed once: the password expansion costs a megabyte of hashing.
fn usm() -> &'static Mutex<Usm> {
    static USM: OnceLock<Mutex<Usm>> = OnceLock::new();
    USM.get_or_init(|| {
        let user = UsmUser {
            name: b"privuser".to_vec(),
            auth: Some((AuthProtocol::HmacSha, b"authpass123".to_vec())),
            privacy: Some((PrivProtocol::Aes128Cfb, b"privpass123".to_vec())),
        };
        Mutex::new(Usm::new(vec![user]).expect("valid user"))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut usm = usm().lock().unwrap_or_else(|e| e.into_inner());
    if let Ok(m) = snmp::parse(data, &mut usm) {
        assert!(m.pdu.varbinds.len() <= snmp::MAX_VARBINDS);
        for vb in &m.pdu.varbinds {
            assert!(vb.oid.arcs().len() <= snmp::MAX_ARCS);
            assert!(!vb.oid.to_string().is_empty());
        }
        let _ = (m.trap_oid(), m.uptime());
    }
});

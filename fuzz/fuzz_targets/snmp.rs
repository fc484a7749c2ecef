//! The SNMP decoder: a message or an error, never a panic; what it returns stays within its caps.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use wire::snmp::{self, AuthProtocol as A, PrivProtocol as P, Usm, UsmUser};

/// The users of the captured seeds (crates/wire/tests/data/snmp/README): one per algorithm pair, so that every
/// authentication, cipher and key extension is reached. Keyed once: each password expansion costs a megabyte of
/// hashing.
const USERS: [(&str, A, Option<P>); 18] = [
    ("privuser", A::HmacSha, Some(P::Aes128Cfb)),
    ("sha224", A::HmacSha224, None),
    ("sha256", A::HmacSha256, None),
    ("sha384", A::HmacSha384, None),
    ("sha512", A::HmacSha512, None),
    ("md5_des", A::HmacMd5, Some(P::Des)),
    ("sha_des", A::HmacSha, Some(P::Des)),
    ("sha512_des", A::HmacSha512, Some(P::Des)),
    ("sha256_aes128", A::HmacSha256, Some(P::Aes128Cfb)),
    ("sha_aes192", A::HmacSha, Some(P::Aes192Cfb)),
    ("sha_aes256", A::HmacSha, Some(P::Aes256Cfb)),
    ("sha_aes192c", A::HmacSha, Some(P::Aes192CfbCisco)),
    ("sha_aes256c", A::HmacSha, Some(P::Aes256CfbCisco)),
    ("md5_aes256", A::HmacMd5, Some(P::Aes256Cfb)),
    ("md5_aes256c", A::HmacMd5, Some(P::Aes256CfbCisco)),
    ("sha224_aes256", A::HmacSha224, Some(P::Aes256Cfb)),
    ("sha224_aes256c", A::HmacSha224, Some(P::Aes256CfbCisco)),
    ("sha512_aes256", A::HmacSha512, Some(P::Aes256Cfb)),
];

fn usm() -> &'static Mutex<Usm> {
    static USM: OnceLock<Mutex<Usm>> = OnceLock::new();
    USM.get_or_init(|| {
        let users = USERS.iter().map(|(name, auth, privacy)| UsmUser {
            name: name.as_bytes().to_vec(),
            engine_id: None,
            auth: Some((*auth, b"authpass123".to_vec())),
            privacy: privacy.map(|p| (p, b"privpass123".to_vec())),
        });
        Mutex::new(Usm::new(users.collect()).expect("valid users"))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut usm = usm().lock().unwrap_or_else(|e| e.into_inner());
    // Without receive times the time window still compares each engine's boots/time with the latest seen.
    match snmp::parse(data, &mut usm) {
        Ok(m) => {
            assert!(m.pdu.varbinds.len() <= snmp::MAX_VARBINDS);
            for vb in &m.pdu.varbinds {
                assert!(vb.oid.arcs().len() <= snmp::MAX_ARCS);
                assert!(!vb.oid.to_string().is_empty());
            }
            let _ = (m.trap_oid(), m.uptime());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});

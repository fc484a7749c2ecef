//! Capture's SNMPv3 engine and forward's reading of an engine's answers: an outcome, never a panic; every
//! answer the engine writes reads back as the answer it is, and the inform it hands over reads in clear.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use wire::snmp::answer::{self, AnswerKind};
use wire::snmp::engine::{Engine, Outcome};
use wire::snmp::{self, AuthProtocol as A, PduKind, PrivProtocol as P, UserKeys, Usm, UsmUser};

/// The engine of the seeds (fuzz/examples/seeds.rs writes informs addressed to it).
pub const ENGINE_ID: &[u8] = b"\x80\x00\x1f\x88\x04fuzz";
const BOOTS: u32 = 5;
const NOW: u32 = 1000;

fn users() -> Vec<UsmUser> {
    [
        ("sha_aes", A::HmacSha, Some(P::Aes128Cfb)),
        ("md5", A::HmacMd5, None),
        ("sha256_des", A::HmacSha256, Some(P::Des)),
    ]
    .into_iter()
    .map(|(name, auth, privacy)| UsmUser {
        name: name.as_bytes().to_vec(),
        engine_id: None,
        auth: Some((auth, b"authpass123".to_vec())),
        privacy: privacy.map(|p| (p, b"privpass123".to_vec())),
    })
    .collect()
}

struct State {
    engine: Engine,
    keys: Vec<wire::snmp::LocalKeys>,
}

fn state() -> &'static Mutex<State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE.get_or_init(|| {
        let keys = users()
            .iter()
            .map(|u| UserKeys::new(u).expect("valid user").localise(ENGINE_ID))
            .collect();
        let engine = Engine::new(ENGINE_ID.to_vec(), BOOTS, users(), 1).expect("valid engine");
        Mutex::new(State { engine, keys })
    })
}

fuzz_target!(|data: &[u8]| {
    let mut s = state().lock().unwrap_or_else(|e| e.into_inner());
    let State { engine, keys } = &mut *s;
    for k in keys.iter() {
        let _ = answer::read(data, Some(k));
    }
    let _ = answer::read(data, None);
    match engine.receive(data, NOW) {
        Outcome::NotForUs => {}
        Outcome::Inform {
            plain, response, ..
        } => {
            let m = snmp::parse(&plain, &mut Usm::default()).expect("the inform in clear reads");
            assert_eq!(m.pdu.kind, PduKind::Inform);
            let read = keys.iter().find_map(|k| answer::read(&response, Some(k)));
            assert!(
                read.is_some_and(|a| a.kind == AnswerKind::Response),
                "the Response reads back"
            );
        }
        Outcome::Refused {
            report: Some(report),
            ..
        } => {
            let read = answer::read(&report, None)
                .or_else(|| keys.iter().find_map(|k| answer::read(&report, Some(k))));
            assert!(
                read.is_some_and(|a| matches!(a.kind, AnswerKind::Report(Some(_)))),
                "the Report reads back"
            );
        }
        Outcome::Refused { report: None, .. } => {}
    }
});

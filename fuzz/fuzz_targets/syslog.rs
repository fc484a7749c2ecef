//! The syslog decoder: a message or an error, never a panic; every field lies inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = wire::syslog::parse(data) {
        assert!(m.message.len() <= data.len());
        assert!(m.facility < 24 && m.severity < 8);
    }
});

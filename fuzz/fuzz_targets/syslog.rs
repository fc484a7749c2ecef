//! The syslog decoder: a message or an error, never a panic; every field lies inside the input, and only
//! empty input is an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// `part` is a slice of `whole`.
fn inside(whole: &[u8], part: &[u8]) -> bool {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

fuzz_target!(|data: &[u8]| {
    match wire::syslog::parse(data) {
        Ok(m) => {
            assert!(m.facility < 24 && m.severity < 8);
            assert!(m.has_pri || (m.facility, m.severity) == (1, 5));
            let fields = [
                m.timestamp,
                m.hostname,
                m.app,
                m.procid,
                m.msgid,
                m.structured_data,
            ];
            for f in fields.into_iter().flatten().chain([m.message]) {
                assert!(inside(data, f));
            }
        }
        Err(_) => assert!(data.is_empty()),
    }
});

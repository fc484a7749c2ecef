//! Payload confirmation for every family.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::classify::confirm;
use wire::kind::Family;

fuzz_target!(|data: &[u8]| {
    for f in Family::ALL {
        let _ = confirm(f, data);
    }
});

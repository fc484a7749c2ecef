//! The envelope reader: a checked view must never panic, whatever the body.
#![no_main]

use envelope::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Envelope::new_checked(data) {
        let h = e.header();
        let mut again = Vec::new();
        h.encode(e.payload(), &mut again);
        assert_eq!(
            Envelope::new_checked(&again[..])
                .map(|x| x.payload().len())
                .ok(),
            Some(e.payload().len())
        );
        let _ = (e.kind(), e.interface(), e.src(), e.dst());
    }
});

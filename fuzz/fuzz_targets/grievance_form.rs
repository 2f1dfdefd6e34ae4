//! Fuzz target: the grievance form (issue 36) as the public page `/reclamos` posts it — any
//! bytes as an `application/x-www-form-urlencoded` body, decoded as the server does, then
//! checked as the server checks it (`vamos_app::fuzzing::grievance_form`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) {
        vamos_app::fuzzing::grievance_form(pairs);
    }
});

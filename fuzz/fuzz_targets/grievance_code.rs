//! Fuzz target: any text typed as a grievance's tracking code (the public `/reclamos/<code>` and
//! `/api/grievances/track/<code>` take it from the path): parsing never panics, and whatever
//! parses is shown in a form that parses back to the same code.
#![no_main]
libfuzzer_sys::fuzz_target!(|s: &str| {
    use vamos_domain::grievance::TrackingCode;
    if let Some(c) = TrackingCode::parse(s) {
        assert_eq!(TrackingCode::parse(&c.display()), Some(c));
    }
});

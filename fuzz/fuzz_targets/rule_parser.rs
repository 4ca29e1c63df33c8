//! Fuzzes the rule parser with arbitrary UTF-8 text.
//!
//! Rules may come from API callers, so the parser must never panic, overflow
//! its stack or hang, whatever it is given. When the text does parse, the
//! canonical printing of the tree must parse back to the same tree (spans
//! ignored), which is the promise the printer makes to `strata sql` and to
//! rules frozen from clusters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = strata_rules::parse(text) else {
        return;
    };
    let printed = expr.to_string();
    let reparsed = match strata_rules::parse(&printed) {
        Ok(reparsed) => reparsed,
        Err(error) => panic!("{text:?} printed as {printed:?}, which fails to parse: {error}"),
    };
    assert_eq!(
        reparsed.strip_spans(),
        expr.strip_spans(),
        "{text:?} printed as {printed:?} parses to a different tree"
    );
    assert_eq!(
        reparsed.to_string(),
        printed,
        "printing is not stable for {text:?}"
    );
});

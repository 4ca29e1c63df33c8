//! Fuzzes rule text through the checker into SQL for every dialect.
//!
//! Rule text comes from project files and API callers and ends up in SQL
//! that runs in a warehouse. Whatever the text, a rule that checks must
//! print, in each dialect, as SQL that the dialect's parser reads as exactly
//! one select item of `SELECT <rule> AS x FROM t`: no second statement, no
//! comment swallowing the rest, no string that ends early.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_core::rules::{Schema, ValueType, check_predicate};
use strata_core::sql::{Dialect, one_select_item, rule_sql};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let schema = Schema::new([
        ("employees".to_string(), ValueType::Integer),
        ("arr".to_string(), ValueType::Float),
        ("plan".to_string(), ValueType::Text),
        ("odd \"name\"".to_string(), ValueType::Text),
        ("created_at".to_string(), ValueType::Timestamp),
        ("is_paying".to_string(), ValueType::Boolean),
    ]);
    let Ok(rule) = check_predicate(text, &schema) else {
        return;
    };
    for dialect in Dialect::ALL {
        // sqlparser's PostgreSQL and DuckDB tokenizers read a backslash as an
        // escape, which those servers do not (standard_conforming_strings).
        if text.contains('\\') && matches!(dialect, Dialect::Postgres | Dialect::DuckDb) {
            continue;
        }
        let Ok(sql) = rule_sql(&rule, dialect) else {
            continue;
        };
        if let Err(problem) = one_select_item(&sql, dialect) {
            panic!("{text:?} in {}: {problem}", dialect.name());
        }
    }
});

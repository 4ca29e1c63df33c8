//! Empty: this package exists to make `cargo fetch` download
//! datafusion-sqllogictest's test files.

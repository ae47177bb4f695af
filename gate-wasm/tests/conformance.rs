//! The golden conformance vectors (`tests/conformance/*.json`) run against the native engine.
//!
//! Each case builds a snapshot from its account at `issued_at`, runs its checks and compares
//! every Decision, serialised to JSON, with the expected one field for field. The same vectors
//! run in Node against the wasm package and in the Worker, so every runtime answers alike; the
//! format is documented in `tests/conformance/README.md`.
//!
//! Every failure of every file is collected first and reported together, so one run shows the
//! whole picture rather than the first disagreement.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use tollgate_gate::{Account, Catalog, Gate, Timestamp, build_snapshot};

/// The file of catalogs that must be rejected; every other `*.json` holds decision vectors.
const CATALOG_ERRORS: &str = "catalog_errors.json";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    #[allow(dead_code, reason = "documentation for readers of the file")]
    description: String,
    catalog: Option<String>,
    catalog_file: Option<String>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    catalog: Option<String>,
    catalog_file: Option<String>,
    account: Value,
    issued_at: String,
    now: String,
    checks: Vec<Check>,
    expected: Vec<Value>,
    /// The snapshot's `lease` of every exact feature, when the case states it.
    leases: Option<BTreeMap<String, u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    feature: String,
    #[serde(default = "one")]
    amount: u64,
    now: Option<String>,
}

fn one() -> u64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorFile {
    #[allow(dead_code, reason = "documentation for readers of the file")]
    description: String,
    cases: Vec<ErrorCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorCase {
    name: String,
    catalog: String,
    error: ExpectedError,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    code: String,
    message_contains: Vec<String>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn vector_files() -> Vec<PathBuf> {
    let dir = repo_root().join("tests").join("conformance");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no conformance vectors in {}",
        dir.display()
    );
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn timestamp(text: &str) -> Result<Timestamp, String> {
    serde_json::from_value(Value::String(text.to_owned()))
        .map_err(|e| format!("bad instant {text:?}: {e}"))
}

/// The catalog a case runs against: its own, else its file's; inline TOML or a file under the
/// repository root.
fn catalog_text(file: &VectorFile, case: &Case) -> Result<String, String> {
    let (inline, path) = match (&case.catalog, &case.catalog_file) {
        (None, None) => (&file.catalog, &file.catalog_file),
        own => own,
    };
    match (inline, path) {
        (Some(toml), None) => Ok(toml.clone()),
        (None, Some(path)) => fs::read_to_string(repo_root().join(path))
            .map_err(|e| format!("cannot read catalog_file {path}: {e}")),
        (Some(_), Some(_)) => Err("both catalog and catalog_file are given".to_owned()),
        (None, None) => Err("no catalog for this case".to_owned()),
    }
}

/// The fields in which two decisions differ, for a readable report.
fn differing_fields(expected: &Value, actual: &Value) -> Vec<String> {
    let (Some(expected), Some(actual)) = (expected.as_object(), actual.as_object()) else {
        return vec!["(not both objects)".to_owned()];
    };
    let keys: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    keys.into_iter()
        .filter(|key| expected.get(*key) != actual.get(*key))
        .map(|key| {
            let show = |v: Option<&Value>| v.map_or("(absent)".to_owned(), Value::to_string);
            format!(
                "{key}: expected {} got {}",
                show(expected.get(key)),
                show(actual.get(key))
            )
        })
        .collect()
}

/// Runs one case; returns (checks run, failures).
fn run_case(file: &VectorFile, case: &Case) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    if case.checks.len() != case.expected.len() {
        failures.push(format!(
            "{} checks but {} expected decisions",
            case.checks.len(),
            case.expected.len()
        ));
        return (0, failures);
    }
    let setup = || -> Result<_, String> {
        let toml = catalog_text(file, case)?;
        let catalog =
            Catalog::parse(&toml).map_err(|e| format!("catalog rejected ({}): {e}", e.code()))?;
        let account: Account = serde_json::from_value(case.account.clone())
            .map_err(|e| format!("account does not deserialize: {e}"))?;
        let issued_at = timestamp(&case.issued_at)?;
        let now = timestamp(&case.now)?;
        let snapshot = build_snapshot(&catalog, &account, issued_at);
        let wire = serde_json::to_string(&snapshot)
            .map_err(|e| format!("snapshot does not serialize: {e}"))?;
        Ok((snapshot, wire, now))
    };
    let (snapshot, wire, case_now) = match setup() {
        Ok(ready) => ready,
        Err(e) => {
            failures.push(e);
            return (0, failures);
        }
    };
    let gate = match Gate::new(&snapshot) {
        Ok(gate) => gate,
        Err(e) => {
            failures.push(format!("Gate::new refused the snapshot: {e}"));
            return (0, failures);
        }
    };
    // The edge reads the snapshot back from its JSON: it must decide exactly alike.
    let wire_gate = match Gate::from_json(&wire) {
        Ok(gate) => Some(gate),
        Err(e) => {
            failures.push(format!(
                "Gate::from_json refused the serialized snapshot: {e}"
            ));
            None
        }
    };
    if let Some(expected) = &case.leases {
        let actual: BTreeMap<String, u64> = snapshot
            .features
            .iter()
            .filter_map(|(key, f)| Some((key.clone(), f.lease?)))
            .collect();
        if &actual != expected {
            failures.push(format!(
                "leases: expected {expected:?}, the snapshot has {actual:?}"
            ));
        }
    }
    for (index, (check, expected)) in case.checks.iter().zip(&case.expected).enumerate() {
        let now = match check.now.as_deref().map(timestamp).transpose() {
            Ok(now) => now.unwrap_or(case_now),
            Err(e) => {
                failures.push(format!("check {index}: {e}"));
                continue;
            }
        };
        let label = format!(
            "check {index} ({} x{} at {})",
            check.feature,
            check.amount,
            check.now.as_deref().unwrap_or(&case.now)
        );
        let actual = serde_json::to_value(gate.check(&check.feature, check.amount, now)).unwrap();
        if &actual != expected {
            failures.push(format!(
                "{label}\n      expected {expected}\n      actual   {actual}\n      differs  {}",
                differing_fields(expected, &actual).join("; ")
            ));
        }
        if let Some(wire_gate) = &wire_gate {
            let from_wire =
                serde_json::to_value(wire_gate.check(&check.feature, check.amount, now)).unwrap();
            if from_wire != actual {
                failures.push(format!(
                    "{label}: the snapshot read back from JSON decides differently\n      \
                     direct    {actual}\n      from JSON {from_wire}"
                ));
            }
        }
    }
    (case.checks.len(), failures)
}

#[test]
fn decisions_match_the_golden_vectors() {
    let mut report = Vec::new();
    let (mut cases, mut checks) = (0, 0);
    for path in vector_files() {
        let name = file_name(&path);
        if name == CATALOG_ERRORS {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let file: VectorFile = match serde_json::from_str(&text) {
            Ok(file) => file,
            Err(e) => {
                report.push(format!("{name}: not a vector file: {e}"));
                continue;
            }
        };
        let mut seen = BTreeMap::new();
        for case in &file.cases {
            cases += 1;
            if seen.insert(case.name.as_str(), ()).is_some() {
                report.push(format!("{name} / {}: duplicate case name", case.name));
            }
            let (ran, failures) = run_case(&file, case);
            checks += ran;
            for failure in failures {
                report.push(format!("{name} / {}: {failure}", case.name));
            }
        }
    }
    assert!(cases > 0, "no conformance cases found");
    assert!(
        report.is_empty(),
        "{} conformance failure(s) over {cases} cases and {checks} checks:\n\n{}",
        report.len(),
        report.join("\n\n")
    );
}

#[test]
fn bad_catalogs_are_rejected_with_their_code_and_place() {
    let path = repo_root()
        .join("tests")
        .join("conformance")
        .join(CATALOG_ERRORS);
    let file: ErrorFile = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert!(!file.cases.is_empty(), "no catalog error cases");
    let mut report = Vec::new();
    for case in &file.cases {
        match Catalog::parse(&case.catalog) {
            Ok(_) => report.push(format!(
                "{}: accepted, expected {}",
                case.name, case.error.code
            )),
            Err(e) => {
                let message = e.to_string();
                if e.code() != case.error.code {
                    report.push(format!(
                        "{}: code {} (expected {}), message: {message}",
                        case.name,
                        e.code(),
                        case.error.code
                    ));
                }
                for needle in &case.error.message_contains {
                    if !message.contains(needle.as_str()) {
                        report.push(format!(
                            "{}: message {message:?} does not name {needle:?}",
                            case.name
                        ));
                    }
                }
            }
        }
    }
    assert!(
        report.is_empty(),
        "{} catalog error failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

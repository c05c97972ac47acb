//! The JSON report validates against docs/report.schema.json, and the
//! schema is strict enough to reject a report that drifts from it.

mod common;

use common::{check_json, fixture};
use serde_json::Value;

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json"),
    )
    .expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

#[test]
fn report_on_all_fixtures_validates() {
    let (_, report) = check_json(&[&fixture("seeds"), &fixture("extract")]);
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(&report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(report["links"].as_array().unwrap().len() > 100);
}

#[test]
fn schema_rejects_unknown_status() {
    let (_, mut report) = check_json(&[&fixture("seeds")]);
    report["links"][0]["status"] = "fine".into();
    assert!(!validator().is_valid(&report));
    let (_, mut report) = check_json(&[&fixture("seeds")]);
    report["links"][0]["extra"] = 1.into();
    assert!(!validator().is_valid(&report));
}

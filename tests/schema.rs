//! The JSON report validates against docs/report.schema.json, and the
//! schema is strict enough to reject a report that drifts from it; the
//! `--prom-file` metrics of a run agree with its report wherever the
//! report goes (a file, stdout, nowhere).

mod common;

use common::{archive, assert_schema, check_json, fixture, walk};
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
    assert_schema(&report);
    assert!(report["links"].as_array().unwrap().len() > 100);
}

/// Schema 2.2.0: a report file is streamed, links first, and closed by
/// `generated_at` and the summary; it says the same as the report on
/// stdout, and its folder holds nothing else after the run.
#[test]
fn a_report_file_has_the_links_first_the_summary_last_and_says_what_stdout_says() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, "the previous report").unwrap();
    let seeds = fixture("seeds").display().to_string();
    let to_file = archive(&[
        "--check",
        "--offline",
        "--report",
        path.to_str().unwrap(),
        &seeds,
    ]);
    assert_eq!(
        to_file.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&to_file.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let at = |key: &str| {
        text.find(&format!("\n  \"{key}\": "))
            .unwrap_or_else(|| panic!("no top-level {key}"))
    };
    let order = [
        "schema_version",
        "tool",
        "mode",
        "config",
        "links",
        "documents",
        "findings",
        "generated_at",
        "summary",
    ];
    for pair in order.windows(2) {
        assert!(
            at(pair[0]) < at(pair[1]),
            "{} is not before {}",
            pair[0],
            pair[1]
        );
    }
    assert!(text.ends_with("\n  }\n}\n"));
    let mut from_file: Value = serde_json::from_str(&text).expect("the report file is JSON");
    assert_schema(&from_file);
    let out = archive(&["--check", "--offline", "--format", "json", &seeds]);
    let mut from_stdout: Value = serde_json::from_slice(&out.stdout).unwrap();
    for report in [&mut from_file, &mut from_stdout] {
        let report = report.as_object_mut().unwrap();
        report.remove("generated_at");
        report["summary"]
            .as_object_mut()
            .unwrap()
            .remove("duration_ms");
    }
    assert_eq!(from_file, from_stdout);
    assert!(from_file["links"].as_array().unwrap().len() > 70);
    assert_eq!(
        walk(dir.path()),
        [path],
        "a temporary file was left beside the report"
    );
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

#[test]
fn prom_file_agrees_with_the_report_wherever_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = fixture("seeds").display().to_string();
    let run = |name: &str, report_args: &[&str]| {
        let prom = dir.path().join(name);
        let mut args = vec!["--check", "--offline"];
        args.extend_from_slice(report_args);
        let prom_arg = prom.display().to_string();
        args.extend(["--prom-file", prom_arg.as_str(), seeds.as_str()]);
        let out = archive(&args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&prom).expect("the prom file is written");
        (out, text)
    };
    // The report on stdout, to /dev/null, and in a file.
    let (out, on_stdout) = run("stdout.prom", &["--format", "json"]);
    let (_, nowhere) = run("null.prom", &["--report", "/dev/null"]);
    let in_file = dir.path().join("report.json").display().to_string();
    let (_, beside_a_file) = run("file.prom", &["--report", in_file.as_str()]);

    // Same metrics, but for the clock.
    let untimed = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains("timestamp") && !l.starts_with("archive_last_run_duration"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(untimed(&on_stdout), untimed(&beside_a_file));
    assert_eq!(untimed(&nowhere), untimed(&beside_a_file));

    // And they are the report's numbers.
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report on stdout");
    let metric = |series: &str| -> f64 {
        on_stdout
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in {on_stdout}"))
            .parse()
            .unwrap()
    };
    let links = report["links"].as_array().unwrap();
    for status in ["ok", "broken", "truncated", "unchecked", "skipped"] {
        for kind in ["image", "media", "page", "source"] {
            let n = links
                .iter()
                .filter(|l| l["status"] == status && l["kind"] == kind)
                .count();
            let series = format!("archive_links{{status=\"{status}\",kind=\"{kind}\"}}");
            assert_eq!(metric(&series), n as f64, "{series}");
        }
    }
    assert!(metric("archive_links{status=\"truncated\",kind=\"image\"}") > 0.0);
    for status in ["ok", "skipped", "error"] {
        assert_eq!(
            metric(&format!("archive_documents{{status=\"{status}\"}}")),
            report["summary"]["documents"][status].as_f64().unwrap()
        );
    }
}

/// Schema 2.0.0: an exploded URL is one finding that carries the rebuilt
/// URL; its characters point at it and carry no copy, and the schema
/// rejects a report that gives them one again.
#[test]
fn an_exploded_run_carries_its_url_once_in_its_finding() {
    let rebuilt = "http://news.nankai.edu.cn/pic/003/000/452/00300045245_41d76565.jpg";
    let seeds = fixture("seeds").display().to_string();
    let out = archive(&["--check", "--offline", "--format", "json", &seeds]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report on stdout");
    assert_eq!(report["schema_version"], "2.2.0");
    assert_schema(&report);
    // Schema 2.1.0: `static_reason` is left out where it would be null,
    // which is every link of an offline run.
    for l in report["links"].as_array().unwrap() {
        assert!(l.get("static_reason").is_none(), "{l}");
    }

    let findings = report["findings"].as_array().unwrap();
    let exploded: Vec<&Value> = findings
        .iter()
        .filter(|f| f["kind"] == "exploded_url")
        .collect();
    assert_eq!(exploded.len(), 1);
    let finding = exploded[0];
    assert_eq!(finding["suggestions"][0]["url"], rebuilt);
    assert_eq!(finding["suggestions"][0]["reason"], "rebuilt_exploded_url");
    let members: Vec<&Value> = report["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["reason"] == "exploded_url")
        .collect();
    assert_eq!(members.len(), 66);
    for l in &members {
        assert_eq!(l["finding"], finding["id"], "{l}");
        assert_eq!(&findings[l["finding"].as_u64().unwrap() as usize], finding);
        assert_eq!(l["suggestions"], serde_json::json!([]), "{l}");
        assert!(l["message"].is_null(), "{l}");
        assert!(!l.to_string().contains(rebuilt), "{l}");
    }
    // Everywhere the URL appears in the report text, it is the finding's.
    let text = String::from_utf8(out.stdout).unwrap();
    let in_finding = finding.to_string().matches(rebuilt).count();
    assert!(in_finding >= 1);
    assert_eq!(
        text.matches(rebuilt).count(),
        in_finding,
        "only the finding has it"
    );

    // A 1.x-style copy on a character is not a 2.0.0 report.
    let mut copy = report.clone();
    let id = members[0]["id"].as_u64().unwrap() as usize;
    copy["links"][id]["suggestions"] = finding["suggestions"].clone();
    assert!(!validator().is_valid(&copy));
    let mut copy = report.clone();
    copy["links"][id]["message"] = "one character of an exploded URL".into();
    assert!(!validator().is_valid(&copy));
}

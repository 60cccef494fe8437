//! The OpenAPI contract, attacked: Schemathesis (PyPI, installed by `make test`) generates
//! requests from `/ogc/api` — examples, every boundary of every documented constraint,
//! and random values — and checks each answer: no 5xx, the declared status codes, content
//! types and schemas, schema-valid values accepted and schema-invalid ones refused. The
//! write operations run with a key, against the test server's own store.

mod common;

use std::process::Command;

use common::{Server, repo};

#[test]
fn schemathesis_finds_no_failure_against_the_openapi_document() {
    // Writes enabled, so the write operations are exercised past their key check (in
    // this server's own fresh store).
    let key = "contract-test-key";
    // An archive, so the /archives operations are exercised past their 404.
    let archive = common::scratch("contract").join("mali.pmtiles");
    common::export_pmtiles(&archive, 6);
    let served = format!("mali={}", archive.display());
    let server = Server::start_env(&["--archive", &served], &[("SAHEL_ATLAS_WRITE_KEYS", key)]);
    // Every operation but the document's own path.
    let operations = server.json("/ogc/api")["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().keys())
        .count()
        - 1;
    let schemathesis = common::python().with_file_name("schemathesis");
    let out = Command::new(&schemathesis)
        .current_dir(common::scratch("schemathesis"))
        .arg("--config-file")
        .arg(repo().join("tests/contract/schemathesis.toml"))
        .args(["run", &format!("{}/ogc/api", server.base)])
        .args(["--checks", "all", "--phases", "examples,coverage,fuzzing"])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        // Fixed, so a failure can be replayed; CI and developers run the same cases.
        .args(["--max-examples", "30", "--seed", "20261124"])
        .args(["--no-color"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); run the README's test command, which installs it",
                schemathesis.display()
            )
        });
    let report = String::from_utf8_lossy(&out.stdout);
    let summary = report
        .find("SUMMARY")
        .map_or(report.as_ref(), |at| &report[at..]);
    println!("{summary}");
    assert!(
        out.status.success(),
        "schemathesis failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every operation is exercised, and none rejects a value its schema allows.
    assert!(
        summary
            .lines()
            .any(|l| l.trim() == format!("Tested: {operations}")),
        "{summary}"
    );
    assert!(!report.contains("Schema validation mismatch"), "{report}");
}

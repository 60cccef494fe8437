//! `deploy/kubernetes/`: every manifest validates against Kubernetes' own schemas (PyPI
//! `kubernetes-validate`, strict: unknown fields refused; no cluster needed), and says what
//! the deployment relies on: readiness on /healthz, the store URL and write keys from a
//! Secret, a disruption budget over the same pods, a read-only root file system.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn manifests() -> Vec<PathBuf> {
    let dir = common::repo().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // Kustomize's own file is no Kubernetes resource.
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    files
}

/// `kubernetes-validate --strict` on `files`: whether all pass, and what it said.
fn validate(files: &[PathBuf]) -> (bool, String) {
    let validator = common::python().with_file_name("kubernetes-validate");
    let out = Command::new(&validator)
        .arg("--strict")
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (make test-setup installs it)", validator.display()));
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[test]
fn the_manifests_validate_and_say_what_the_deployment_needs() {
    let files = manifests();
    assert!(files.len() >= 4, "{files:?}");
    let (ok, said) = validate(&files);
    assert!(ok, "{said}");
    assert_eq!(said.matches("passed").count(), files.len(), "{said}");

    let text = |name: &str| {
        std::fs::read_to_string(common::repo().join("deploy/kubernetes").join(name)).unwrap()
    };
    let deployment = text("deployment.yaml");
    for needed in [
        "path: /healthz",
        "readinessProbe:",
        "key: store-url",
        "key: write-keys",
        "--store=$(SAHEL_ATLAS_STORE)",
        "readOnlyRootFilesystem: true",
        "runAsNonRoot: true",
    ] {
        assert!(
            deployment.contains(needed),
            "deployment.yaml lacks {needed}"
        );
    }
    assert!(text("pdb.yaml").contains("app.kubernetes.io/name: sahel-atlas"));
    let kustomization = text("kustomization.yaml");
    for f in ["deployment.yaml", "service.yaml", "pdb.yaml"] {
        assert!(kustomization.contains(f), "kustomization.yaml lacks {f}");
    }

    // The validator refuses what it should: a replica count that is not a number.
    let bad = std::env::temp_dir().join(format!("sahel-k8s-{}.yaml", std::process::id()));
    std::fs::write(&bad, deployment.replace("replicas: 3", "replicas: three")).unwrap();
    let (ok, said) = validate(std::slice::from_ref(&bad));
    std::fs::remove_file(&bad).unwrap();
    assert!(!ok && said.contains("replicas"), "{said}");
}

//! Static checks of what cannot run here (no Docker engine): docker-compose.yml and the
//! Kubernetes manifests parse, name the parts Volcano needs and pin every image; CI runs the
//! README's test command.

use std::fs;

use serde_norway::Value;

fn yaml(path: &str) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

fn assert_pinned(image: &str, context: &str) {
    let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
    assert!(
        !tag.is_empty() && tag != "latest" && !tag.contains('/'),
        "{context}: image {image} is not pinned"
    );
}

#[test]
fn compose_file_has_kafka_temporal_on_postgres_and_the_pipeline() {
    let doc = &yaml("docker-compose.yml")[0];
    let services = doc["services"].as_mapping().expect("services");
    for name in ["kafka", "postgresql", "temporal", "pipeline"] {
        assert!(services.contains_key(name), "service {name} missing");
    }
    assert_eq!(
        doc["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"].as_str(),
        Some("broker,controller"),
        "Kafka runs in KRaft mode"
    );
    assert_eq!(
        doc["services"]["temporal"]["environment"]["DB"].as_str(),
        Some("postgres12")
    );
    for (name, service) in services {
        let name = name.as_str().unwrap();
        if let Some(image) = service["image"].as_str() {
            assert_pinned(image, name);
        }
    }
    // The volcano roles find the cluster through the same variables users set.
    let env = &doc["x-volcano"]["environment"];
    assert_eq!(env["KAFKA_BROKERS"].as_str(), Some("kafka:9092"));
    assert_eq!(env["TEMPORAL_ADDRESS"].as_str(), Some("temporal:7233"));
    // The REST ingress listens on every interface inside the container, published on the
    // host's loopback only: it starts with the example keys, which the README prints.
    let pipeline = &doc["services"]["pipeline"];
    assert_eq!(
        pipeline["environment"]["VOLCANO_INGRESS_ADDR"].as_str(),
        Some("0.0.0.0:8080")
    );
    assert_eq!(
        pipeline["environment"]["KAFKA_BROKERS"].as_str(),
        Some("kafka:9092")
    );
    assert_eq!(pipeline["ports"][0].as_str(), Some("127.0.0.1:8080:8080"));
    assert_eq!(
        pipeline["environment"]["VOLCANO_INGRESS__ALLOW_EXAMPLE_KEYS"].as_str(),
        Some("true")
    );
}

#[test]
fn kubernetes_manifests_parse_and_pin_images() {
    let mut seen = 0;
    for entry in fs::read_dir("deploy/k8s").unwrap() {
        let path = entry.unwrap().path();
        for doc in yaml(path.to_str().unwrap()) {
            assert!(
                doc["apiVersion"].is_string() && doc["kind"].is_string(),
                "{path:?}: apiVersion and kind"
            );
            for c in doc["spec"]["template"]["spec"]["containers"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                assert_pinned(c["image"].as_str().unwrap(), path.to_str().unwrap());
                if let Some(probe) = c["readinessProbe"]["httpGet"]["path"].as_str() {
                    assert_eq!(probe, "/readyz", "{path:?}: the ingress's readiness route");
                }
            }
            seen += 1;
        }
    }
    assert!(seen > 0);
}

#[test]
fn dockerfile_base_images_are_pinned() {
    let text = fs::read_to_string("deploy/Dockerfile").unwrap();
    for line in text.lines().filter(|l| l.starts_with("FROM ")) {
        assert_pinned(line.split_whitespace().nth(1).unwrap(), line);
    }
}

#[test]
fn ci_runs_the_readme_test_command() {
    let ci = fs::read_to_string(".ci/run").unwrap();
    let readme = fs::read_to_string("README.md").unwrap();
    assert!(ci.contains("deploy/dev.sh test"));
    assert!(readme.contains("deploy/dev.sh test") && readme.contains("deploy/dev.sh up"));
}

//! The `volcano` binary as a user runs it: `volcano run` as a process, `volcano send` through
//! the broker, sessions across two sends, and a graceful exit on SIGTERM.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::test_config;

const BIN: &str = env!("CARGO_BIN_EXE_volcano");

fn send(config: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("send")
        .args(args)
        .args(["--timeout", "60"])
        .output()
        .expect("volcano send runs");
    assert!(
        out.status.success(),
        "volcano send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("send prints JSON")
}

/// Waits until the child's log says the pipeline is consuming.
fn wait_until_consuming(child: &mut Child, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("pipeline consuming") {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("volcano run exited with {status}:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "volcano run not consuming after 60 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn volcano_send_gets_its_answer_from_a_running_pipeline_and_run_exits_cleanly_on_sigterm() {
    let mut config = test_config("cli");
    config.pipeline.metrics_addr = "127.0.0.1:0".into();
    let dir = std::env::temp_dir().join(format!("volcano-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join("volcano.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    let log = dir.join("run.log");
    let mut run = Command::new(BIN)
        .arg("--config")
        .arg(&config_path)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("volcano run starts");
    wait_until_consuming(&mut run, &log);

    let result = send(&config_path, &["Calculate 42 + 58"]);
    assert_eq!(result["status"], "ok", "{result}");
    assert_eq!(result["value"], 100, "{result}");
    assert_eq!(result["plan"][0]["tool"], "calculator");
    assert!(
        result["registry_commit"]
            .as_str()
            .is_some_and(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit())),
        "the result names the git commit that served it: {result}"
    );

    // A session carries the previous answer to the next request.
    let first = send(&config_path, &["--session", "s-1", "Calculate 42 + 58"]);
    assert_eq!(first["value"], 100);
    let second = send(&config_path, &["--session", "s-1", "multiply that by 2"]);
    assert_eq!(second["value"], 200, "{second}");

    // Bad input is answered with an error that says what is wrong.
    let bad = send(&config_path, &["divide 1 by 0"]);
    assert_eq!(bad["status"], "error");
    assert_eq!(bad["error_kind"], "division_by_zero");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = run.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "volcano run did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut text = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        status.success(),
        "volcano run exited with {status}:\n{text}"
    );
    assert!(text.contains("pipeline stopped"), "{text}");
}

#[test]
fn send_without_a_pipeline_times_out_with_a_clear_error() {
    let config = test_config("cli-timeout");
    let dir = std::env::temp_dir().join(format!("volcano-cli-t-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join("volcano.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(volcano_connectors::kafka::ensure_topics(
        &config,
        &config.kafka.topics.all(),
    ))
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config_path)
        .args(["send", "Calculate 1 + 1", "--timeout", "2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no result for request") && err.contains("volcano run"),
        "{err}"
    );
}

/// `volcano config show`: every setting with where it came from, the environment over the
/// file, a secret read from a file and never printed; a setting the environment spells
/// wrong is refused with its key named.
#[test]
fn config_show_says_where_each_value_came_from_and_hides_secrets() {
    let dir = std::env::temp_dir().join(format!("volcano-config-show-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("kafka-password");
    std::fs::write(&secret, "hunter2\n").unwrap();
    let file = dir.join("volcano.toml");
    std::fs::write(
        &file,
        format!(
            "[pipeline]\ngroup_id = \"from-file\"\n[kafka.properties]\n\
             \"sasl.password_file\" = \"{}\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let show = |env: &[(&str, &str)]| {
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&file).args(["config", "show"]);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("volcano config show runs")
    };
    let out = show(&[("VOLCANO_PIPELINE__MAX_IN_FLIGHT", "42")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    for line in [
        format!(
            "pipeline.group_id = \"from-file\"  # file {}",
            file.display()
        ),
        "pipeline.max_in_flight = 42  # env VOLCANO_PIPELINE__MAX_IN_FLIGHT".to_string(),
        "pipeline.shutdown_deadline_ms = 10000  # default".to_string(),
        format!(
            "kafka.properties.\"sasl.password\" = \"<redacted>\"  # file {}",
            secret.display()
        ),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
    let out = show(&[("VOLCANO_PIPELINE__MAX_IN_FLIGHT", "many")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_in_flight"), "{err}");
}

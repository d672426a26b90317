//! Where the configuration comes from: the layers under [`VolcanoConfig`], merged with
//! `figment`, and what `volcano config show` prints of them.
//!
//! Lowest first:
//!
//! 1. the defaults ([`VolcanoConfig::default`]);
//! 2. the TOML file (`--config` / `VOLCANO_CONFIG`, else `./volcano.toml` when present);
//! 3. `VOLCANO_<SECTION>__<KEY>` environment variables (`VOLCANO_PIPELINE__GROUP_ID`,
//!    `VOLCANO_KAFKA__TOPICS__REQUESTS`); values are read as TOML where they parse
//!    (`true`, `250`), else as strings, so a string that reads as a number is quoted
//!    (`'"123"'`);
//! 4. `VOLCANO_KAFKA_PROPERTY_<NAME>`: a librdkafka property, its name with `_` for `.`
//!    (`VOLCANO_KAFKA_PROPERTY_SASL_PASSWORD` sets `sasl.password`);
//! 5. the older overrides `KAFKA_BROKERS`, `TEMPORAL_ADDRESS`, `VOLCANO_INGRESS_ADDR`.
//!
//! Secrets need not sit in the file or the environment: any string setting `X` may be given
//! as `X_file` (in the file, or `VOLCANO_..._FILE` / `VOLCANO_KAFKA_PROPERTY_..._FILE`), a
//! path whose content, without its final newline, becomes the value (Kubernetes and compose
//! mount secrets as files).
//!
//! [`Layers::show`] prints every effective setting with its source, secrets redacted.

use std::collections::BTreeMap;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};

use crate::config::{ConfigError, VolcanoConfig};

/// The suffix of a setting given as a file's content.
const FILE_SUFFIX: &str = "_file";
/// The prefix of a librdkafka property in the environment.
const PROPERTY_PREFIX: &str = "VOLCANO_KAFKA_PROPERTY_";

/// The configuration and where each of its values came from.
pub struct Layers {
    pub config: VolcanoConfig,
    figment: Figment,
    /// Settings set after the figment: key path → source.
    overridden: BTreeMap<String, String>,
}

/// Reads the layers with the process's environment.
pub fn load(path: Option<&Path>) -> Result<Layers, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_with(path, &env)
}

/// Reads the layers with `env` as the environment (the figment layer still reads the
/// process's: tests set both through `figment::Jail`).
pub fn load_with(path: Option<&Path>, env: &[(String, String)]) -> Result<Layers, ConfigError> {
    let default_path = Path::new("volcano.toml");
    let chosen = match path {
        Some(p) => Some(p),
        None if default_path.exists() => Some(default_path),
        None => None,
    };
    let mut figment = Figment::from(Serialized::defaults(VolcanoConfig::default()));
    if let Some(p) = chosen {
        if !p.is_file() {
            return Err(ConfigError::Read {
                path: p.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        figment = figment.merge(Toml::file_exact(p));
    }
    // Only `SECTION__KEY` names: `VOLCANO_CONFIG`, `VOLCANO_TOOLS_DIR` and the property
    // variables are not settings of this layer.
    figment = figment.merge(
        Env::prefixed("VOLCANO_")
            .filter(|k| k.as_str().contains("__"))
            .split("__"),
    );
    let invalid = |e: figment::Error| ConfigError::Invalid {
        path: chosen.map(Path::to_path_buf),
        reason: e.to_string(),
    };
    let mut value: Value = figment.extract().map_err(invalid)?;
    let mut overridden = BTreeMap::new();
    read_secret_files(&mut value, "", &mut overridden)?;
    // Extracted through figment again, so that a bad value's error names its key.
    let mut config: VolcanoConfig = Figment::from(Serialized::defaults(value))
        .extract()
        .map_err(invalid)?;
    for (name, raw) in env {
        let Some(property) = name.strip_prefix(PROPERTY_PREFIX) else {
            continue;
        };
        let property = property.to_lowercase();
        let (property, value) = match property.strip_suffix(FILE_SUFFIX) {
            Some(p) => (p.to_string(), read_secret(Path::new(raw))?),
            None => (property, raw.clone()),
        };
        let property = property.replace('_', ".");
        overridden.insert(
            format!("kafka.properties.\"{property}\""),
            format!("env {name}"),
        );
        config.kafka.properties.insert(property, value);
    }
    let var = |k: &str| {
        env.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    };
    for (name, key) in [
        ("VOLCANO_INGRESS_ADDR", "ingress.addr"),
        ("KAFKA_BROKERS", "kafka.brokers"),
        ("TEMPORAL_ADDRESS", "temporal.address"),
    ] {
        if var(name).is_some_and(|v| !v.trim().is_empty()) {
            overridden.insert(key.to_string(), format!("env {name}"));
        }
    }
    config.apply_env(var);
    Ok(Layers {
        config,
        figment,
        overridden,
    })
}

/// Replaces every `X_file = "PATH"` under `value` by `X` = the file's content, noting the
/// source in `overridden`.
fn read_secret_files(
    value: &mut Value,
    prefix: &str,
    overridden: &mut BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let Value::Dict(_, dict) = value else {
        return Ok(());
    };
    let keys: Vec<String> = dict.keys().cloned().collect();
    for key in keys {
        let path = join(prefix, &key);
        if let Some(name) = key.strip_suffix(FILE_SUFFIX)
            && let Some(Value::String(_, file)) = dict.get(&key)
        {
            let secret = read_secret(Path::new(file))?;
            overridden.insert(join(prefix, name), format!("file {file} (from {path})"));
            dict.remove(&key);
            dict.insert(name.to_string(), Value::from(secret));
            continue;
        }
        if let Some(inner) = dict.get_mut(&key) {
            read_secret_files(inner, &path, overridden)?;
        }
    }
    Ok(())
}

fn join(prefix: &str, key: &str) -> String {
    let key = match key.contains('.') {
        true => format!("\"{key}\""),
        false => key.to_string(),
    };
    match prefix.is_empty() {
        true => key,
        false => format!("{prefix}.{key}"),
    }
}

fn read_secret(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// Whether a setting's value is a secret, by its name.
fn is_secret(key: &str) -> bool {
    let key = key.to_lowercase();
    [
        "password",
        "secret",
        "token",
        "api_key",
        "apikey",
        "credentials",
        "private",
        "key.pem",
    ]
    .iter()
    .any(|word| key.contains(word))
}

impl Layers {
    /// Every effective setting, one per line as `key = value  # source`, sorted by key;
    /// secrets (by name, or read from a file) print as `"<redacted>"`.
    pub fn show(&self) -> String {
        let value = Value::serialize(&self.config).expect("the config serializes");
        let mut leaves = Vec::new();
        flatten(&value, "", &mut leaves);
        let mut out = String::new();
        for (key, value) in leaves {
            let from_file = self
                .overridden
                .get(&key)
                .is_some_and(|s| s.starts_with("file "));
            let shown = match is_secret(&key) || from_file {
                true => "\"<redacted>\"".to_string(),
                false => value,
            };
            out.push_str(&format!("{key} = {shown}  # {}\n", self.source(&key)));
        }
        out
    }

    /// Where the setting at `key` (a dotted path) came from.
    pub fn source(&self, key: &str) -> String {
        if let Some(source) = self.overridden.get(key) {
            return source.clone();
        }
        let Some(metadata) = self.figment.find_metadata(key) else {
            return "default".into();
        };
        if metadata.name.contains("environment") {
            let parts: Vec<&str> = key.split('.').collect();
            let name = format!("VOLCANO_{}", parts.join("__").to_uppercase());
            return format!("env {name}");
        }
        match &metadata.source {
            Some(figment::Source::File(path)) => format!("file {}", path.display()),
            // Serialized defaults are named after their type.
            _ if metadata.name == std::any::type_name::<VolcanoConfig>() => "default".into(),
            _ => metadata.name.to_string(),
        }
    }
}

/// Leaves of `value` as (dotted key, TOML-ish value).
fn flatten(value: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Dict(_, dict) => {
            let dict: &Dict = dict;
            if dict.is_empty() && !prefix.is_empty() {
                out.push((prefix.to_string(), "{}".into()));
            }
            for (k, v) in dict {
                flatten(v, &join(prefix, k), out);
            }
        }
        Value::String(_, s) => out.push((prefix.to_string(), format!("{s:?}"))),
        Value::Array(_, items) => {
            let items: Vec<String> = items
                .iter()
                .map(|v| match v {
                    Value::String(_, s) => format!("{s:?}"),
                    other => leaf(other),
                })
                .collect();
            out.push((prefix.to_string(), format!("[{}]", items.join(", "))));
        }
        other => out.push((prefix.to_string(), leaf(other))),
    }
}

fn leaf(value: &Value) -> String {
    match value {
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => n
            .to_u128()
            .map(|u| u.to_string())
            .or_else(|| n.to_i128().map(|i| i.to_string()))
            .or_else(|| n.to_f64().map(|f| f.to_string()))
            .unwrap_or_default(),
        Value::Char(_, c) => format!("{:?}", c.to_string()),
        Value::Empty(..) => "(unset)".into(),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(jail: &figment::Jail) -> Vec<(String, String)> {
        let _ = jail;
        std::env::vars().collect()
    }

    #[test]
    fn the_environment_overrides_the_file_and_each_value_says_where_it_came_from() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "volcano.toml",
                "[pipeline]\ngroup_id = \"from-file\"\nmax_in_flight = 7\n",
            )?;
            jail.set_env("VOLCANO_PIPELINE__MAX_IN_FLIGHT", "9");
            jail.set_env("VOLCANO_KAFKA__TOPICS__REQUESTS", "reqs");
            jail.set_env("VOLCANO_CONFIG", "ignored-by-this-layer");
            jail.set_env("VOLCANO_KAFKA_PROPERTY_SASL_USERNAME", "alice");
            jail.set_env("KAFKA_BROKERS", "kafka-1:9092");
            let layers = load_with(Some(Path::new("volcano.toml")), &env_of(jail)).unwrap();
            let c = &layers.config;
            assert_eq!(c.pipeline.group_id, "from-file");
            assert_eq!(c.pipeline.max_in_flight, 9);
            assert_eq!(c.kafka.topics.requests, "reqs");
            assert_eq!(c.kafka.brokers, "kafka-1:9092");
            assert_eq!(c.kafka.properties["sasl.username"], "alice");
            assert!(layers.source("pipeline.group_id").starts_with("file "));
            assert_eq!(
                layers.source("pipeline.max_in_flight"),
                "env VOLCANO_PIPELINE__MAX_IN_FLIGHT"
            );
            assert_eq!(layers.source("kafka.brokers"), "env KAFKA_BROKERS");
            assert_eq!(layers.source("pipeline.shutdown_deadline_ms"), "default");
            Ok(())
        });
    }

    #[test]
    fn secrets_come_from_files_and_are_never_shown() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("kafka-password", "s3cret\n")?;
            jail.create_file("oauth-secret", "token-xyz")?;
            jail.create_file(
                "volcano.toml",
                "[kafka.properties]\n\"sasl.password_file\" = \"kafka-password\"\n\
                 \"sasl.username\" = \"alice\"\n",
            )?;
            jail.set_env(
                "VOLCANO_KAFKA_PROPERTY_SASL_OAUTHBEARER_CLIENT_SECRET_FILE",
                "oauth-secret",
            );
            let layers = load_with(Some(Path::new("volcano.toml")), &env_of(jail)).unwrap();
            let props = &layers.config.kafka.properties;
            assert_eq!(props["sasl.password"], "s3cret");
            assert_eq!(props["sasl.oauthbearer.client.secret"], "token-xyz");
            assert!(!props.contains_key("sasl.password_file"));
            let shown = layers.show();
            assert!(
                !shown.contains("s3cret") && !shown.contains("token-xyz"),
                "{shown}"
            );
            assert!(
                shown.contains(
                    "kafka.properties.\"sasl.password\" = \"<redacted>\"  # file kafka-password"
                ),
                "{shown}"
            );
            assert!(
                shown.contains("kafka.properties.\"sasl.username\" = \"alice\""),
                "{shown}"
            );
            assert!(
                shown.contains("pipeline.group_id = \"volcano-pipeline\"  # default"),
                "{shown}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_missing_secret_file_or_a_bad_value_is_a_clear_error() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("volcano.toml", "[ingress]\naddr_file = \"nope\"\n")?;
            let e = load_with(Some(Path::new("volcano.toml")), &[])
                .err()
                .unwrap();
            assert!(e.to_string().contains("nope"), "{e}");
            jail.create_file("volcano.toml", "")?;
            jail.set_env("VOLCANO_PIPELINE__MAX_IN_FLIGHT", "many");
            let e = load_with(Some(Path::new("volcano.toml")), &[])
                .err()
                .unwrap();
            assert!(e.to_string().contains("max_in_flight"), "{e}");
            Ok(())
        });
    }
}

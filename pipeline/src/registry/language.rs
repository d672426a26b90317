//! `configs/language.yaml`: the words a branch adds to the reader's vocabulary.
//!
//! The reader (`crate::decompose`) understands arithmetic, percentages, conversions and
//! simple word problems by a grammar over numbers, units and operation words. What a tenant
//! may want to say differently is configuration, changed by commit like everything else:
//!
//! ```yaml
//! version: 1
//! fillers: ["yo", "por favor"]           # phrases dropped where they open or close a request
//! synonyms:                              # a phrase and the words it means
//!   "bump up": increase
//!   "knock off": take
//! units:                                 # an alias of a known unit, or a local unit
//!   footy: foot
//!   furlong: 201.168 metre
//!   league: 3 mile
//! ```
//!
//! Unlike routing and security, a tenant's file *extends* `main`'s: the entries are merged,
//! the tenant's winning where both define the same phrase. [`Language`] is the compiled form
//! the reader consults; the built-in vocabulary needs no file at all.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::config::CONFIG_VERSION;
use crate::tools::units::{self, Unit};

/// Most entries in each of a file's lists and maps.
pub const MAX_LANGUAGE_ENTRIES: usize = 1_000;
/// Longest phrase or value, in bytes.
pub const MAX_PHRASE_BYTES: usize = 64;

/// The typed shape of `configs/language.yaml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LanguageConfig {
    pub version: u32,
    /// Phrases that carry no meaning where they open or close a request ("yo", "cheers").
    pub fillers: Vec<String>,
    /// A phrase and the words it stands for, matched as whole words, case-insensitively.
    pub synonyms: BTreeMap<String, String>,
    /// A unit's local name and what it is: a known unit ("foot") or an amount of one
    /// ("201.168 metre").
    pub units: BTreeMap<String, String>,
}

impl LanguageConfig {
    /// `main`'s entries with the tenant's laid over them.
    pub fn merged(
        main: Option<&LanguageConfig>,
        tenant: Option<&LanguageConfig>,
    ) -> LanguageConfig {
        let mut merged = main.cloned().unwrap_or_default();
        if let Some(tenant) = tenant {
            for filler in &tenant.fillers {
                if !merged.fillers.contains(filler) {
                    merged.fillers.push(filler.clone());
                }
            }
            merged.synonyms.extend(tenant.synonyms.clone());
            merged.units.extend(tenant.units.clone());
        }
        merged.version = CONFIG_VERSION;
        merged
    }

    /// Every problem with the file's entries, as (key, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (what, count) in [
            ("fillers", self.fillers.len()),
            ("synonyms", self.synonyms.len()),
            ("units", self.units.len()),
        ] {
            if count > MAX_LANGUAGE_ENTRIES {
                problems.push((
                    what.to_string(),
                    format!("has {count} entries; at most {MAX_LANGUAGE_ENTRIES} are allowed"),
                ));
            }
        }
        let phrases = self
            .fillers
            .iter()
            .chain(self.synonyms.keys())
            .chain(self.synonyms.values())
            .chain(self.units.keys());
        for phrase in phrases {
            if phrase.trim().is_empty() {
                problems.push((phrase.clone(), "is empty".into()));
            } else if phrase.len() > MAX_PHRASE_BYTES {
                problems.push((
                    phrase.clone(),
                    format!("is longer than {MAX_PHRASE_BYTES} bytes"),
                ));
            } else if phrase.chars().any(char::is_control) {
                problems.push((phrase.clone(), "holds a control character".into()));
            }
        }
        for (name, meaning) in &self.units {
            if let Err(message) = unit_meaning(meaning) {
                problems.push((name.clone(), message));
            }
        }
        problems
    }
}

/// What a local unit name means: `factor` of a known unit.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitAlias {
    pub factor: Decimal,
    pub unit: &'static Unit,
}

/// "foot" → 1 foot; "201.168 metre" → 201.168 metres; "1/8 mile" → 0.125 mile.
fn unit_meaning(meaning: &str) -> Result<UnitAlias, String> {
    let meaning = meaning.trim();
    if let Some(unit) = units::find(meaning) {
        return Ok(UnitAlias {
            factor: Decimal::ONE,
            unit,
        });
    }
    let (amount, unit_name) = meaning
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("'{meaning}' is not a known unit nor '<amount> <unit>'"))?;
    let unit = units::find(unit_name)
        .ok_or_else(|| format!("'{}' is not a known unit", unit_name.trim()))?;
    let factor = match amount.split_once('/') {
        Some((num, den)) => {
            let (num, den) = (decimal(num)?, decimal(den)?);
            num.checked_div(den)
                .ok_or_else(|| format!("'{amount}' is not a number"))?
        }
        None => decimal(amount)?,
    };
    if factor <= Decimal::ZERO {
        return Err(format!("'{amount}' must be more than zero"));
    }
    Ok(UnitAlias { factor, unit })
}

fn decimal(text: &str) -> Result<Decimal, String> {
    Decimal::from_str_exact(text.trim()).map_err(|_| format!("'{}' is not a number", text.trim()))
}

/// The compiled vocabulary of one tenant: the built-in words plus its branch's file.
#[derive(Debug, Clone, Default)]
pub struct Language {
    /// Lowercase filler phrases, longest first.
    pub fillers: Vec<String>,
    /// Lowercase (phrase, meaning), longest phrase first.
    pub synonyms: Vec<(String, String)>,
    /// Lowercase local unit names.
    pub units: HashMap<String, UnitAlias>,
}

impl Language {
    /// Compiles a validated file; entries that do not check out are left out (a file with
    /// problems never gets this far: its commit is rejected).
    pub fn compile(config: &LanguageConfig) -> Language {
        let mut fillers: Vec<String> = config.fillers.iter().map(|f| lower(f)).collect();
        fillers.sort_by_key(|f| std::cmp::Reverse(f.len()));
        let mut synonyms: Vec<(String, String)> = config
            .synonyms
            .iter()
            .map(|(phrase, meaning)| (lower(phrase), meaning.trim().to_string()))
            .collect();
        synonyms.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.len()));
        let units = config
            .units
            .iter()
            .filter_map(|(name, meaning)| Some((lower(name), unit_meaning(meaning).ok()?)))
            .collect();
        Language {
            fillers,
            synonyms,
            units,
        }
    }

    /// The tenant's own name of a unit as written ("smoots" → "smoot"), if it is one.
    pub fn local_name(&self, written: &str) -> Option<String> {
        let key = lower(written.trim().trim_end_matches(['.', '?', '!', ',']));
        if self.units.contains_key(&key) {
            return Some(key);
        }
        let one = key.strip_suffix('s')?;
        self.units.contains_key(one).then(|| one.to_string())
    }

    /// A unit as written, through the tenant's names first and then the unit table.
    pub fn unit(&self, written: &str) -> Option<UnitAlias> {
        if !self.units.is_empty() {
            let key = lower(written.trim().trim_end_matches(['.', '?', '!', ',']));
            if let Some(alias) = self
                .units
                .get(&key)
                .or_else(|| key.strip_suffix('s').and_then(|one| self.units.get(one)))
            {
                return Some(alias.clone());
            }
        }
        units::find(written).map(|unit| UnitAlias {
            factor: Decimal::ONE,
            unit,
        })
    }
}

fn lower(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

//! The `currency` kind: "how much is 20 euros in dollars", "convert 100 USD to EUR",
//! "$5 in GBP".
//!
//! Rates come from the spec (a table kept in the config repository, so a commit updates
//! them); there is no network access. The amount is read from the text as a symbol or code
//! before a number ("$5", "USD 100") or a code or name after it ("20 euros"); the target is
//! the currency after the last "in", "to" or "into".

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use regex::Regex;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::calculator::check_scale;
use super::number::{NUMBER, checked, parse_number, present, scalar_map};
use super::{Tool, ToolContext, ToolError, ToolOutput, ToolSpecError};
use crate::calc::Rounding;

/// `kind: currency`. A rate is how many units of a currency one unit of `base` buys.
///
/// ```yaml
/// tool:
///   kind: currency
///   base: USD
///   rates: { EUR: "0.92", GBP: 0.79, JPY: "151.3" }
///   scale: 2
///   names: { quid: GBP }      # optional extra names and symbols
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencySpec {
    /// ISO 4217 code of the currency the rates are quoted against.
    pub base: String,
    /// ISO 4217 code → units per one unit of `base`, as a decimal (text or number).
    #[serde(deserialize_with = "scalar_map")]
    pub rates: BTreeMap<String, String>,
    /// Decimal places of converted amounts (default 2).
    #[serde(default = "default_scale")]
    pub scale: u32,
    #[serde(default)]
    pub rounding: Rounding,
    /// Further names or symbols (case-insensitive) → ISO code, beside the built-in ones
    /// ("dollars", "€", "yen").
    #[serde(default)]
    pub names: BTreeMap<String, String>,
}

fn default_scale() -> u32 {
    2
}

/// A compiled `currency` tool.
#[derive(Debug, Clone)]
pub struct CurrencyConverter {
    /// Units per one unit of the base currency; the base itself is 1.
    rates: HashMap<String, Decimal>,
    /// The spec's extra names, lowercase.
    names: HashMap<String, String>,
    scale: u32,
    rounding: Rounding,
}

/// Built-in names and symbols, lowercase, of common currencies.
const NAMES: &[(&str, &str)] = &[
    ("$", "USD"),
    ("us$", "USD"),
    ("dollar", "USD"),
    ("dollars", "USD"),
    ("us dollar", "USD"),
    ("us dollars", "USD"),
    ("buck", "USD"),
    ("bucks", "USD"),
    ("€", "EUR"),
    ("euro", "EUR"),
    ("euros", "EUR"),
    ("£", "GBP"),
    ("pound", "GBP"),
    ("pounds", "GBP"),
    ("pound sterling", "GBP"),
    ("pounds sterling", "GBP"),
    ("sterling", "GBP"),
    ("british pound", "GBP"),
    ("british pounds", "GBP"),
    ("¥", "JPY"),
    ("yen", "JPY"),
    ("japanese yen", "JPY"),
    ("franc", "CHF"),
    ("francs", "CHF"),
    ("swiss franc", "CHF"),
    ("swiss francs", "CHF"),
    ("₹", "INR"),
    ("rupee", "INR"),
    ("rupees", "INR"),
    ("yuan", "CNY"),
    ("renminbi", "CNY"),
    ("rmb", "CNY"),
    ("₩", "KRW"),
    ("won", "KRW"),
    ("peso", "MXN"),
    ("pesos", "MXN"),
    ("canadian dollar", "CAD"),
    ("canadian dollars", "CAD"),
    ("australian dollar", "AUD"),
    ("australian dollars", "AUD"),
    ("real", "BRL"),
    ("reais", "BRL"),
    ("ruble", "RUB"),
    ("rubles", "RUB"),
    ("rouble", "RUB"),
    ("roubles", "RUB"),
];

static BUILTIN_NAMES: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| NAMES.iter().copied().collect());

/// "... in|to|into <currency>" at the end of the text.
static TARGET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:in|to|into)\s+(?P<to>[^\d]+?)[\s.?!]*$").expect("valid regex")
});

/// "$5", "USD 100", "20 euros", "100 USD" at the end of the text before the target.
static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)(?:(?P<before>[$€£¥₹₩]|\b[a-z]{{3}})\s*(?P<n1>{NUMBER})|(?P<n2>{NUMBER})\s*(?P<after>[$€£¥₹₩]|[a-z][a-z ]*?))[\s.?!]*$"
    ))
    .expect("valid regex")
});

impl CurrencyConverter {
    pub fn new(spec: &CurrencySpec) -> Result<Self, ToolSpecError> {
        check_scale("currency", spec.scale)?;
        let base = spec.base.trim();
        if !is_code(base) {
            return Err(ToolSpecError::new(
                "currency",
                "base",
                format!("'{base}' is not a three-letter ISO 4217 code such as USD"),
            ));
        }
        let mut rates = HashMap::with_capacity(spec.rates.len() + 1);
        for (code, rate) in &spec.rates {
            let parameter = format!("rates.{code}");
            if !is_code(code) {
                return Err(ToolSpecError::new(
                    "currency",
                    parameter,
                    "is not a three-letter uppercase ISO 4217 code such as EUR",
                ));
            }
            let rate = Decimal::from_str_exact(rate.trim())
                .ok()
                .filter(|rate| rate.is_sign_positive() && !rate.is_zero())
                .ok_or_else(|| {
                    ToolSpecError::new(
                        "currency",
                        &parameter,
                        format!("'{rate}' is not a positive decimal number"),
                    )
                })?;
            if code == base && rate != Decimal::ONE {
                return Err(ToolSpecError::new(
                    "currency",
                    parameter,
                    "is the base currency, whose rate must be 1",
                ));
            }
            rates.insert(code.clone(), rate);
        }
        rates.insert(base.to_string(), Decimal::ONE);
        let mut names = HashMap::with_capacity(spec.names.len());
        for (name, code) in &spec.names {
            if !rates.contains_key(code) {
                return Err(ToolSpecError::new(
                    "currency",
                    format!("names.{name}"),
                    format!("'{code}' has no rate in `rates`"),
                ));
            }
            names.insert(name.trim().to_lowercase(), code.clone());
        }
        Ok(CurrencyConverter {
            rates,
            names,
            scale: spec.scale,
            rounding: spec.rounding,
        })
    }

    /// The ISO code a written currency names, if it has a rate.
    fn code(&self, written: &str) -> Result<(&str, Decimal), ToolError> {
        let written = written.trim();
        let lower = written.to_lowercase();
        let code = match self.names.get(&lower) {
            Some(code) => code.as_str(),
            None => match BUILTIN_NAMES.get(lower.as_str()) {
                Some(code) => code,
                None if is_code(&written.to_ascii_uppercase()) => {
                    let upper = written.to_ascii_uppercase();
                    return self
                        .rates
                        .get_key_value(&upper)
                        .map(|(code, rate)| (code.as_str(), *rate))
                        .ok_or(ToolError::UnknownCurrency { currency: upper });
                }
                None => {
                    return Err(ToolError::UnknownCurrency {
                        currency: written.to_string(),
                    });
                }
            },
        };
        self.rates
            .get_key_value(code)
            .map(|(code, rate)| (code.as_str(), *rate))
            .ok_or_else(|| ToolError::NoRate {
                code: code.to_string(),
            })
    }

    /// Converts `amount` from one written currency to another.
    pub fn convert(&self, amount: Decimal, from: &str, to: &str) -> Result<ToolOutput, ToolError> {
        let (from_code, from_rate) = self.code(from)?;
        let (to_code, to_rate) = self.code(to)?;
        let scaled = checked(amount.checked_mul(to_rate), "currency conversion")?;
        let converted = checked(scaled.checked_div(from_rate), "currency conversion")?;
        let result = present(converted, self.scale, self.rounding);
        Ok(ToolOutput {
            value: Some(result),
            unit: Some(to_code.to_string()),
            answer: format!("{amount} {from_code} = {result} {to_code}"),
            data: None,
        })
    }
}

impl Tool for CurrencyConverter {
    fn run(&self, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let text = ctx.text;
        if text.trim().is_empty() {
            return Err(ToolError::Empty);
        }
        let Some(target) = TARGET.captures(text) else {
            return Err(ToolError::MissingTarget {
                what: "currency",
                example: "convert 20 EUR to USD",
            });
        };
        let whole = target.get(0).map_or(text.len(), |m| m.start());
        let head = &text[..whole];
        let amount = AMOUNT.captures(head).ok_or(ToolError::NotUnderstood {
            tool: "currency",
            expected: "an amount such as \"20 euros\", \"$5\" or \"100 USD\"",
        })?;
        // One of AMOUNT's two alternatives matched: symbol or code first, or number first.
        let (number, currency) = match amount.name("n1") {
            Some(number) => (number.as_str(), amount.name("before")),
            None => (group(&amount, "n2"), amount.name("after")),
        };
        let currency = currency.map_or("", |m| m.as_str());
        let value = parse_number(number)?;
        let to = &target["to"];
        self.convert(value, currency, to)
    }
}

fn group<'t>(captures: &regex::Captures<'t>, name: &str) -> &'t str {
    captures.name(name).map_or("", |m| m.as_str())
}

/// Three uppercase ASCII letters.
fn is_code(text: &str) -> bool {
    text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase())
}

//! Constructions whose meaning is more than their words' operators: percentages in every
//! common form and word problems with explicit numbers.
//!
//! Each construction is a pattern over the normalised clause with typed slots (an amount,
//! a percentage, a unit) and the plan it stands for. A slot holds whatever the calculator
//! reads as one value ("eighty", "1,250", "it"), or the construction does not apply: a
//! construction never guesses at a word it does not know. Word problems take plain numbers
//! only (no "it"), and their units must agree ("120 km at 60 km/h" is 2 hours; "120 km at
//! 60 mph" converts first).
//!
//! "A 15% tip on 80" is the tip (12), not the total; "take 15% off 60" is what is left (51);
//! "what percent of 80 is 20" is 25. These readings, and the rest of the table, are what the
//! README documents as the reader's choices.

use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};
use rust_decimal::Decimal;

use crate::calc::{self, BinaryOp, Expr, Function, Reference};
use crate::registry::Language;
use crate::tools::units::{self, Quantity};

use super::plan::{Operation, Step};

/// A construction: its pattern and the plan a match stands for.
struct Construction {
    pattern: &'static str,
    build: fn(&Captures<'_>, &str, &Language) -> Option<Vec<Step>>,
}

/// The two tables are read at different times: percentages before the calculator (which
/// would read "60 minus 15%" as 60 − 0.15), word problems after the calculator and the
/// conversions (so "nine hundred divided by twelve" stays arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Percentages,
    WordProblems,
}

/// An amount (anything the calculator reads as one value).
const N: &str = r"[-+]?[\w.,/$']+(?:[ -][\w.,/']+)*?";
/// A percentage.
const P: &str = r"[-+]?[\w.,]+(?:[ -][\w.,]+)*?\s*(?:%|percent|per\s*cent|pct)";
/// A unit: a word, or "<word> per <word>", or a symbol such as km/h.
const U: &str = r"[^\s\d,?][^\s,?]*(?:\s+per\s+[^\s,?]+)?";
/// A trailing question that only asks for the number computed.
const ASK: &str = r"(?:[,.;:]?\s*(?:so\s+|then\s+)?(?:how\s+many|how\s+much|what(?:'s|\s+is|\s+are)|whats)\b[^0-9]*)?";

fn expand(pattern: &str) -> String {
    let slot = |name: &str, body: &str| format!("(?P<{name}>{body})");
    let mut out = format!("(?i)^{pattern}$");
    for (name, body) in [
        ("n", N),
        ("m", N),
        ("a", N),
        ("b", N),
        ("p", P),
        ("u", U),
        ("v", U),
    ] {
        out = out.replace(&format!("<{name}>"), &slot(name, body));
    }
    out.replace("<ask>", ASK)
}

const PERCENTAGES: &[Construction] = &[
    Construction {
        // "what percent of 80 is 20", "what percentage of 80 is 20"
        pattern: r"what\s+(?:percent(?:age)?|%)\s+of\s+<m>\s+(?:is|are|would\s+be)\s+<n>",
        build: share_percent,
    },
    Construction {
        // "20 is what percent of 80", "20 is what % of 80"
        pattern: r"<n>\s+(?:is|are)\s+what\s+(?:percent(?:age)?|%)\s+of\s+<m>",
        build: share_percent,
    },
    Construction {
        // "what percentage is 45 of 180", "what percent is 20 out of 80"
        pattern: r"what\s+(?:percent(?:age)?|%)\s+(?:is|are)\s+<n>\s+(?:of|out\s+of)\s+<m>",
        build: share_percent,
    },
    Construction {
        // "20 out of 80 as a percentage", "20 of 80 in percent", "20 as a percentage of 80"
        pattern: r"<n>\s+(?:out\s+of|of)\s+<m>\s+(?:as\s+an?\s+|in\s+)?(?:percent(?:age)?|%)",
        build: share_percent,
    },
    Construction {
        pattern: r"<n>\s+as\s+an?\s+(?:percent(?:age)?|%)\s+of\s+<m>",
        build: share_percent,
    },
    Construction {
        // "take 15 percent off 60", "15% off 60", "knock 10% off 250"
        pattern: r"(?:take|knock|deduct|discount|subtract|minus)?\s*<p>\s+off(?:\s+of)?\s+(?:an?\s+|the\s+)?(?:price\s+of\s+|total\s+of\s+)?<n>",
        build: less_percent,
    },
    Construction {
        // "decrease 200 by 25%", "reduce 80 by 10 percent"
        pattern: r"(?:decrease|reduce|lower|cut|drop|discount|shrink|mark\s+down)\s+<n>\s+by\s+<p>",
        build: less_percent,
    },
    Construction {
        // "60 minus 15%", "200 decreased by 25%", "80 after a 20% discount"
        pattern: r"<n>\s+(?:minus|less|decreased\s+by|reduced\s+by|discounted\s+by|lowered\s+by|marked\s+down\s+by|with|after|at)\s+(?:an?\s+)?<p>(?:\s+(?:off|discount|reduction|decrease|less))?",
        build: less_percent,
    },
    Construction {
        // "increase 50 by 10%", "raise 250 by 12 percent"
        pattern: r"(?:increase|raise|grow|boost|inflate|mark\s+up|up)\s+<n>\s+by\s+<p>",
        build: more_percent,
    },
    Construction {
        // "add 15% to 80"
        pattern: r"add\s+<p>\s+to\s+<n>",
        build: more_percent,
    },
    Construction {
        // "80 plus 15%", "50 increased by 10%", "80 with 20% added"
        pattern: r"<n>\s+(?:plus|\+|increased\s+by|raised\s+by|marked\s+up\s+by|grown\s+by|with|and)\s+(?:an?\s+)?(?:extra\s+|additional\s+)?<p>(?:\s+(?:added|more|extra|increase|markup|on\s+top))?",
        build: more_percent,
    },
    Construction {
        // "a 15% tip on 80", "20% tax on 150", "8% commission of 2500"
        pattern: r"(?:an?\s+|the\s+)?<p>\s+(?:tip|tax|gratuity|commission|service\s+charge|fee|vat|interest|deposit|cut|share)\s+(?:on|of|for|from)\s+(?:an?\s+|the\s+)?(?:bill\s+of\s+|total\s+of\s+|meal\s+of\s+|sale\s+of\s+|amount\s+of\s+)?<n>(?:\s+(?:bill|meal|total|check|sale))?",
        build: part_percent,
    },
    Construction {
        // "tip of 15% on 80"
        pattern: r"(?:an?\s+|the\s+)?(?:tip|tax|gratuity|commission|fee|interest)\s+of\s+<p>\s+(?:on|of|for)\s+(?:an?\s+|the\s+)?(?:bill\s+of\s+)?<n>(?:\s+(?:bill|meal|total))?",
        build: part_percent,
    },
    Construction {
        // "percentage change from 50 to 75", "percent increase from 40 to 50"
        pattern: r"(?:the\s+)?(?:percent(?:age)?|%)\s+(?:change|increase|growth|rise|gain)\s+(?:from|between)\s+<a>\s+(?:to|and)\s+<b>",
        build: percent_change,
    },
    Construction {
        // "percent decrease from 80 to 60"
        pattern: r"(?:the\s+)?(?:percent(?:age)?|%)\s+(?:decrease|drop|fall|decline|loss|reduction)\s+(?:from|between)\s+<a>\s+(?:to|and)\s+<b>",
        build: percent_drop,
    },
    Construction {
        // "from 50 to 75 is what percent increase", "50 to 75 is what percentage change"
        pattern: r"(?:from\s+)?<a>\s+to\s+<b>\s+is\s+(?:an?\s+|what\s+)?(?:percent(?:age)?|%)\s+(?:change|increase|growth|rise)",
        build: percent_change,
    },
    Construction {
        // "30 is 20% of what", "20% of what number is 30"
        pattern: r"<n>\s+is\s+<p>\s+of\s+what(?:\s+number)?",
        build: whole_of_percent,
    },
    Construction {
        pattern: r"<p>\s+of\s+what(?:\s+number)?\s+is\s+<n>",
        build: whole_of_percent,
    },
];

const WORD_PROBLEMS: &[Construction] = &[
    Construction {
        // "share 90 between 3 people", "split 60 apples equally among 4 friends"
        pattern: r"(?:share|split|divide|distribute|deal)\s+<n>(?:\s+(?P<k>[a-z]+))?\s+(?:equally\s+|evenly\s+)?(?:between|among|amongst|across|with)\s+<m>(?:\s+(?P<j>[a-z]+))?(?:\s+(?:equally|evenly))?<ask>",
        build: share,
    },
    Construction {
        // "90 shared between 3", "60 sweets split equally among 4 kids"
        pattern: r"<n>(?:\s+(?P<k>[a-z]+))?\s+(?:shared|split|divided|distributed)\s+(?:equally\s+|evenly\s+)?(?:between|among|amongst|by|across)\s+<m>(?:\s+(?P<j>[a-z]+))?(?:\s+(?:equally|evenly))?<ask>",
        build: share,
    },
    Construction {
        // "split 60 three ways"
        pattern: r"(?:share|split|divide)\s+<n>(?:\s+[a-z]+)?\s+<m>\s+ways<ask>",
        build: share,
    },
    Construction {
        // "4 friends share 60 sweets, how many each"
        pattern: r"<m>\s+[a-z]+\s+(?:share|split)\s+<n>(?:\s+[a-z]+)?(?:\s+(?:equally|evenly))?<ask>",
        build: share,
    },
    Construction {
        // "5 boxes of 12 eggs", "3 bags with 15 apples each", "4 packs containing 6 cans"
        pattern: r"(?:(?:i|we|you|they|he|she)\s+(?:have|has|had|bought|buy|got|get|need)\s+|there\s+are\s+)?<n>\s+(?P<k>[a-z]+)\s+(?:of|with|holding|containing|each\s+(?:with|holding|containing|of))\s+<m>(?:\s+(?P<j>[a-z]+))?(?:\s+(?:each|apiece|in\s+each|per\s+[a-z]+))?<ask>",
        build: groups,
    },
    Construction {
        // "each of 8 kids needs 3 pencils", "if each of 8 kids gets 3 pencils"
        pattern: r"(?:if\s+)?each\s+of\s+(?:the\s+)?<n>(?:\s+[a-z]+)?\s+(?:needs|gets|has|eats|takes|buys|brings|uses|wants|receives|reads|drinks|makes|sells|writes|plants|collects)\s+<m>(?:\s+[a-z]+)?<ask>",
        build: groups,
    },
    Construction {
        // "8 kids each need 3 pencils", "there are 8 kids and each needs 3 pencils"
        pattern: r"(?:there\s+are\s+)?<n>\s+(?P<k>[a-z]+)\s+(?:and\s+)?each\s+(?:need|needs|get|gets|have|has|eat|eats|take|takes|buy|buys|bring|brings|use|uses|want|wants|receive|receives|read|reads|drink|drinks|make|makes|sell|sells|write|writes|plant|plants|collect|collects)\s+<m>(?:\s+[a-z]+)?<ask>",
        build: groups,
    },
    Construction {
        // "3 pencils for each of 8 kids"
        pattern: r"<m>\s+(?P<k>[a-z]+)\s+(?:for|to)\s+each\s+of\s+(?:the\s+)?<n>(?:\s+[a-z]+)?<ask>",
        build: groups,
    },
    Construction {
        // "12 eggs per box, how many eggs in 5 boxes", "12 eggs in each box, 5 boxes"
        pattern: r"<m>\s+(?P<k>[a-z]+)\s+(?:per|in\s+each|in\s+every|in\s+a|in\s+one|for\s+each|each)\s+[a-z]+[,.;]?\s*(?:so\s+)?(?:how\s+many\s+(?:[a-z]+\s+)?(?:are\s+)?(?:there\s+)?(?:in|for|on)\s+)?<n>\s+[a-z]+(?:\s+(?:in\s+total|altogether|total))?",
        build: groups,
    },
    Construction {
        // "a room 4 m by 5 m, what's the area", "a 12 ft by 10 ft room: area?"
        pattern: r"(?:an?\s+|the\s+|my\s+)?(?:[a-z]+\s+)?(?:that\s+is\s+|which\s+is\s+|is\s+|measuring\s+|measures\s+|of\s+)?<a>\s*<u>\s*(?:by|x|\*|×)\s*<b>\s*<v>(?:\s+[a-z]+)?[,.;:]?\s*(?:what(?:'s|\s+is)\s+(?:the|its)\s+area|how\s+big\s+is\s+it|(?:the\s+)?area)",
        build: area,
    },
    Construction {
        // "the area of a 4 m by 5 m room", "area of a room 4 m by 5 m"
        pattern: r"(?:the\s+)?area\s+of\s+(?:an?\s+|the\s+)?(?:[a-z]+\s+)?(?:that\s+is\s+|which\s+is\s+|measuring\s+|of\s+)?<a>\s*<u>\s*(?:by|x|\*|×)\s*<b>\s*<v>(?:\s+[a-z]+)?",
        build: area,
    },
    Construction {
        // "how many 330 ml cans fill a 2 liter jug", "… does it take to fill a 2 l bottle"
        pattern: r"how\s+many\s+<m>\s*-?\s*<u>\s+[a-z]+\s+(?:does\s+it\s+take\s+to\s+fill|do\s+(?:i|you|we)\s+need\s+to\s+fill|(?:will\s+|would\s+|to\s+)?fill(?:\s+up)?|are\s+needed\s+to\s+fill|to\s+fill(?:\s+up)?)\s+(?:an?|the|one)\s+<n>\s*-?\s*<v>(?:\s+[a-z]+)?",
        build: fill,
    },
    Construction {
        // "120 km at 60 km/h, how long", "how long to drive 120 km at 60 km/h"
        pattern: r"(?:how\s+long\s+(?:does\s+it|will\s+it|would\s+it)\s+take\s+(?:to\s+)?(?:[a-z]+\s+)?|how\s+long\s+to\s+(?:[a-z]+\s+)?|(?:if\s+)?(?:(?:i|you|we|they|he|she|a\s+[a-z]+|the\s+[a-z]+)\s+)?(?:drive|drives|travel|travels|go|goes|walk|walks|cycle|cycles|run|runs|ride|rides|fly|flies|sail|sails|cover|covers)\s+)?<a>\s*<u>\s+at\s+(?:a\s+speed\s+of\s+|an\s+average\s+(?:speed\s+)?of\s+)?<b>\s*<v>(?:[,.;]?\s*(?:how\s+long\b[^0-9]*|how\s+many\s+hours\b[^0-9]*))?",
        build: travel_time,
    },
    Construction {
        // "at 60 km/h for 3 hours, how far", "drive 50 mph for 2 hours"
        pattern: r"(?:(?:if\s+)?(?:(?:i|you|we|they|he|she|a\s+[a-z]+|the\s+[a-z]+)\s+)?(?:drive|drives|travel|travels|go|goes|walk|walks|cycle|cycles|run|runs|ride|rides|fly|flies)\s+)?(?:at\s+)?<b>\s*<v>\s+for\s+<a>\s*<u>(?:[,.;]?\s*(?:how\s+far\b[^0-9]*|what\s+distance\b[^0-9]*))?",
        build: travel_distance,
    },
    Construction {
        // "150 km in 2 hours, what's the average speed"
        pattern: r"(?:(?:if\s+)?(?:(?:i|you|we|they|he|she|a\s+[a-z]+|the\s+[a-z]+)\s+)?(?:drive|drives|drove|travel|travels|travelled|traveled|go|goes|went|walk|walks|walked|cycle|cycles|cycled|run|runs|ran|ride|rides|rode|fly|flies|flew|cover|covers|covered)\s+)?<a>\s*<u>\s+in\s+<b>\s*<v>[,.;]?\s*(?:what(?:'s|\s+is|\s+was)\s+(?:the\s+|my\s+|its\s+|their\s+|his\s+|her\s+)?(?:average\s+)?speed|how\s+fast\b[^0-9]*)",
        build: travel_speed,
    },
    Construction {
        // "I have 20 apples and give away 7, how many are left"
        pattern: r"(?:(?:i|we|you|they|he|she|[a-z]+)\s+)?(?:have|has|had|bought|baked|picked|got|made|start\s+with|started\s+with)\s+<n>(?:\s+[a-z]+)?\s*(?:,|and|then|but)\s*(?:(?:i|we|you|they|he|she)\s+)?(?:then\s+)?(?:give\s+away|gave\s+away|gives\s+away|give|gave|gives|eat|ate|eats|sell|sold|sells|lose|lost|loses|use|used|uses|spend|spent|spends|take\s+away|took\s+away|remove|removed|break|broke|drop|dropped)\s+<m>(?:\s+(?:of\s+them|[a-z]+))?(?:\s+away)?[,.;]?\s*(?:how\s+many\b[^0-9]*(?:left|remain|remaining|now|still)[^0-9]*)?",
        build: left_over,
    },
];

/// One table compiled: a set to find the candidates in one scan, and each pattern for its
/// slots.
struct Compiled {
    set: RegexSet,
    regexes: Vec<Regex>,
}

fn compile(table: &[Construction]) -> Compiled {
    let patterns: Vec<String> = table.iter().map(|c| expand(c.pattern)).collect();
    Compiled {
        set: RegexSet::new(&patterns).expect("valid construction patterns"),
        regexes: patterns
            .iter()
            .map(|p| Regex::new(p).expect("valid construction pattern"))
            .collect(),
    }
}

static COMPILED_PERCENTAGES: LazyLock<Compiled> = LazyLock::new(|| compile(PERCENTAGES));
static COMPILED_WORD_PROBLEMS: LazyLock<Compiled> = LazyLock::new(|| compile(WORD_PROBLEMS));

/// The first construction of `table` that reads the whole clause, as plan steps
/// (references local to them).
pub(crate) fn read(table: Table, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (constructions, compiled) = match table {
        Table::Percentages => (PERCENTAGES, &*COMPILED_PERCENTAGES),
        Table::WordProblems => (WORD_PROBLEMS, &*COMPILED_WORD_PROBLEMS),
    };
    for index in compiled.set.matches(clause).iter() {
        let Some(captures) = compiled.regexes[index].captures(clause) else {
            continue;
        };
        if !nouns_are_things(&captures) {
            continue;
        }
        if let Some(steps) = (constructions[index].build)(&captures, clause, language) {
            return Some(steps);
        }
    }
    None
}

/// A word problem's nouns ("boxes", "people") are things counted, never a number word, an
/// operation or a unit: "25 percent of 48" is no "5 boxes of 12".
fn nouns_are_things(captures: &Captures<'_>) -> bool {
    ["k", "j"].iter().all(|name| {
        captures.name(name).is_none_or(|noun| {
            let noun = noun.as_str().to_ascii_lowercase();
            noun.len() >= 3
                && !calc::is_calculator_word(&noun)
                && !matches!(
                    noun.as_str(),
                    "percent" | "percentage" | "per" | "cent" | "pct"
                )
                && units::find(&noun).is_none()
        })
    })
}

// ---- slots ------------------------------------------------------------------------------

/// A slot the calculator reads as one value (references allowed: "increase it by 10%").
fn value(captures: &Captures<'_>, name: &str) -> Option<Expr> {
    let text = captures.name(name)?.as_str().trim();
    let text = text.strip_prefix('$').unwrap_or(text);
    let expr = calc::parse(text).ok()?;
    is_single_value(&expr).then_some(expr)
}

/// A plain number, for word problems ("3 people", not "it").
fn plain(captures: &Captures<'_>, name: &str) -> Option<Expr> {
    let expr = value(captures, name)?;
    let mut reference = false;
    let mut probe = expr.clone();
    probe.for_each_reference_mut(&mut |_: &mut Reference| reference = true);
    (!reference).then_some(expr)
}

/// A number, a reference or a number with multipliers ("1.2 million"); not "2 + 3", which
/// would make the construction's reading depend on precedence the person did not write.
fn is_single_value(expr: &Expr) -> bool {
    match expr {
        Expr::Number(_) | Expr::Ref(_) => true,
        Expr::Neg(inner) => matches!(**inner, Expr::Number(_)),
        _ => false,
    }
}

/// The percentage of a `<p>` slot, without its sign.
fn percentage(captures: &Captures<'_>) -> Option<Expr> {
    let text = captures.name("p")?.as_str();
    let lower = text.to_ascii_lowercase();
    let end = lower
        .find(['%'])
        .or_else(|| lower.find("percent"))
        .or_else(|| lower.find("per cent"))
        .or_else(|| lower.find("percent"))
        .or_else(|| lower.find("pct"))?;
    let expr = calc::parse(text[..end].trim()).ok()?;
    is_single_value(&expr).then_some(expr)
}

fn number(value: i64) -> Expr {
    Expr::Number(Decimal::from(value))
}

fn one_step(clause: &str, expr: Expr, unit: Option<String>) -> Option<Vec<Step>> {
    Some(vec![Step {
        operation: Operation::Calculate(expr),
        text: clause.to_string(),
        unit,
    }])
}

fn percent_of(p: Expr, n: Expr) -> Expr {
    Expr::binary(BinaryOp::PercentOf, p, n)
}

// ---- percentages ------------------------------------------------------------------------

/// n / m × 100.
fn share_percent(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, m) = (value(c, "n")?, value(c, "m")?);
    let ratio = Expr::binary(BinaryOp::Divide, n, m);
    one_step(
        clause,
        Expr::binary(BinaryOp::Multiply, ratio, number(100)),
        None,
    )
}

/// n − p% of n.
fn less_percent(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, p) = (value(c, "n")?, percentage(c)?);
    let off = percent_of(p, n.clone());
    one_step(clause, Expr::binary(BinaryOp::Subtract, n, off), None)
}

/// n + p% of n.
fn more_percent(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, p) = (value(c, "n")?, percentage(c)?);
    let more = percent_of(p, n.clone());
    one_step(clause, Expr::binary(BinaryOp::Add, n, more), None)
}

/// p% of n.
fn part_percent(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, p) = (value(c, "n")?, percentage(c)?);
    one_step(clause, percent_of(p, n), None)
}

/// (b − a) / a × 100.
fn percent_change(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (a, b) = (value(c, "a")?, value(c, "b")?);
    let change = Expr::binary(BinaryOp::Subtract, b, a.clone());
    let ratio = Expr::binary(BinaryOp::Divide, change, a);
    one_step(
        clause,
        Expr::binary(BinaryOp::Multiply, ratio, number(100)),
        None,
    )
}

/// (a − b) / a × 100: a decrease as a positive percentage.
fn percent_drop(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (a, b) = (value(c, "a")?, value(c, "b")?);
    let change = Expr::binary(BinaryOp::Subtract, a.clone(), b);
    let ratio = Expr::binary(BinaryOp::Divide, change, a);
    one_step(
        clause,
        Expr::binary(BinaryOp::Multiply, ratio, number(100)),
        None,
    )
}

/// n × 100 / p.
fn whole_of_percent(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, p) = (value(c, "n")?, percentage(c)?);
    let scaled = Expr::binary(BinaryOp::Multiply, n, number(100));
    one_step(clause, Expr::binary(BinaryOp::Divide, scaled, p), None)
}

// ---- word problems ----------------------------------------------------------------------

/// n / m.
fn share(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, m) = (plain(c, "n")?, plain(c, "m")?);
    one_step(clause, Expr::binary(BinaryOp::Divide, n, m), None)
}

/// n × m.
fn groups(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, m) = (plain(c, "n")?, plain(c, "m")?);
    one_step(clause, Expr::binary(BinaryOp::Multiply, n, m), None)
}

/// A length unit from slot `name`.
fn length_unit(c: &Captures<'_>, name: &str, language: &Language) -> Option<&'static units::Unit> {
    let alias = language.unit(c.name(name)?.as_str())?;
    (alias.unit.quantity == Quantity::Length && alias.factor == Decimal::ONE).then_some(alias.unit)
}

/// a × b in the square of their (common) length unit.
fn area(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (a, b) = (plain(c, "a")?, plain(c, "b")?);
    let (u, v) = (
        length_unit(c, "u", language)?,
        length_unit(c, "v", language)?,
    );
    if u.name != v.name {
        return None;
    }
    let square = units::find(&format!("square {}", u.name))?;
    one_step(
        clause,
        Expr::binary(BinaryOp::Multiply, a, b),
        Some(square.name.to_string()),
    )
}

/// How many containers of m u fill one of n v: n v in u, divided by m, rounded up.
fn fill(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (m, n) = (plain(c, "m")?, plain(c, "n")?);
    let small = language.unit(c.name("u")?.as_str())?;
    let large = language.unit(c.name("v")?.as_str())?;
    if small.unit.quantity != large.unit.quantity
        || small.factor != Decimal::ONE
        || large.factor != Decimal::ONE
    {
        return None;
    }
    let count = Expr::call(
        Function::Ceil,
        vec![Expr::binary(
            BinaryOp::Divide,
            Expr::Ref(Reference::Step(0)),
            m,
        )],
    );
    Some(vec![
        Step {
            operation: Operation::Convert {
                value: n,
                from_unit: Some(large.unit.name.to_string()),
                to_unit: small.unit.name.to_string(),
            },
            text: clause.to_string(),
            unit: None,
        },
        Step {
            operation: Operation::Calculate(count),
            text: clause.to_string(),
            unit: None,
        },
    ])
}

/// A speed unit's (length, time) units: "kilometre per hour" → (kilometre, hour).
fn speed_parts(c: &Captures<'_>, name: &str, language: &Language) -> Option<(String, String)> {
    let alias = language.unit(c.name(name)?.as_str())?;
    if alias.unit.quantity != Quantity::Speed || alias.factor != Decimal::ONE {
        return None;
    }
    let (length, time) = alias.unit.name.split_once(" per ")?;
    units::find(length)?;
    units::find(time)?;
    Some((length.to_string(), time.to_string()))
}

/// The amount in slot `value`/`unit`, converted to `target` when its unit differs: the steps
/// to prepend and the expression that stands for it.
fn in_unit(
    value: Expr,
    unit: &str,
    target: &str,
    quantity: Quantity,
    language: &Language,
    clause: &str,
) -> Option<(Vec<Step>, Expr)> {
    let alias = language.unit(unit)?;
    if alias.unit.quantity != quantity || alias.factor != Decimal::ONE {
        return None;
    }
    if alias.unit.name == target {
        return Some((Vec::new(), value));
    }
    let step = Step {
        operation: Operation::Convert {
            value,
            from_unit: Some(alias.unit.name.to_string()),
            to_unit: target.to_string(),
        },
        text: clause.to_string(),
        unit: None,
    };
    Some((vec![step], Expr::Ref(Reference::Step(0))))
}

/// Distance a at speed b: a / b, in the speed's time unit.
fn travel_time(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (a, b) = (plain(c, "a")?, plain(c, "b")?);
    let (length, time) = speed_parts(c, "v", language)?;
    let (mut steps, distance) = in_unit(
        a,
        c.name("u")?.as_str(),
        &length,
        Quantity::Length,
        language,
        clause,
    )?;
    steps.push(Step {
        operation: Operation::Calculate(Expr::binary(BinaryOp::Divide, distance, b)),
        text: clause.to_string(),
        unit: Some(time),
    });
    Some(steps)
}

/// Speed b for time a: a × b, in the speed's length unit.
fn travel_distance(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (a, b) = (plain(c, "a")?, plain(c, "b")?);
    let (length, time) = speed_parts(c, "v", language)?;
    let (mut steps, duration) = in_unit(
        a,
        c.name("u")?.as_str(),
        &time,
        Quantity::Duration,
        language,
        clause,
    )?;
    steps.push(Step {
        operation: Operation::Calculate(Expr::binary(BinaryOp::Multiply, b, duration)),
        text: clause.to_string(),
        unit: Some(length),
    });
    Some(steps)
}

/// Distance a in time b: a / b, in "<length> per <time>" when the table has that speed.
fn travel_speed(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (a, b) = (plain(c, "a")?, plain(c, "b")?);
    let length = language.unit(c.name("u")?.as_str())?;
    let time = language.unit(c.name("v")?.as_str())?;
    if length.unit.quantity != Quantity::Length
        || time.unit.quantity != Quantity::Duration
        || length.factor != Decimal::ONE
        || time.factor != Decimal::ONE
    {
        return None;
    }
    let speed = units::find(&format!("{} per {}", length.unit.name, time.unit.name))?;
    one_step(
        clause,
        Expr::binary(BinaryOp::Divide, a, b),
        Some(speed.name.to_string()),
    )
}

/// n − m.
fn left_over(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, m) = (plain(c, "n")?, plain(c, "m")?);
    one_step(clause, Expr::binary(BinaryOp::Subtract, n, m), None)
}

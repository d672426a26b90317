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

use regex::{Captures, Regex, RegexSet, RegexSetBuilder};
use rust_decimal::Decimal;

use crate::calc::{self, BinaryOp, Expr, Function, Reference};
use crate::registry::Language;
use crate::tools::units::{self, Quantity, Unit};

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

/// An amount (anything the calculator reads as one value): it starts with a digit, a sign,
/// a number word or a reference ("it", "that"), and each of its words ends in a letter or
/// digit, so a comma or full stop after it stays outside. Starting so, it cannot swallow
/// the words of context before it ("I read 35" is no amount).
///
/// The classes are ASCII on purpose: amounts are, and Unicode's `\w` would make the set too
/// large to compile.
const N: &str = r"(?:[-+]?[0-9.$](?:[0-9a-z_.,/']*[0-9a-z_])?|(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|dozen|a|an|half|it|that|this|the)\b)(?:[ -][0-9a-z_$'](?:[0-9a-z_.,/']*[0-9a-z_])?)*?";
/// A percentage.
const P: &str = r"[-+]?[0-9a-z_.,]+(?:[ -][0-9a-z_.,]+)*?\s*(?:%|percent|per\s*cent|pct)";
/// A few words of context before a construction ("our town's population", "if I"): words
/// only, so no amount can hide in them.
const CONTEXT: &str = r"(?:[a-z']+\s+){0,4}?";
/// What may stand before a percentage in a chain: "subtract another 10%".
const MORE: &str =
    r"(?:another\s+|a\s+further\s+|a\s+second\s+|an\s+additional\s+|an\s+extra\s+|further\s+)?";
/// A unit: a word, or "<word> per <word>", or a symbol such as km/h.
const U: &str = r"[^ \t0-9,?][^ \t,?]*(?:[ \t]+per[ \t]+[^ \t,?]+)?";
/// A trailing question that only asks for the number computed.
const ASK: &str = r"(?:[,.;:]?\s*(?:so\s+|then\s+)?(?:how\s+many|how\s+much|what(?:'s|\s+is|\s+are)|whats)\b[^0-9]*)?";

fn expand(pattern: &str) -> String {
    let slot = |name: &str, body: &str| format!("(?P<{name}>{body})");
    // Spaces are ASCII spaces here: Unicode's classes would multiply the set's size.
    let pattern = pattern.replace(r"\s", r"[ \t]");
    let mut out = format!("(?i)^{pattern}$");
    for (name, body) in [
        ("n", N),
        ("m", N),
        ("a", N),
        ("b", N),
        ("p", P),
        ("u", U),
        ("v", U),
        ("w", U),
    ] {
        out = out.replace(&format!("<{name}>"), &slot(name, body));
    }
    out.replace("<ask>", &ASK.replace(r"\s", r"[ \t]"))
        .replace("<more>", &MORE.replace(r"\s", r"[ \t]"))
        .replace("<context>", &CONTEXT.replace(r"\s", r"[ \t]"))
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
        // "then take off 20%", "knock 10% off" (the result before), "subtract 15% from 200";
        // "take 20% of that" is the part, not what is left, and is not read here.
        pattern: r"(?:take|knock)\s+off\s+<more><p>",
        build: less_percent,
    },
    Construction {
        pattern: r"(?:take|knock)\s+<more><p>\s+off",
        build: less_percent,
    },
    Construction {
        pattern: r"(?:deduct|subtract|remove|minus)\s+<more><p>(?:\s+from\s+<n>)?",
        build: less_percent,
    },
    Construction {
        // "decrease 200 by 25%", "reduce 80 by 10 percent"
        pattern: r"(?:decrease|reduce|lower|cut|drop|discount|shrink|mark\s+down)\s+(?:<n>\s+)?by\s+<more><p>",
        build: less_percent,
    },
    Construction {
        // "60 minus 15%", "200 decreased by 25%", "80 after a 20% discount"
        pattern: r"<n>\s+(?:minus|less|decreased\s+by|reduced\s+by|discounted\s+by|lowered\s+by|marked\s+down\s+by|with|after|at)\s+(?:an?\s+)?<p>(?:\s+(?:off|discount|reduction|decrease|less))?",
        build: less_percent,
    },
    Construction {
        // "increase 50 by 10%", "raise 250 by 12 percent"
        pattern: r"(?:increase|raise|grow|boost|inflate|mark\s+up|up)\s+(?:<n>\s+)?by\s+<more><p>",
        build: more_percent,
    },
    Construction {
        // "add 15% to 80"
        pattern: r"add\s+(?:an?\s+)?<more><p>(?:\s+(?:sales\s+)?(?:tax|vat|tip|gratuity|service(?:\s+charge)?|markup|interest))?(?:\s+(?:to|on\s+top\s+of|onto|on)\s+<n>)?<ask>",
        build: more_percent,
    },
    Construction {
        // "80 plus 15%", "50 increased by 10%", "80 with 20% added"
        pattern: r"<n>\s+(?:plus|\+|increased\s+by|raised\s+by|marked\s+up\s+by|grown\s+by|with|and)\s+(?:an?\s+)?(?:extra\s+|additional\s+)?<p>(?:\s+(?:added|more|extra|increase|markup|on\s+top|(?:sales\s+)?tax|vat|tip|gratuity|service(?:\s+charge)?|interest))?<ask>",
        build: more_percent,
    },
    Construction {
        // "a 15% tip on 80", "20% tax on 150", "8% commission of 2500"
        pattern: r"(?:an?\s+|the\s+)?<p>\s+(?:tip|tax|gratuity|commission|service\s+charge|fee|vat|interest|deposit|cut|share)\s+(?:on|of|for|from)\s+(?:an?\s+|the\s+)?(?:bill\s+of\s+|total\s+of\s+|meal\s+of\s+|sale\s+of\s+|amount\s+of\s+)?<n>(?:\s+(?:bill|meal|total|check|sale))?<ask>",
        build: part_percent,
    },
    Construction {
        // "tip of 15% on 80"
        pattern: r"(?:an?\s+|the\s+)?(?:tip|tax|gratuity|commission|fee|interest)\s+of\s+<p>\s+(?:on|of|for)\s+(?:an?\s+|the\s+)?(?:bill\s+of\s+)?<n>(?:\s+(?:bill|meal|total))?<ask>",
        build: part_percent,
    },
    Construction {
        // "percentage change from 50 to 75", "percent increase from 40 to 50"
        pattern: r"(?:the\s+)?(?:percent(?:age)?|%)\s+(?:change|increase|growth|rise|gain)\s+(?:going\s+|when\s+going\s+)?(?:from|between)\s+<a>\s+(?:to|and)\s+<b>",
        build: percent_change,
    },
    Construction {
        // "percent decrease from 80 to 60"
        pattern: r"(?:the\s+)?(?:percent(?:age)?|%)\s+(?:decrease|drop|fall|decline|loss|reduction)\s+(?:going\s+|when\s+going\s+)?(?:from|between)\s+<a>\s+(?:to|and)\s+<b>",
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
    Construction {
        // "population grew from 8000 to 9200, what's the percentage increase"
        pattern: r"<context>(?:grew|rose|went\s+up|increased|climbed|jumped|has\s+grown|has\s+risen|has\s+increased|goes\s+up|went|goes|changed|moved)\s+from\s+<a>\s+to\s+<b>[,.;]?\s*(?:what(?:'s|\s+is|\s+was)\s+(?:the|that)\s+|by\s+what\s+|as\s+an?\s+)?(?:percent(?:age)?|%)(?:\s+(?:increase|change|growth|rise|gain))?(?:\s+(?:did|has|does|is)\s+(?:it|that|this|the\s+[a-z]+)\s+(?:grow|grown|rise|risen|increase|increased|go\s+up|gone\s+up|change|changed))?",
        build: percent_change,
    },
    Construction {
        // "sales fell from 200 to 150, what's the percentage decrease"
        pattern: r"<context>(?:fell|dropped|went\s+down|decreased|declined|shrank|has\s+fallen|has\s+dropped|has\s+decreased|goes\s+down)\s+from\s+<a>\s+to\s+<b>[,.;]?\s*(?:what(?:'s|\s+is|\s+was)\s+(?:the|that)\s+|by\s+what\s+|as\s+an?\s+)?(?:percent(?:age)?|%)(?:\s+(?:decrease|drop|fall|decline|reduction|change))?(?:\s+(?:did|has|does|is)\s+(?:it|that|this|the\s+[a-z]+)\s+(?:fall|fallen|drop|dropped|decrease|decreased|shrink|shrunk|go\s+down|gone\s+down))?",
        build: percent_drop,
    },
    Construction {
        // "the price is 120 and there's 25% off, what do I pay"
        pattern: r"(?:the\s+|it\s+)?(?:price|cost|total|bill|it)\s+(?:is|was)\s+<n>\s*(?:,|and|but|with)\s*(?:there's|there\s+is|there\s+was|it's|it\s+is|they\s+give|i\s+get|with)?\s*(?:an?\s+)?<p>\s+(?:off|discount)[,.;]?\s*(?:what\s+do\s+i\s+pay|what's\s+the\s+(?:new\s+|final\s+|sale\s+)?(?:price|total|cost)|what\s+is\s+the\s+(?:new\s+|final\s+|sale\s+)?(?:price|total|cost)|how\s+much\s+(?:do\s+i\s+pay|is\s+it(?:\s+now)?|does\s+it\s+cost))",
        build: less_percent,
    },
    Construction {
        // "a tank holds 50 litres and is 40% full, how many litres are in it"
        pattern: r"(?:an?\s+|the\s+|my\s+|our\s+)?[a-z]+\s+(?:holds|takes|has\s+room\s+for|can\s+hold|fits)\s+<n>\s*(?:<u>\s*)?(?:,|and)\s*(?:it\s+)?(?:is|'s|is\s+only|is\s+now)\s+<p>\s+full[,.;]?\s*how\s+(?:many|much)\b[^0-9]*",
        build: part_percent_in_unit,
    },
    Construction {
        // "the bill is 85.50 and I want to leave an 18% tip, how much is the tip"
        pattern: r"(?:the\s+|my\s+|our\s+)?(?:[a-z]+\s+)?(?:bill|total|meal|check|tab)\s+(?:is|was|comes\s+to|came\s+to)\s+<n>\s*[,.;]?\s*(?:and\s+|so\s+)?(?:i|we)\s+(?:want\s+to\s+|would\s+like\s+to\s+|'d\s+like\s+to\s+|will\s+|'ll\s+)?(?:leave|give|add|pay|tip)\s+(?:an?\s+)?<p>(?:\s+tip)?\s*[-,.;]?\s*how\s+much\s+is\s+(?:the|that|my)\s+tip",
        build: part_percent,
    },
    Construction {
        // "a jacket is priced at 120 with 30% off, what's the sale price"
        pattern: r"<context>(?:is\s+|was\s+)?(?:priced\s+at|costs?|costing|sells?\s+for|marked\s+at)\s+<n>\s*(?:,|and|but|with)\s*(?:there's\s+|there\s+is\s+|it's\s+|it\s+is\s+|a\s+|an\s+)?<p>\s+(?:off|discount)[,.;]?\s*(?:what(?:'s|\s+is)\s+(?:the|its)\s+(?:new\s+|final\s+|sale\s+|discounted\s+)?(?:price|total|cost)|how\s+much\s+(?:is\s+it(?:\s+now)?|does\s+it\s+cost(?:\s+now)?|do\s+i\s+pay))",
        build: less_percent,
    },
    Construction {
        // "what's the total if I add 20% tax to 45"
        pattern: r"(?:the\s+)?total\s+if\s+(?:i|we|you)\s+add\s+(?:an?\s+)?<p>(?:\s+(?:sales\s+)?(?:tax|vat|tip|gratuity|service(?:\s+charge)?))?\s+(?:to|on)\s+(?:an?\s+|the\s+)?(?:bill\s+of\s+|total\s+of\s+)?<n>",
        build: more_percent,
    },
    Construction {
        // "if I leave a 15% tip on a bill of 48, what's the total"
        pattern: r"(?:if\s+)?(?:i|we|you)\s+(?:leave|add|give|pay)\s+(?:an?\s+)?<p>\s+(?:tip|tax|gratuity|service\s+charge)\s+on\s+(?:an?\s+|the\s+)?(?:bill\s+of\s+|total\s+of\s+|meal\s+of\s+)?<n>[,.;]?\s*(?:what(?:'s|\s+is)\s+the\s+total|how\s+much\s+(?:in\s+total|altogether|do\s+(?:i|we|you)\s+pay))",
        build: more_percent,
    },
    Construction {
        // "my test score was 42 out of 60, what percentage is that"
        pattern: r"<context>(?:was|is|got|scored|of|made)\s+<n>\s+(?:out\s+of|of)\s+<m>(?:\s+[a-z]+)?[,.;]?\s*what\s+(?:percent(?:age)?|%)\s+(?:is\s+that|was\s+that|is\s+it|did\s+(?:i|you|we|he|she|they)\s+(?:get|score))",
        build: share_percent,
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
        pattern: r"(?:an?\s+|the\s+|my\s+|our\s+|his\s+|her\s+|their\s+|this\s+|your\s+)?(?:[a-z]+\s+)?(?:that\s+is\s+|which\s+is\s+|is\s+|measuring\s+|measures\s+|of\s+)?<a>\s*<u>\s*(?:by|x|\*|×)\s*<b>\s*<v>(?:\s+[a-z]+)?[,.;:]?\s*(?:what(?:'s|\s+is)\s+(?:the|its)\s+(?:total\s+)?(?:floor\s+)?area(?:\s+in\s+square\s+[a-z]+)?|how\s+big\s+is\s+it|(?:the\s+|its\s+)?area|how\s+many\s+square\s+[a-z]+\b[^0-9]*)",
        build: area,
    },
    Construction {
        // "the area of a 4 m by 5 m room", "area of a room 4 m by 5 m"
        pattern: r"(?:the\s+)?area\s+of\s+(?:an?\s+|the\s+)?(?:[a-z]+\s+)?(?:that\s+is\s+|which\s+is\s+|measuring\s+|of\s+)?<a>\s*<u>\s*(?:by|x|\*|×)\s*<b>\s*<v>(?:\s+[a-z]+)?",
        build: area,
    },
    Construction {
        // "how many 330 ml cans fill a 2 liter jug", "… does it take to fill a 2 l bottle"
        pattern: r"how\s+many\s+<m>\s*-?\s*<u>\s+[a-z]+\s+(?:(?:does|would|will)\s+it\s+take\s+to\s+(?:completely\s+|fully\s+)?fill(?:\s+up)?|do\s+(?:i|you|we)\s+need\s+to\s+(?:completely\s+|fully\s+)?fill(?:\s+up)?|(?:will\s+|would\s+|to\s+)?fill(?:\s+up)?|are\s+needed\s+to\s+fill|to\s+fill(?:\s+up)?)\s+(?:an?|the|one)\s+<n>\s*-?\s*<v>(?:\s+[a-z]+)?",
        build: fill,
    },
    Construction {
        // "120 km at 60 km/h, how long", "how long to drive 120 km at 60 km/h"
        pattern: r"(?:how\s+long\s+(?:does\s+it|will\s+it|would\s+it)\s+take\s+(?:to\s+)?(?:[a-z]+\s+)?|how\s+long\s+to\s+(?:[a-z]+\s+)?|(?:if\s+)?(?:(?:i|you|we|they|he|she|a\s+[a-z]+|the\s+[a-z]+)\s+)?(?:drive|drives|travel|travels|go|goes|walk|walks|cycle|cycles|run|runs|ride|rides|fly|flies|sail|sails|cover|covers)\s+)?<a>\s*<u>\s+at\s+(?:a\s+speed\s+of\s+|an\s+average\s+(?:speed\s+)?of\s+)?<b>\s*<v>(?:[,.;]?\s*(?:how\s+long\b[^0-9]*|how\s+many\s+hours\b[^0-9]*))?(?:[,.;]?\s*in\s+(?P<askunit>[a-z]+))?",
        build: travel_time,
    },
    Construction {
        // "at 60 km/h for 3 hours, how far", "drive 50 mph for 2 hours"
        pattern: r"(?:(?:if\s+)?(?:(?:i|you|we|they|he|she|a\s+[a-z]+|the\s+[a-z]+)\s+)?(?:drive|drives|travel|travels|go|goes|walk|walks|cycle|cycles|run|runs|ride|rides|fly|flies)\s+)?(?:at\s+)?<b>\s*<v>\s+for\s+<a>\s*<u>(?:[,.;]?\s*(?:how\s+far\b[^0-9]*|what\s+distance\b[^0-9]*|how\s+many\s+(?P<askunit>[^\s0-9,?]+)\s+(?:does|do|did|will|would|is|are|was)\b[^0-9]*))?",
        build: travel_distance,
    },
    Construction {
        // "150 km in 2 hours, what's the average speed"
        pattern: r"(?:(?:if\s+)?(?:(?:i|you|we|they|he|she|a\s+[a-z]+|the\s+[a-z]+)\s+)?(?:drive|drives|drove|travel|travels|travelled|traveled|go|goes|went|walk|walks|walked|cycle|cycles|cycled|run|runs|ran|ride|rides|rode|fly|flies|flew|cover|covers|covered)\s+)?<a>\s*<u>\s+in\s+<b>\s*<v>[,.;]?\s*(?:what(?:'s|\s+is|\s+was)\s+(?:the\s+|my\s+|its\s+|their\s+|his\s+|her\s+)?(?:average\s+)?speed(?:\s+in\s+(?P<askunit>[^\s,?]+(?:\s+per\s+[^\s,?]+)?))?|how\s+fast\b[^0-9]*)",
        build: travel_speed,
    },
    Construction {
        // "I have 20 apples and give away 7, how many are left"
        pattern: r"(?:(?:i|we|you|they|he|she|[a-z]+)\s+)?(?:have|has|had|bought|baked|picked|got|made|start\s+with|started\s+with)\s+<n>(?:\s+[a-z]+)?\s*(?:,|and|then|but)\s*(?:(?:i|we|you|they|he|she)\s+)?(?:then\s+)?(?:give\s+away|gave\s+away|gives\s+away|give|gave|gives|eat|ate|eats|sell|sold|sells|lose|lost|loses|use|used|uses|spend|spent|spends|take\s+away|took\s+away|remove|removed|break|broke|drop|dropped)\s+<m>(?:\s+(?:of\s+them|[a-z]+))?(?:\s+away)?[,.;]?\s*(?:how\s+many\b[^0-9]*(?:left|remain|remaining|now|still)[^0-9]*)?",
        build: left_over,
    },
    Construction {
        // "a class of 28 students each needs 4 notebooks"
        pattern: r"(?:an?\s+|the\s+)?[a-z]+\s+of\s+<n>\s+(?P<k>[a-z]+)\s+(?:each\s+|all\s+)?(?:needs?|gets?|has|have|eats?|takes?|buys?|brings?|uses?|wants?|receives?)\s+(?:each\s+)?<m>(?:\s+(?P<j>[a-z]+))?(?:\s+each)?<ask>",
        build: groups,
    },
    Construction {
        // "6 packs of 24 water bottles, how many bottles"
        pattern: r"<n>\s+(?P<k>[a-z]+)\s+(?:of|with|holding|containing)\s+<m>\s+[a-z]+\s+(?P<j>[a-z]+)(?:\s+(?:each|apiece|in\s+each))?<ask>",
        build: groups,
    },
    Construction {
        // "a recipe needs 3 eggs per cake and I'm making 7 cakes, how many eggs"
        pattern: r"(?:(?:an?|the|each|one)\s+[a-z]+\s+)?(?:needs|uses|takes|requires|calls\s+for)\s+<m>\s+(?P<k>[a-z]+)\s+(?:per|for\s+each|for\s+every|for\s+one|for\s+a|in\s+each|a)\s+[a-z]+\s*(?:,|and|so)\s*(?:i'm|i\s+am|we're|we\s+are|you're|you\s+are|i|we|you)\s+(?:making|baking|cooking|make|bake|cook|need\s+to\s+make|want\s+to\s+make|have)\s+<n>(?:\s+[a-z]+)?<ask>",
        build: groups,
    },
    Construction {
        // "36 players split into teams of 4, how many teams"
        pattern: r"<n>\s+(?P<k>[a-z]+)\s+(?:are\s+)?(?:split|divided|grouped|put|sorted|arranged|shared)\s+(?:equally\s+|evenly\s+)?into\s+[a-z]+\s+of\s+<m><ask>",
        build: share,
    },
    Construction {
        // "a box holds 18 apples and I have 200 apples, how many boxes do I need"
        pattern: r"(?:an?|each|one|every)\s+[a-z]+\s+(?:holds|fits|takes|contains|carries|seats|has\s+room\s+for|can\s+hold|can\s+take|can\s+carry|can\s+seat)\s+<m>(?:\s+(?P<k>[a-z]+))?\s*(?:,|and|so|but)\s*(?:i|we|you|they)\s+(?:have|need\s+to\s+(?:pack|move|carry|store|seat)|want\s+to\s+(?:pack|move|carry|store|seat)|have\s+to\s+(?:pack|move|carry|store|seat))\s+<n>(?:\s+(?P<j>[a-z]+))?[,.;]?\s*(?P<q>how\s+many\b[^0-9]*)",
        build: containers,
    },
    Construction {
        // "pencils come in packs of 10 and I need 47 pencils, how many packs should I buy"
        pattern: r"(?P<k>[a-z]+)\s+(?:come|comes|are\s+sold|is\s+sold)\s+in\s+[a-z]+\s+of\s+<m>\s*(?:,|and|so|but)\s*(?:i|we|you|they)\s+(?:need|want|have\s+to\s+buy|must\s+buy)\s+<n>(?:\s+(?P<j>[a-z]+))?[,.;]?\s*(?P<q>how\s+many\b[^0-9]*)",
        build: containers,
    },
    Construction {
        // "I have 100 chairs and each table needs 8, how many complete tables can I set up"
        pattern: r"(?:i|we|you|they)\s+(?:have|has|got)\s+<n>(?:\s+(?P<k>[a-z]+))?\s*(?:,|and|but)\s*(?:each|every|one|a)\s+[a-z]+\s+(?:needs|takes|holds|uses|gets|seats|fits|requires)\s+<m>(?:\s+(?P<j>[a-z]+))?[,.;]?\s*(?P<q>how\s+many\b[^0-9]*)",
        build: containers,
    },
    Construction {
        // "I need to fill a 5 litre jug using 330 ml cans, how many cans"
        pattern: r"(?:to\s+)?fill\s+(?:up\s+)?(?:an?|the|one)\s+<n>\s*-?\s*<v>(?:\s+[a-z]+)?\s+(?:using|with|from)\s+<m>\s*-?\s*<u>\s+[a-z]+[,.;]?\s*how\s+many\b[^0-9]*",
        build: fill,
    },
    Construction {
        // "how many times do I need to pour a 1 quart jug to fill a 2 gallon bucket"
        pattern: r"how\s+many\s+times\s+(?:do|would|will|must|should|can)\s+(?:i|you|we)\s+(?:need\s+to\s+|have\s+to\s+)?(?:pour|empty|use|fill|tip)\s+(?:an?|the|one|my)\s+<m>\s*-?\s*<u>\s+[a-z]+\s+(?:to\s+fill|into)\s+(?:up\s+)?(?:an?|the|one|my)\s+<n>\s*-?\s*<v>(?:\s+[a-z]+)?",
        build: fill,
    },
    Construction {
        // "how many 250 ml glasses can I fill from a 1.5 litre jug" (whole glasses: down)
        pattern: r"how\s+many\s+<m>\s*-?\s*<u>\s+[a-z]+\s+(?:can|could|will|would)\s+(?:i|you|we)\s+(?:completely\s+|fully\s+)?fill\s+(?:from|with|out\s+of|using)\s+(?:(?:an?|the|one|my)\s+)?<n>\s*-?\s*<v>(?:\s+of\s+[a-z]+|\s+[a-z]+)?",
        build: fill_from,
    },
    Construction {
        // "I walk at 5 km/h, how long will it take me to walk 12.5 km"
        pattern: r"(?:(?:i|you|we|they|he|she|a\s+[a-z]+|the\s+[a-z]+)\s+)?(?:drive|drives|travel|travels|go|goes|walk|walks|cycle|cycles|run|runs|ride|rides|fly|flies|sail|sails|move|moves)\s+at\s+(?:a\s+speed\s+of\s+|an\s+average\s+(?:speed\s+)?of\s+)?<b>\s*<v>[,.;]?\s*how\s+long\s+(?:will|would|does|did)\s+it\s+take\s+(?:me|you|us|them|him|her|it)?\s*(?:to\s+(?:[a-z]+\s+)?)?<a>\s*<u>",
        build: travel_time,
    },
    Construction {
        // "how far do I go at 80 km/h for 3 hours"
        pattern: r"how\s+far\s+(?:do|does|will|would|can|did)\s+(?:i|you|we|they|he|she|it|a\s+[a-z]+|the\s+[a-z]+)\s+(?:go|get|travel|drive|walk|run|cycle|ride|fly|sail|move)\s+(?:at\s+)?<b>\s*<v>\s+(?:for|in)\s+<a>\s*<u>",
        build: travel_distance,
    },
    Construction {
        // "I read 35 pages a day, how many pages will I read in 2 weeks"
        pattern: r"<context>[a-z]+\s+<m>\s+[a-z]+\s+(?:a|an|per|each|every)\s+<u>[,.;]?\s*how\s+many\s+(?:[a-z]+\s+)?(?:(?:will|would|do|does|can|could)\s+(?:i|you|we|they|he|she|it)\s+[a-z]+\s+)?(?:in|over|during)\s+(?:a\s+|an\s+|one\s+)?(?:<n>\s+)?<v>",
        build: rate_over_time,
    },
    Construction {
        // "I have 48 cookies to share equally among 6 kids, how many does each get"
        pattern: r"(?:i|we|you|they|he|she)\s+(?:have|has|had|got)\s+<n>(?:\s+(?P<k>[a-z]+))?\s+to\s+(?:share|split|divide|distribute)\s+(?:equally\s+|evenly\s+)?(?:between|among|amongst|with)\s+<m>(?:\s+(?P<j>[a-z]+))?<ask>",
        build: share,
    },
    Construction {
        // "convert it to litres, then split that into 4": the result before, shared
        pattern: r"(?:split|divide|share)\s+(?:that|it|this|the\s+result)\s+(?:equally\s+|evenly\s+)?(?:into|between|among|by)\s+<m>(?:\s+(?P<j>[a-z]+))?",
        build: share_previous,
    },
    Construction {
        // "a garden is 12 m long and 8 m wide, how many metres of fence to go round it"
        pattern: r"(?:an?\s+|the\s+|my\s+|our\s+|this\s+)?(?:[a-z]+\s+)?(?:is\s+|that\s+is\s+|which\s+is\s+|measuring\s+|measures\s+)?<a>\s*<u>\s+long\s*(?:,|and|by)?\s*<b>\s*<v>\s+wide[,.;:]?\s*(?P<q>(?:what(?:'s|\s+is)\s+|how\s+(?:many|much)\s+)[^0-9]*)",
        build: rectangle,
    },
    Construction {
        // "a tap fills 12 litres per minute, how many minutes to fill a 300 litre tank"
        pattern: r"<context>[a-z]+\s+<m>\s*(?:[a-z]+\s+)?(?:a|an|per|each|every)\s+<u>[,.;]?\s*how\s+(?:many\s+(?P<askunit>[a-z]+)|long)\s+(?:will\s+it\s+take\s+|does\s+it\s+take\s+|would\s+it\s+take\s+|do\s+(?:i|you|we)\s+need\s+)?(?:to\s+)?(?:fill|finish|read|make|print|produce|complete|do|get\s+through|empty|drain|reach)\s+(?:an?\s+|the\s+|one\s+)?<n>(?:\s*-?\s*[a-z]+)*",
        build: time_to_total,
    },
    Construction {
        // "my car uses 6 litres per 100 km, how many litres for a 350 km trip"
        pattern: r"(?:(?:an?|the|my|our|this)\s+[a-z]+\s+)?(?:uses|burns|needs|consumes|takes|drinks|does)\s+<m>\s*<u>\s+(?:per|every|for\s+every|each|in)\s+<a>\s*<v>[,.;]?\s*how\s+(?:much|many)\s+(?:[a-z]+\s+)?(?:(?:does|do|will|would)\s+(?:it|i|you|we|they|the\s+[a-z]+)\s+(?:need|use|burn|take|consume)\s+)?(?:for|to\s+[a-z]+|over|on|in)\s+(?:an?\s+|the\s+)?<n>\s*<w>(?:\s+[a-z]+)?(?:[,.;]?\s*in\s+[a-z]+)?",
        build: consumption,
    },
    Construction {
        // "a recipe for 4 people needs 300 g of flour, how much flour for 10 people"
        pattern: r"(?:an?\s+|the\s+|my\s+)?[a-z]+\s+for\s+<a>(?:\s+(?P<k>[a-z]+))?\s+(?:needs|uses|takes|requires|calls\s+for|has)\s+<m>\s*(?:<u>\s+)?(?:of\s+[a-z]+)?[,.;]?\s*how\s+(?:much|many)\s+(?:[a-z]+\s+)?(?:for|to\s+(?:make|feed|serve))\s+<n>(?:\s+(?P<j>[a-z]+))?(?:[,.;]?\s*in\s+[a-z]+)?",
        build: scale_recipe,
    },
    Construction {
        // "I need to carry 50 litres of water and my bucket holds 8 litres, how many trips"
        pattern: r"(?:to\s+)?(?:carry|move|pour|transport|fetch|bring)\s+<n>\s*<v>(?:\s+of\s+[a-z]+)?\s*(?:,|and|but)\s*(?:my|the|a|each|one|our)\s+[a-z]+\s+(?:holds|takes|carries|fits|can\s+hold|can\s+carry)\s+<m>\s*<u>[,.;]?\s*how\s+many\s+(?:trips|times|loads|runs|journeys|goes)\b[^0-9]*",
        build: fill,
    },
    Construction {
        // "a pizza cut into 8 slices shared by 4 people, how many slices each"
        pattern: r"(?:an?\s+|the\s+|my\s+)?[a-z]+\s+(?:cut|split|divided|broken)\s+into\s+<n>\s+(?P<k>[a-z]+)\s*(?:,|and)?\s*(?:is\s+|are\s+)?(?:shared|split|divided)\s+(?:equally\s+|evenly\s+)?(?:by|between|among|amongst)\s+<m>(?:\s+(?P<j>[a-z]+))?<ask>",
        build: share,
    },
    Construction {
        // "3 packs of 6 bottles plus 4 loose bottles, how many bottles total"
        pattern: r"<n>\s+(?P<k>[a-z]+)\s+(?:of|with)\s+<m>(?:\s+(?P<j>[a-z]+))?\s+(?:plus|and|with|\+)\s+(?:another\s+|an\s+extra\s+)?<a>\s+(?:loose|extra|more|single|spare|other|separate|individual)?\s*[a-z]+<ask>",
        build: groups_plus,
    },
    Construction {
        // "a square garden with sides of 9 m, what's the area"
        pattern: r"(?:an?\s+|the\s+|my\s+|our\s+)?square\s+(?:[a-z]+\s+)?(?:with\s+(?:sides|a\s+side|each\s+side)\s+of|of\s+side|with\s+side|measuring|that\s+is|which\s+is|is|of)\s+<a>\s*<u>(?:\s+(?:on\s+each\s+side|each\s+side|per\s+side|a\s+side|on\s+a\s+side|long|wide))?[,.;:]?\s*(?P<q>(?:what(?:'s|\s+is)\s+|how\s+(?:many|much)\s+)[^0-9]*)",
        build: square_shape,
    },
    Construction {
        // "a recipe needs 200 g of flour per batch, how much flour for 3 batches"
        pattern: r"(?:(?:an?|the|my|each|one)\s+)?[a-z]+\s+(?:needs|uses|takes|requires|calls\s+for)\s+<m>\s*(?:<u>\s+)?(?:of\s+[a-z]+\s+)?(?:per|for\s+each|for\s+every|for\s+one|for\s+a|each|a)\s+(?P<k>[a-z]+)[,.;]?\s*how\s+(?:much|many)\s+(?:[a-z]+\s+)?(?:(?:do|will|would)\s+(?:i|you|we)\s+need\s+)?(?:for|to\s+make|in)\s+<n>(?:\s+(?P<j>[a-z]+))?",
        build: per_item,
    },
    Construction {
        // "3 friends share 2.4 kg of sweets equally, how many grams each"
        pattern: r"<m>\s+(?P<k>[a-z]+)\s+(?:share|split)\s+<n>\s*<u>(?:\s+of\s+[a-z]+)?(?:\s+(?:equally|evenly))?[,.;]?\s*how\s+(?:many|much)\s+(?P<askunit>[^\s0-9,?]+)?\s*(?:each|does\s+each\s+(?:one\s+|person\s+)?(?:get|have)|for\s+each(?:\s+[a-z]+)?|per\s+[a-z]+)",
        build: share_amount,
    },
    Construction {
        // "each bus holds 45 people, how many buses do we need for 200 students"
        pattern: r"(?:an?|each|one|every)\s+[a-z]+\s+(?:holds|fits|takes|carries|seats|can\s+hold|can\s+take|can\s+carry|can\s+seat)\s+<m>(?:\s+(?P<k>[a-z]+))?[,.;]?\s*(?P<q>how\s+many\s+[a-z]+\s+(?:do|will|would|should|must)\s+(?:i|we|you|they)\s+need)\s+(?:for|to\s+(?:carry|move|seat|take|pack|hold|fit))\s+<n>(?:\s+(?P<j>[a-z]+))?",
        build: containers,
    },
    Construction {
        // "a running track lap is 400 m, how many laps make 10 km"
        pattern: r"<context>(?:is|are|measures|covers)\s+<m>\s*<u>(?:\s+long)?[,.;]?\s*how\s+many\s+(?P<k>[a-z]+)\s+(?:make|makes|in|are\s+in|is|equal|to\s+(?:make|cover|reach|run|walk|swim|ride|do))\s+(?:an?\s+|one\s+)?<n>\s*<v>",
        build: laps,
    },
    Construction {
        // "a recipe uses 3 eggs for 2 dozen muffins, how many eggs for 6 dozen"
        pattern: r"<context>(?:needs|uses|takes|requires|calls\s+for)\s+<m>\s*(?:<u>\s+)?(?:of\s+[a-z]+\s+|[a-z]+\s+)?(?:for|to\s+make)\s+<a>(?:\s+(?P<k>[a-z]+))?[,.;]?\s*how\s+(?:much|many)\s+(?:[a-z]+\s+)?(?:(?:do|will|would)\s+(?:i|you|we)\s+need\s+)?(?:for|to\s+make)\s+<n>(?:\s+(?P<j>[a-z]+))?",
        build: scale_recipe,
    },
    Construction {
        // "what's the perimeter of a rectangle 7 cm wide and 11 cm long"
        pattern: r"(?:the\s+)?(?P<q>perimeter|area)\s+of\s+(?:an?\s+|the\s+)?(?:[a-z]+\s+)?(?:that\s+is\s+|which\s+is\s+|measuring\s+)?<a>\s*<u>\s+(?:wide|long|high|by)\s*(?:and|by|,)?\s*<b>\s*<v>(?:\s+(?:long|wide|high))?",
        build: rectangle,
    },
    Construction {
        // "my garden is 12 m by 8 m, how much fencing do I need to go round"
        pattern: r"<context><a>\s*<u>\s*(?:by|x|\*|×)\s*<b>\s*<v>(?:\s+[a-z]+)?[,.;:]?\s*(?P<q>(?:how\s+(?:much|many)|what)\s+[^0-9]*(?:fence|fencing|perimeter|round|around|border|edging|trim)[^0-9]*)",
        build: rectangle,
    },
    Construction {
        // "a square tile has 30 cm sides, what's its area"
        pattern: r"(?:an?\s+|the\s+|my\s+)?square\s+(?:[a-z]+\s+)?(?:has|with)\s+<a>\s*<u>\s+sides?[,.;:]?\s*(?P<q>(?:what(?:'s|\s+is)\s+|how\s+(?:many|much)\s+)[^0-9]*)",
        build: square_shape,
    },
    Construction {
        // "travelling at 60 mph for 3.5 hours, how far do I go"
        pattern: r"(?:travelling|traveling|driving|going|walking|cycling|running|flying|riding|sailing|moving)\s+at\s+(?:a\s+speed\s+of\s+)?<b>\s*<v>\s+for\s+<a>\s*<u>(?:[,.;]?\s*(?:how\s+far\b[^0-9]*|what\s+distance\b[^0-9]*|how\s+many\s+(?P<askunit>[^\s0-9,?]+)\s+(?:does|do|did|will|would|is|are|was|can)\b[^0-9]*))?",
        build: travel_distance,
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
        // The word problems' many optional words make a set larger than the default limit.
        set: RegexSetBuilder::new(&patterns)
            .size_limit(64 << 20)
            .build()
            .expect("valid construction patterns"),
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
        // Every percentage construction names one: a request that does not is not scanned.
        Table::Percentages if !mentions_percent(clause) => return None,
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

/// Whether the clause holds "%", "percent", "per cent" or "pct" in any case.
fn mentions_percent(clause: &str) -> bool {
    clause.contains('%')
        || clause
            .as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"per") || w.eq_ignore_ascii_case(b"pct"))
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
        // "two and a half", "1/2", "two thirds": one amount written in parts.
        Expr::Binary {
            op: BinaryOp::Add | BinaryOp::Divide,
            lhs,
            rhs,
        } => matches!((&**lhs, &**rhs), (Expr::Number(_), Expr::Number(_))),
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

/// The unit of a count ("7 cans", "490 pages"): explicitly none, so that the unit of the
/// amounts it was computed from does not carry over.
fn counted() -> Option<String> {
    Some(String::new())
}

fn number(value: i64) -> Expr {
    Expr::Number(Decimal::from(value))
}

/// `steps`, then the calculation that gives the answer.
fn finish(
    mut steps: Vec<Step>,
    clause: &str,
    expr: Expr,
    unit: Option<String>,
) -> Option<Vec<Step>> {
    steps.push(Step {
        operation: Operation::Calculate(expr),
        text: clause.to_string(),
        unit,
    });
    Some(steps)
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
    one_step(clause, percent_of_base(n, m), None)
}

/// Slot `name`, or the result before when the construction leaves it out ("decrease by
/// 10%").
fn value_or_previous(captures: &Captures<'_>, name: &str) -> Option<Expr> {
    match captures.name(name) {
        None => Some(Expr::Ref(Reference::Previous)),
        Some(_) => value(captures, name),
    }
}

/// n − p% of n.
fn less_percent(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, p) = (value_or_previous(c, "n")?, percentage(c)?);
    let off = percent_of(p, n.clone());
    one_step(clause, Expr::binary(BinaryOp::Subtract, n, off), None)
}

/// n + p% of n.
fn more_percent(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, p) = (value_or_previous(c, "n")?, percentage(c)?);
    let more = percent_of(p, n.clone());
    one_step(clause, Expr::binary(BinaryOp::Add, n, more), None)
}

/// p% of n.
fn part_percent(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, p) = (value(c, "n")?, percentage(c)?);
    one_step(clause, percent_of(p, n), None)
}

/// p% of n, in n's unit when it has one ("50 litres, 40% full" is 20 litres).
fn part_percent_in_unit(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (n, p) = (value(c, "n")?, percentage(c)?);
    let unit = optional_unit(c, "u", language)?;
    one_step(clause, percent_of(p, n), unit)
}

/// (b − a) / a × 100.
fn percent_change(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (a, b) = (value(c, "a")?, value(c, "b")?);
    let rise = Expr::binary(BinaryOp::Subtract, b, a.clone());
    one_step(clause, percent_of_base(rise, a), None)
}

/// (a − b) / a × 100: a decrease as a positive percentage.
fn percent_drop(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (a, b) = (value(c, "a")?, value(c, "b")?);
    let fall = Expr::binary(BinaryOp::Subtract, a.clone(), b);
    one_step(clause, percent_of_base(fall, a), None)
}

/// `part` as a percentage of `base`: part / base × 100.
fn percent_of_base(part: Expr, base: Expr) -> Expr {
    let ratio = Expr::binary(BinaryOp::Divide, part, base);
    Expr::binary(BinaryOp::Multiply, ratio, number(100))
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

/// The unit slot `name` holds: one of the table's, or a tenant's other name for one. A
/// local unit defined as an amount ("furlong: 201.168 metre") is not read here: the word
/// problems do not scale their amounts.
fn slot_unit(c: &Captures<'_>, name: &str, language: &Language) -> Option<&'static Unit> {
    let alias = language.unit(c.name(name)?.as_str())?;
    (alias.factor == Decimal::ONE).then_some(alias.unit)
}

/// [`slot_unit`], when it measures `quantity`.
fn slot_unit_of(
    c: &Captures<'_>,
    name: &str,
    quantity: Quantity,
    language: &Language,
) -> Option<&'static Unit> {
    slot_unit(c, name, language).filter(|unit| unit.quantity == quantity)
}

/// An optional unit slot's unit name: `Some(None)` when the slot is empty, `None` (not
/// read) when it holds something that is no unit.
fn optional_unit(c: &Captures<'_>, name: &str, language: &Language) -> Option<Option<String>> {
    match c.name(name) {
        None => Some(None),
        Some(_) => Some(Some(slot_unit(c, name, language)?.name.to_string())),
    }
}

/// A length unit from slot `name`.
fn length_unit(c: &Captures<'_>, name: &str, language: &Language) -> Option<&'static Unit> {
    slot_unit_of(c, name, Quantity::Length, language)
}

/// A step converting `value` from one unit to another.
fn convert_step(value: Expr, from: &str, to: &str, clause: &str) -> Step {
    Step {
        operation: Operation::Convert {
            value,
            from_unit: Some(from.to_string()),
            to_unit: to.to_string(),
        },
        text: clause.to_string(),
        unit: None,
    }
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
    shape(clause, a, b, u, "area")
}

/// How many containers of m u fill one of n v: n v in u, divided by m, rounded up.
fn fill(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (m, n) = (plain(c, "m")?, plain(c, "n")?);
    let small = slot_unit(c, "u", language)?;
    let large = slot_unit_of(c, "v", small.quantity, language)?;
    let count = Expr::call(
        Function::Ceil,
        vec![Expr::binary(
            BinaryOp::Divide,
            Expr::Ref(Reference::Step(0)),
            m,
        )],
    );
    let steps = vec![convert_step(n, large.name, small.name, clause)];
    finish(steps, clause, count, counted())
}

/// A speed unit's (length, time) units: "kilometre per hour" → (kilometre, hour).
fn speed_parts(c: &Captures<'_>, name: &str, language: &Language) -> Option<(String, String)> {
    let speed = slot_unit_of(c, name, Quantity::Speed, language)?;
    let (length, time) = speed.name.split_once(" per ")?;
    units::find(length)?;
    units::find(time)?;
    Some((length.to_string(), time.to_string()))
}

/// `value` in `unit`, converted to `target` when they differ: the steps to prepend and the
/// expression that stands for it.
fn in_unit(value: Expr, unit: &Unit, target: &str, clause: &str) -> (Vec<Step>, Expr) {
    if unit.name == target {
        return (Vec::new(), value);
    }
    let step = convert_step(value, unit.name, target, clause);
    (vec![step], Expr::Ref(Reference::Step(0)))
}

/// Distance a at speed b: a / b, in the speed's time unit.
fn travel_time(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (a, b) = (plain(c, "a")?, plain(c, "b")?);
    let (length, time) = speed_parts(c, "v", language)?;
    asked_unit_is(c, &time, language)?;
    let given = slot_unit_of(c, "u", Quantity::Length, language)?;
    let (steps, distance) = in_unit(a, given, &length, clause);
    finish(
        steps,
        clause,
        Expr::binary(BinaryOp::Divide, distance, b),
        Some(time),
    )
}

/// Speed b for time a: b × a, in the speed's length unit. A time in another unit is
/// divided by one of the speed's time unit in it (20 minutes at 60 mph is 60 × 20 / 60):
/// exact, where converting the 20 minutes to a third of an hour would not be.
fn travel_distance(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (a, b) = (plain(c, "a")?, plain(c, "b")?);
    let (length, time) = speed_parts(c, "v", language)?;
    asked_unit_is(c, &length, language)?;
    let given = slot_unit_of(c, "u", Quantity::Duration, language)?;
    let mut steps = Vec::new();
    let mut distance = Expr::binary(BinaryOp::Multiply, b, a);
    if given.name != time {
        steps.push(one_in(&time, given.name, clause));
        distance = Expr::binary(BinaryOp::Divide, distance, Expr::Ref(Reference::Step(0)));
    }
    finish(steps, clause, distance, Some(length))
}

/// When the question names a unit (group `askunit`: "how many km", "in hours"), it must be
/// `unit`, the one the answer comes in; other units are not read rather than converted.
fn asked_unit_is(c: &Captures<'_>, unit: &str, language: &Language) -> Option<()> {
    match c.name("askunit") {
        None => Some(()),
        Some(asked) => (language.unit(asked.as_str())?.unit.name == unit).then_some(()),
    }
}

/// A step converting one `unit` into `into` ("1 hour in minutes"): the exact factor
/// between two units of time.
fn one_in(unit: &str, into: &str, clause: &str) -> Step {
    convert_step(number(1), unit, into, clause)
}

/// Distance a in time b: a / b, in "<length> per <time>" when the table has that speed.
fn travel_speed(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (a, b) = (plain(c, "a")?, plain(c, "b")?);
    let length = slot_unit_of(c, "u", Quantity::Length, language)?;
    let time = slot_unit_of(c, "v", Quantity::Duration, language)?;
    if c.name("askunit").is_some() {
        // "… what's my speed in km/h": the distance in the target's length, times the
        // given time unit in the target's (minutes in an hour), which is exact.
        let target = slot_unit_of(c, "askunit", Quantity::Speed, language)?;
        let (to_length, to_time) = target.name.split_once(" per ")?;
        let (mut steps, distance) = in_unit(a, length, to_length, clause);
        let mut speed = Expr::binary(BinaryOp::Divide, distance, b);
        if time.name != to_time {
            steps.push(one_in(to_time, time.name, clause));
            let factor = Expr::Ref(Reference::Step(steps.len() - 1));
            speed = Expr::binary(BinaryOp::Multiply, speed, factor);
        }
        return finish(steps, clause, speed, Some(target.name.to_string()));
    }
    let speed = units::find(&format!("{} per {}", length.name, time.name))?;
    one_step(
        clause,
        Expr::binary(BinaryOp::Divide, a, b),
        Some(speed.name.to_string()),
    )
}

/// How many containers of m hold n: rounded up when the question is what is needed
/// ("how many boxes do I need"), down when it is what can be filled ("how many complete
/// tables"); any other question is not read.
fn containers(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, m) = (plain(c, "n")?, plain(c, "m")?);
    let question = c.name("q")?.as_str().to_ascii_lowercase();
    let has = |words: &[&str]| {
        question
            .split(|ch: char| !ch.is_alphanumeric())
            .any(|w| words.contains(&w))
    };
    let whole = if has(&["complete", "full", "whole", "filled", "can", "could"]) {
        Function::Floor
    } else if has(&[
        "need", "needed", "buy", "use", "required", "take", "get", "must", "should",
    ]) {
        Function::Ceil
    } else {
        return None;
    };
    let count = Expr::call(whole, vec![Expr::binary(BinaryOp::Divide, n, m)]);
    one_step(clause, count, None)
}

/// How many containers of m u can be filled from n v: rounded down.
fn fill_from(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let mut steps = fill(c, clause, language)?;
    if let Some(Step {
        operation: Operation::Calculate(Expr::Call { function, .. }),
        ..
    }) = steps.last_mut()
    {
        *function = Function::Floor;
    }
    Some(steps)
}

/// m per u, for n v: m × (n v in u).
fn rate_over_time(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let m = plain(c, "m")?;
    let n = match c.name("n") {
        Some(_) => plain(c, "n")?,
        None => number(1),
    };
    let per = slot_unit_of(c, "u", Quantity::Duration, language)?;
    let over = slot_unit_of(c, "v", Quantity::Duration, language)?;
    let (steps, periods) = in_unit(n, over, per.name, clause);
    finish(
        steps,
        clause,
        Expr::binary(BinaryOp::Multiply, m, periods),
        counted(),
    )
}

/// The result before, divided by m.
fn share_previous(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let m = plain(c, "m")?;
    one_step(
        clause,
        Expr::binary(BinaryOp::Divide, Expr::Ref(Reference::Previous), m),
        None,
    )
}

/// A rectangle a u long and b v wide: its perimeter when the question is about a fence,
/// edge or the way round; its area when it asks for the area.
fn rectangle(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (a, b) = (plain(c, "a")?, plain(c, "b")?);
    let (u, v) = (
        length_unit(c, "u", language)?,
        length_unit(c, "v", language)?,
    );
    if u.name != v.name {
        return None;
    }
    shape(clause, a, b, u, c.name("q")?.as_str())
}

/// A rectangle a by b (in `unit`): its area when the question asks for area (or square
/// units, carpet), its perimeter when it asks for a fence, edge or the way round.
fn shape(clause: &str, a: Expr, b: Expr, unit: &Unit, question: &str) -> Option<Vec<Step>> {
    let question = question.to_ascii_lowercase();
    let asks = |words: &[&str]| words.iter().any(|w| question.contains(w));
    if asks(&["area", "square", "carpet", "floor space"]) {
        let square = units::find(&format!("square {}", unit.name))?;
        return one_step(
            clause,
            Expr::binary(BinaryOp::Multiply, a, b),
            Some(square.name.to_string()),
        );
    }
    if asks(&[
        "fence",
        "fencing",
        "perimeter",
        "round",
        "around",
        "border",
        "edging",
        "trim",
    ]) {
        let sum = Expr::binary(BinaryOp::Add, a, b);
        return one_step(
            clause,
            Expr::binary(BinaryOp::Multiply, number(2), sum),
            Some(unit.name.to_string()),
        );
    }
    None
}

/// At m per u, how long for n: n / m, in u (the question's unit must be u).
fn time_to_total(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (m, n) = (plain(c, "m")?, plain(c, "n")?);
    let per = slot_unit_of(c, "u", Quantity::Duration, language)?;
    asked_unit_is(c, per.name, language)?;
    one_step(
        clause,
        Expr::binary(BinaryOp::Divide, n, m),
        Some(per.name.to_string()),
    )
}

/// m u per a v, for n w (w the same quantity as v): m × (n w in v) / a, in u.
fn consumption(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (m, a, n) = (plain(c, "m")?, plain(c, "a")?, plain(c, "n")?);
    let used = slot_unit(c, "u", language)?;
    let per = slot_unit(c, "v", language)?;
    let over = slot_unit_of(c, "w", per.quantity, language)?;
    let (steps, distance) = in_unit(n, over, per.name, clause);
    let total = Expr::binary(BinaryOp::Multiply, m, distance);
    finish(
        steps,
        clause,
        Expr::binary(BinaryOp::Divide, total, a),
        Some(used.name.to_string()),
    )
}

/// m for a, scaled to n: m × n / a, in m's unit if it has one.
fn scale_recipe(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (a, m, n) = (plain(c, "a")?, plain(c, "m")?, plain(c, "n")?);
    let unit = optional_unit(c, "u", language)?;
    let scaled = Expr::binary(BinaryOp::Multiply, m, n);
    one_step(clause, Expr::binary(BinaryOp::Divide, scaled, a), unit)
}

/// n groups of m, and a more: n × m + a.
fn groups_plus(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, m, a) = (plain(c, "n")?, plain(c, "m")?, plain(c, "a")?);
    let groups = Expr::binary(BinaryOp::Multiply, n, m);
    one_step(clause, Expr::binary(BinaryOp::Add, groups, a), None)
}

/// A square of side a u: its area or perimeter, as [`rectangle`] decides by the question.
fn square_shape(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let a = plain(c, "a")?;
    let u = length_unit(c, "u", language)?;
    shape(clause, a.clone(), a, u, c.name("q")?.as_str())
}

/// m (in u, if written) per item, for n items: m × n.
fn per_item(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (m, n) = (plain(c, "m")?, plain(c, "n")?);
    let unit = optional_unit(c, "u", language)?;
    one_step(clause, Expr::binary(BinaryOp::Multiply, m, n), unit)
}

/// m people share n u: n / m, in the unit asked for (converted) or u.
fn share_amount(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (m, n) = (plain(c, "m")?, plain(c, "n")?);
    let given = slot_unit(c, "u", language)?;
    let target = match c.name("askunit") {
        Some(_) => slot_unit_of(c, "askunit", given.quantity, language)?,
        None => given,
    };
    let (steps, amount) = in_unit(n, given, target.name, clause);
    finish(
        steps,
        clause,
        Expr::binary(BinaryOp::Divide, amount, m),
        Some(target.name.to_string()),
    )
}

/// Laps of m u in n v: n v in u, divided by m (a count).
fn laps(c: &Captures<'_>, clause: &str, language: &Language) -> Option<Vec<Step>> {
    let (m, n) = (plain(c, "m")?, plain(c, "n")?);
    let lap = slot_unit(c, "u", language)?;
    let whole = slot_unit_of(c, "v", lap.quantity, language)?;
    let (steps, total) = in_unit(n, whole, lap.name, clause);
    finish(
        steps,
        clause,
        Expr::binary(BinaryOp::Divide, total, m),
        counted(),
    )
}

/// n − m.
fn left_over(c: &Captures<'_>, clause: &str, _: &Language) -> Option<Vec<Step>> {
    let (n, m) = (plain(c, "n")?, plain(c, "m")?);
    one_step(clause, Expr::binary(BinaryOp::Subtract, n, m), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_construction_compiles() {
        assert_eq!(COMPILED_PERCENTAGES.regexes.len(), PERCENTAGES.len());
        assert_eq!(COMPILED_WORD_PROBLEMS.regexes.len(), WORD_PROBLEMS.len());
    }
}

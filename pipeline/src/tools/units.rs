//! The unit table of the `unit_convert` tool: exact decimal factors, affine temperatures.
//!
//! Every unit maps a value to its quantity's base unit (metre, kilogram, litre, kelvin,
//! second, byte, metre per second, square metre, joule, pascal, watt) as
//! `base = (value + offset) × num / den`. Factors are
//! exact decimals or exact fractions (a km/h is 5/18 m/s, a °F is 5/9 K), so conversions do
//! one division at the end and are exact wherever the result is. Names are looked up by
//! symbol with case first (`MB` is a megabyte, `Mb` a megabit), then case-insensitively by
//! name, plural or symbol ("kilometres", "Miles", "°f").
//!
//! A name goes in only if it means one unit to the people who write it: where a word is
//! read two ways ("gigs", food "Calories", "mb" as millibar) it is left out and a comment
//! at its unit says why, so that an unknown unit is reported rather than a wrong answer.

use std::collections::HashMap;
use std::sync::LazyLock;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ToolError;
use super::number::checked;

/// A kind of physical quantity; units convert only within one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    Length,
    Mass,
    Volume,
    Temperature,
    Duration,
    DataSize,
    Speed,
    Area,
    Energy,
    Pressure,
    Power,
}

impl Quantity {
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Length => "length",
            Quantity::Mass => "mass",
            Quantity::Volume => "volume",
            Quantity::Temperature => "temperature",
            Quantity::Duration => "duration",
            Quantity::DataSize => "data size",
            Quantity::Speed => "speed",
            Quantity::Area => "area",
            Quantity::Energy => "energy",
            Quantity::Pressure => "pressure",
            Quantity::Power => "power",
        }
    }
}

/// One unit: its canonical (Duckling-style, singular) name and its map to the base unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub name: &'static str,
    pub quantity: Quantity,
    num: Decimal,
    den: Decimal,
    offset: Decimal,
}

impl Unit {
    /// `value` in this unit expressed in `target`, which must measure the same quantity.
    pub fn convert(&self, value: Decimal, target: &Unit) -> Result<Decimal, ToolError> {
        debug_assert_eq!(self.quantity, target.quantity);
        let shifted = checked(value.checked_add(self.offset), "conversion")?;
        let scaled = checked(shifted.checked_mul(self.num), "conversion")?;
        let scaled = checked(scaled.checked_mul(target.den), "conversion")?;
        let divisor = checked(self.den.checked_mul(target.num), "conversion")?;
        let in_target = checked(scaled.checked_div(divisor), "conversion")?;
        checked(in_target.checked_sub(target.offset), "conversion")
    }
}

/// How a unit is written in the table below.
struct UnitDef {
    name: &'static str,
    quantity: Quantity,
    /// Base units per unit, as an exact decimal or `num/den`.
    factor: &'static str,
    /// Added before scaling (temperatures only).
    offset: &'static str,
    /// Further names, case-insensitive; plurals are derived from every name.
    names: &'static [&'static str],
    /// Symbols, matched with case first.
    symbols: &'static [&'static str],
}

const fn unit(
    name: &'static str,
    quantity: Quantity,
    factor: &'static str,
    names: &'static [&'static str],
    symbols: &'static [&'static str],
) -> UnitDef {
    UnitDef {
        name,
        quantity,
        factor,
        offset: "0",
        names,
        symbols,
    }
}

use Quantity::*;

/// The table. Byte units come before bit units so that a lowercase "mb" is a megabyte.
const UNITS: &[UnitDef] = &[
    // Length, in metres.
    unit(
        "micrometre",
        Length,
        "0.000001",
        &["micrometer", "micron"],
        &["µm", "um"],
    ),
    unit("millimetre", Length, "0.001", &["millimeter"], &["mm"]),
    unit("centimetre", Length, "0.01", &["centimeter"], &["cm"]),
    unit("metre", Length, "1", &["meter"], &["m"]),
    unit("kilometre", Length, "1000", &["kilometer"], &["km", "kms"]),
    unit("inch", Length, "0.0254", &[], &["in", "\""]),
    unit("foot", Length, "0.3048", &[], &["ft", "'"]),
    unit("yard", Length, "0.9144", &[], &["yd", "yds"]),
    unit("mile", Length, "1609.344", &[], &["mi"]),
    unit("nautical mile", Length, "1852", &[], &["nmi", "NM"]),
    // Mass, in kilograms.
    unit("microgram", Mass, "0.000000001", &[], &["µg", "ug", "mcg"]),
    unit("milligram", Mass, "0.000001", &[], &["mg"]),
    unit("gram", Mass, "0.001", &["gramme"], &["g", "gr"]),
    unit(
        "kilogram",
        Mass,
        "1",
        &["kilo", "kilogramme"],
        &["kg", "kgs"],
    ),
    unit(
        "tonne",
        Mass,
        "1000",
        &["metric ton", "metric tonne"],
        &["t"],
    ),
    unit("ounce", Mass, "0.028349523125", &[], &["oz"]),
    unit("pound", Mass, "0.45359237", &[], &["lb", "lbs"]),
    unit("stone", Mass, "6.35029318", &[], &["st"]),
    // "ton" alone is the US short ton, as US users mean it; the metric one is "tonne" or
    // "metric ton", the British one "long ton" or "imperial ton".
    unit("short ton", Mass, "907.18474", &["us ton", "ton"], &[]),
    unit("long ton", Mass, "1016.0469088", &["imperial ton"], &[]),
    // Volume, in litres.
    unit(
        "millilitre",
        Volume,
        "0.001",
        &["milliliter", "cubic centimetre", "cubic centimeter"],
        &["ml", "mL", "cm³", "cm3", "cc"],
    ),
    unit("centilitre", Volume, "0.01", &["centiliter"], &["cl", "cL"]),
    unit("decilitre", Volume, "0.1", &["deciliter"], &["dl", "dL"]),
    unit("litre", Volume, "1", &["liter"], &["l", "L"]),
    unit(
        "cubic metre",
        Volume,
        "1000",
        &["cubic meter"],
        &["m³", "m3"],
    ),
    unit("teaspoon", Volume, "0.00492892159375", &[], &["tsp"]),
    unit("tablespoon", Volume, "0.01478676478125", &[], &["tbsp"]),
    // Bare "fluid ounce", "cup", "pint", "quart" and "gallon" are the US units, as before;
    // the imperial ones are asked for by name ("imperial pint", "uk pint").
    unit(
        "fluid ounce",
        Volume,
        "0.0295735295625",
        &["fl oz", "fl. oz", "us fluid ounce", "us fl oz", "us fl. oz"],
        &["floz", "fl.oz"],
    ),
    unit("cup", Volume, "0.2365882365", &["us cup"], &[]),
    unit("metric cup", Volume, "0.25", &[], &[]),
    unit("pint", Volume, "0.473176473", &["us pint"], &["pt"]),
    unit("quart", Volume, "0.946352946", &["us quart"], &["qt"]),
    unit("gallon", Volume, "3.785411784", &["us gallon"], &["gal"]),
    unit(
        "imperial gallon",
        Volume,
        "4.54609",
        &["uk gallon"],
        &["imp gal"],
    ),
    // The imperial fluid ounce is 1/160, the pint 1/8 and the quart 1/4 imperial gallon.
    unit(
        "imperial fluid ounce",
        Volume,
        "0.0284130625",
        &["uk fluid ounce", "imperial fl oz", "uk fl oz"],
        &["imp fl oz"],
    ),
    unit(
        "imperial pint",
        Volume,
        "0.56826125",
        &["uk pint"],
        &["imp pt"],
    ),
    unit(
        "imperial quart",
        Volume,
        "1.1365225",
        &["uk quart"],
        &["imp qt"],
    ),
    // Temperature, in kelvins: base = (value + offset) × factor.
    UnitDef {
        name: "celsius",
        quantity: Temperature,
        factor: "1",
        offset: "273.15",
        names: &["degree celsius", "centigrade", "degree centigrade", "deg c"],
        symbols: &["°C", "℃", "C", "degC"],
    },
    UnitDef {
        name: "fahrenheit",
        quantity: Temperature,
        factor: "5/9",
        offset: "459.67",
        names: &["degree fahrenheit", "deg f"],
        symbols: &["°F", "℉", "F", "degF"],
    },
    unit("kelvin", Temperature, "1", &["degree kelvin"], &["K"]),
    // Duration, in seconds; a year is a Julian year (365.25 days), a month a twelfth of it.
    unit("nanosecond", Duration, "0.000000001", &[], &["ns"]),
    unit("microsecond", Duration, "0.000001", &[], &["µs", "us"]),
    unit(
        "millisecond",
        Duration,
        "0.001",
        &["msec", "millisec"],
        &["ms"],
    ),
    unit("second", Duration, "1", &["sec"], &["s"]),
    unit("minute", Duration, "60", &["min"], &[]),
    unit("hour", Duration, "3600", &["hr"], &["h"]),
    unit("day", Duration, "86400", &[], &["d"]),
    unit("week", Duration, "604800", &["wk"], &[]),
    unit("month", Duration, "2629800", &[], &[]),
    unit("year", Duration, "31557600", &["yr"], &["y"]),
    // Data size, in bytes: decimal (kB = 1000 B) and binary (KiB = 1024 B) prefixes.
    unit("byte", DataSize, "1", &[], &["B"]),
    unit("kilobyte", DataSize, "1000", &[], &["kB", "KB"]),
    unit("megabyte", DataSize, "1000000", &[], &["MB"]),
    unit("gigabyte", DataSize, "1000000000", &[], &["GB"]),
    unit("terabyte", DataSize, "1000000000000", &[], &["TB"]),
    unit("petabyte", DataSize, "1000000000000000", &[], &["PB"]),
    unit("kibibyte", DataSize, "1024", &[], &["KiB"]),
    unit("mebibyte", DataSize, "1048576", &[], &["MiB"]),
    unit("gibibyte", DataSize, "1073741824", &[], &["GiB"]),
    unit("tebibyte", DataSize, "1099511627776", &[], &["TiB"]),
    unit("pebibyte", DataSize, "1125899906842624", &[], &["PiB"]),
    unit("bit", DataSize, "0.125", &[], &["b"]),
    unit("kilobit", DataSize, "125", &[], &["kbit", "kb"]),
    unit("megabit", DataSize, "125000", &[], &["Mbit", "Mb"]),
    unit("gigabit", DataSize, "125000000", &[], &["Gbit", "Gb"]),
    // "gigs", "megs" and "k" are left out: a gig is a gigabyte or a gibibyte (or a gigabit
    // of bandwidth) depending on who says it.
    // Speed, in metres per second.
    unit(
        "metre per second",
        Speed,
        "1",
        &["meter per second"],
        &["m/s", "mps"],
    ),
    unit(
        "kilometre per hour",
        Speed,
        "5/18",
        &["kilometer per hour"],
        &["km/h", "kmh", "kph", "kmph", "km/hr"],
    ),
    unit("mile per hour", Speed, "0.44704", &[], &["mph", "mi/h"]),
    unit("foot per second", Speed, "0.3048", &[], &["ft/s", "fps"]),
    unit("knot", Speed, "463/900", &[], &["kn", "kt", "kts"]),
    // Area, in square metres. The acre and square mile are the international ones (from
    // the 0.3048 m foot), not the US survey ones. The "are" (100 m²) is left out: "are" is
    // the verb of "how many acres are in …".
    unit(
        "square millimetre",
        Area,
        "0.000001",
        &["square millimeter", "sq millimetre", "sq millimeter"],
        &["mm²", "mm2", "sq mm", "sq. mm"],
    ),
    unit(
        "square centimetre",
        Area,
        "0.0001",
        &["square centimeter", "sq centimetre", "sq centimeter"],
        &["cm²", "cm2", "sq cm", "sq. cm"],
    ),
    unit(
        "square metre",
        Area,
        "1",
        &["square meter", "sq metre", "sq meter"],
        &["m²", "m2", "sq m", "sq. m", "sqm"],
    ),
    unit("hectare", Area, "10000", &[], &["ha"]),
    unit(
        "square kilometre",
        Area,
        "1000000",
        &["square kilometer", "sq kilometre", "sq kilometer"],
        &["km²", "km2", "sq km", "sq. km"],
    ),
    unit(
        "square inch",
        Area,
        "0.00064516",
        &["sq inch"],
        &["in²", "in2", "sq in", "sq. in"],
    ),
    unit(
        "square foot",
        Area,
        "0.09290304",
        &["sq foot"],
        &["ft²", "ft2", "sq ft", "sq. ft", "sqft"],
    ),
    unit(
        "square yard",
        Area,
        "0.83612736",
        &["sq yard"],
        &["yd²", "yd2", "sq yd", "sq. yd"],
    ),
    unit("acre", Area, "4046.8564224", &[], &["ac"]),
    unit(
        "square mile",
        Area,
        "2589988.110336",
        &["sq mile"],
        &["mi²", "mi2", "sq mi", "sq. mi"],
    ),
    // Energy, in joules. The calorie is the thermochemical one (4.184 J) and the kilocalorie
    // 1000 of them. The food "Calorie" (a kilocalorie) is not told apart: names are matched
    // case-insensitively, and "calories" on a label and in a lab differ by 1000. The BTU is
    // the International Table one.
    unit("joule", Energy, "1", &[], &["J"]),
    unit("kilojoule", Energy, "1000", &[], &["kJ"]),
    unit("calorie", Energy, "4.184", &[], &["cal"]),
    unit("kilocalorie", Energy, "4184", &[], &["kcal"]),
    unit("watt hour", Energy, "3600", &["watt-hour"], &["Wh"]),
    unit(
        "kilowatt hour",
        Energy,
        "3600000",
        &["kilowatt-hour"],
        &["kWh"],
    ),
    unit(
        "british thermal unit",
        Energy,
        "1055.05585262",
        &["btu"],
        &["BTU", "Btu"],
    ),
    // Pressure, in pascals. A psi is a pound-force (0.45359237 kg × 9.80665 m/s²) per
    // square inch (0.0254² m²); a mmHg is 13595.1 kg/m³ × 9.80665 m/s² × 0.001 m. The
    // millibar has no "mb": that is a megabyte.
    unit("pascal", Pressure, "1", &[], &["Pa"]),
    unit("hectopascal", Pressure, "100", &[], &["hPa"]),
    unit("kilopascal", Pressure, "1000", &[], &["kPa"]),
    unit("bar", Pressure, "100000", &[], &[]),
    unit("millibar", Pressure, "100", &[], &["mbar"]),
    unit(
        "atmosphere",
        Pressure,
        "101325",
        &["standard atmosphere"],
        &["atm"],
    ),
    unit(
        "pound per square inch",
        Pressure,
        "4.4482216152605/0.00064516",
        &["pound-force per square inch"],
        &["psi"],
    ),
    unit(
        "millimetre of mercury",
        Pressure,
        "133.322387415",
        &["millimeter of mercury"],
        &["mmHg", "mm Hg"],
    ),
    // Power, in watts. The horsepower is the mechanical one (550 ft·lbf/s); the metric
    // horsepower (PS, CV, 735.49875 W) is left out, since "hp" means either in Europe.
    // A lowercase "mw" is the megawatt: there is no milliwatt.
    unit("watt", Power, "1", &[], &["W"]),
    unit("kilowatt", Power, "1000", &[], &["kW"]),
    unit("megawatt", Power, "1000000", &[], &["MW"]),
    unit(
        "horsepower",
        Power,
        "745.69987158227022",
        &["mechanical horsepower"],
        &["hp"],
    ),
];

/// The compiled table with its two name indexes.
struct UnitTable {
    units: Vec<Unit>,
    /// Symbols with their case.
    by_symbol: HashMap<&'static str, usize>,
    /// Lowercase names, plurals and symbols.
    by_name: HashMap<String, usize>,
}

static TABLE: LazyLock<UnitTable> = LazyLock::new(|| {
    let mut table = UnitTable {
        units: Vec::with_capacity(UNITS.len()),
        by_symbol: HashMap::new(),
        by_name: HashMap::new(),
    };
    for (index, def) in UNITS.iter().enumerate() {
        let (num, den) = match def.factor.split_once('/') {
            Some((num, den)) => (exact(num), exact(den)),
            None => (exact(def.factor), Decimal::ONE),
        };
        table.units.push(Unit {
            name: def.name,
            quantity: def.quantity,
            num,
            den,
            offset: exact(def.offset),
        });
        for name in std::iter::once(&def.name).chain(def.names) {
            table.by_name.entry(name.to_string()).or_insert(index);
            table.by_name.entry(plural(name)).or_insert(index);
        }
        for symbol in def.symbols {
            table.by_symbol.entry(symbol).or_insert(index);
        }
    }
    for (index, def) in UNITS.iter().enumerate() {
        for symbol in def.symbols {
            table.by_name.entry(symbol.to_lowercase()).or_insert(index);
        }
    }
    table
});

/// A decimal literal of the table; the table is fixed, and its test reads every entry.
fn exact(literal: &str) -> Decimal {
    Decimal::from_str_exact(literal).unwrap_or_else(|_| panic!("bad unit factor {literal}"))
}

/// The plural of a unit name: "miles", "feet", "miles per hour", "degrees celsius",
/// "cubic metres", "millimetres of mercury".
fn plural(name: &str) -> String {
    let at = match name.find(" per ").or_else(|| name.find(" of ")) {
        Some(per) => per,
        None if name.starts_with("degree ") || name.starts_with("deg ") => {
            name.find(' ').unwrap_or(name.len())
        }
        None => name.len(),
    };
    let (phrase, rest) = name.split_at(at);
    let (lead, word) = match phrase.rfind(' ') {
        Some(space) => phrase.split_at(space + 1),
        None => ("", phrase),
    };
    let word = match word {
        "foot" => "feet".to_string(),
        "inch" => "inches".to_string(),
        "celsius" | "fahrenheit" | "deg" | "c" | "f" | "oz" => word.to_string(),
        w if w.ends_with('s') || w.ends_with('x') || w.ends_with("ch") => format!("{w}es"),
        w => format!("{w}s"),
    };
    format!("{lead}{word}{rest}")
}

/// Finds a unit by symbol, name or plural: "km", "kilometres", "Miles", "°F", "km/h".
pub fn find(written: &str) -> Option<&'static Unit> {
    let table = &*TABLE;
    let trimmed = written.trim().trim_end_matches(['.', '?', '!', ',']).trim();
    if let Some(&index) = table.by_symbol.get(trimmed) {
        return Some(&table.units[index]);
    }
    let mut lower = String::with_capacity(trimmed.len());
    for word in trimmed.split_whitespace() {
        if !lower.is_empty() {
            lower.push(' ');
        }
        lower.extend(word.chars().flat_map(char::to_lowercase));
    }
    let lower = lower.strip_prefix("the ").unwrap_or(&lower);
    let index = table.by_name.get(lower).or_else(|| {
        let bare = lower
            .strip_prefix("degrees ")
            .or_else(|| lower.strip_prefix("degree "))
            .or_else(|| lower.strip_prefix('°'))?;
        table.by_name.get(bare.trim_start())
    })?;
    Some(&table.units[*index])
}

/// Every unit in the table, for documentation and tests.
pub fn all() -> &'static [Unit] {
    &TABLE.units
}

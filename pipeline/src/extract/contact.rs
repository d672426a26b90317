//! Emails, URLs and phone numbers: the three dimensions matched by precompiled regexes.
//!
//! Each regex runs only when the text contains a character it needs ('@', '.', enough
//! digits), so the common request pays nothing for them. Values follow Duckling: a URL also
//! reports its domain, a phone number with a country code prints as "(+1) 4155550100".

use std::sync::LazyLock;

use regex::Regex;

use super::lexer::{Lexed, TokenKind};
use super::value::EntityValue;
use super::{Candidate, Dimension};

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}\b")
        .expect("email regex")
});

/// With a scheme, with "www.", or a bare host with a common top-level domain.
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \b(?: (?:https?|ftp)://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d+)?
            | localhost(?::\d+)?
            | www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+
            | [a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|ai|co|edu|gov|app|info|biz|me|us|uk|de|fr|eu)\b
        )(?:[/?\#][^\s<>]*)?",
    )
    .expect("url regex")
});

/// "+1 415 555 0100", "+44 20 7946 0958", "(415) 555-0100", "415-555-0100", North
/// American numbers dialled with the trunk prefix 1: "1-800-555-0199", "1 (800) 555-0199",
/// and national numbers dialled with the trunk prefix 0: "020 7946 0321", "0161 496 0000";
/// each with an optional extension ("ext 42", "x42", "extension 7").
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (?: \+\d{1,3}(?:[\ .-]?\(?\d{1,4}\)?){2,5}
          | \b1[\ .-]?\(\d{3}\)\ ?\d{3}[\ .-]\d{4}\b
          | \b1[\ .-]\d{3}[\ .-]\d{3}[\ .-]\d{4}\b
          | \(\d{3}\)\ ?\d{3}[\ .-]\d{4}\b
          | \b\d{3}[.-]\d{3}[.-]\d{4}\b
          | \b\d{3}\ \d{3}\ \d{4}\b
          | \b0\d{2,4}[\ .-]\d{3,4}[\ .-]\d{3,4}\b
        )
        (?:,?\ ?(?i:ext\.?|extension|x)\ ?\d{1,6}\b)?",
    )
    .expect("phone regex")
});

/// All emails, URLs and phone numbers in the text (byte spans). The tokens say which regexes
/// can match: an email needs an "@", a URL a "." (or "localhost"), a phone number 7 digits.
pub(crate) fn scan_contacts(lx: &Lexed, out: &mut Vec<Candidate>) {
    let text = lx.text;
    let (mut at, mut url, mut digits) = (false, false, 0);
    for (i, t) in lx.tokens.iter().enumerate() {
        match t.kind {
            TokenKind::Punct('@') => at = true,
            TokenKind::Punct('.') => url = true,
            // "http://1.2/x": a scheme, when the dots are inside a number token.
            TokenKind::Punct(':') => url |= lx.is_punct(i + 1, '/'),
            TokenKind::Number { .. } => digits += t.end - t.start,
            TokenKind::Word => url |= lx.is_word(i, "localhost"),
            TokenKind::Punct(_) => {}
        }
    }
    if at {
        for m in EMAIL.find_iter(text) {
            out.push(Candidate {
                dim: Dimension::Email,
                start: m.start(),
                end: m.end(),
                value: EntityValue::Text {
                    value: m.as_str().to_string(),
                },
            });
        }
    }
    if url {
        scan_urls(text, out);
    }
    if digits >= 7 {
        scan_phones(text, out);
    }
}

fn scan_urls(text: &str, out: &mut Vec<Candidate>) {
    for m in URL.find_iter(text) {
        // Sentence punctuation after a URL is not part of it.
        let body = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
        if text[..m.start()].ends_with('@') || body.eq_ignore_ascii_case("localhost") {
            continue;
        }
        out.push(Candidate {
            dim: Dimension::Url,
            start: m.start(),
            end: m.start() + body.len(),
            value: EntityValue::Url {
                value: body.to_string(),
                domain: url_domain(body),
            },
        });
    }
}

/// The host, lowercased, without scheme, "www." or port.
fn url_domain(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#', ':']).next().unwrap_or(rest);
    let host = host.to_ascii_lowercase();
    host.strip_prefix("www.")
        .map(str::to_string)
        .unwrap_or(host)
}

fn scan_phones(text: &str, out: &mut Vec<Candidate>) {
    for m in PHONE.find_iter(text) {
        let body = m.as_str().trim_end();
        let (number, ext) = split_extension(body);
        let digits = number.bytes().filter(u8::is_ascii_digit).count();
        if !(7..=15).contains(&digits) {
            continue;
        }
        out.push(Candidate {
            dim: Dimension::PhoneNumber,
            start: m.start(),
            end: m.start() + body.len(),
            value: EntityValue::Text {
                value: match ext {
                    Some(ext) => format!("{} ext {ext}", phone_value(number)),
                    None => phone_value(number),
                },
            },
        });
    }
}

/// The number and its extension's digits: "(212) 555-7781 ext 42" → ("(212) 555-7781", "42").
fn split_extension(body: &str) -> (&str, Option<&str>) {
    let Some(last) = body.rfind(|c: char| c.is_ascii_alphabetic()) else {
        return (body, None);
    };
    let number = body[..last]
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .trim_end_matches([' ', ',']);
    let ext = body[last + 1..].trim_start_matches(['.', ' ']);
    (number, Some(ext))
}

/// Duckling's normal form: the country code in parentheses, then the digits.
fn phone_value(body: &str) -> String {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    match body.strip_prefix('+') {
        Some(rest) => {
            let code_len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (code, national) = rest.split_at(code_len.min(3));
            format!("(+{code}) {}", digits(national))
        }
        None => digits(body),
    }
}

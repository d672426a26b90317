//! Emails, URLs and phone numbers: the three dimensions matched by precompiled regexes.
//!
//! Each regex runs only when the text contains a character it needs ('@', '.', enough
//! digits), so the common request pays nothing for them. Values follow Duckling: a URL also
//! reports its domain, a phone number with a country code prints as "(+1) 4155550100".

use std::sync::LazyLock;

use regex::Regex;

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
            | www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+
            | [a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|ai|co|edu|gov|app|info|biz|me|us|uk|de|fr|eu)\b
        )(?:[/?\#][^\s<>]*)?",
    )
    .expect("url regex")
});

/// "+1 415 555 0100", "+44 20 7946 0958", "(415) 555-0100", "415-555-0100".
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \+\d{1,3}(?:[\ .-]?\(?\d{1,4}\)?){2,5}
        | \(\d{3}\)\ ?\d{3}[\ .-]\d{4}\b
        | \b\d{3}[.-]\d{3}[.-]\d{4}\b
        | \b\d{3}\ \d{3}\ \d{4}\b",
    )
    .expect("phone regex")
});

/// All emails, URLs and phone numbers in the text (byte spans).
pub(crate) fn scan_contacts(text: &str, out: &mut Vec<Candidate>) {
    if text.contains('@') {
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
    if text.contains('.') {
        scan_urls(text, out);
    }
    if text.bytes().filter(u8::is_ascii_digit).count() >= 7 {
        scan_phones(text, out);
    }
}

fn scan_urls(text: &str, out: &mut Vec<Candidate>) {
    for m in URL.find_iter(text) {
        // Sentence punctuation after a URL is not part of it.
        let body = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
        if text[..m.start()].ends_with('@') {
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
        let digits = body.bytes().filter(u8::is_ascii_digit).count();
        if !(7..=15).contains(&digits) {
            continue;
        }
        out.push(Candidate {
            dim: Dimension::PhoneNumber,
            start: m.start(),
            end: m.start() + body.len(),
            value: EntityValue::Text {
                value: phone_value(body),
            },
        });
    }
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

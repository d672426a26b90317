//! Finding where in a definition file a value was written, for diagnostics.
//!
//! The YAML parser gives a location only for syntax and type errors; checks made after parsing
//! (a pattern that does not compile, a duplicate name) find their line by searching the source
//! for the offending text, as written plain or quoted.

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Where `key: value` is written (the position of the value), searching from line `from`
/// (1-based). Handles list items (`- key: value`) and quoted values.
pub(crate) fn find_entry(
    source: &str,
    key: &str,
    value: &str,
    from: usize,
) -> Option<(usize, usize)> {
    let mut offset = 0;
    for (index, line) in source.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        if index + 1 < from {
            continue;
        }
        let trimmed = line.trim_start();
        let item = trimmed.strip_prefix("- ").map_or(trimmed, str::trim_start);
        let Some(rest) = item.strip_prefix(key).and_then(|r| r.strip_prefix(':')) else {
            continue;
        };
        let written = rest.trim();
        let unquoted = written
            .strip_prefix('"')
            .and_then(|w| w.strip_suffix('"'))
            .or_else(|| {
                written
                    .strip_prefix('\'')
                    .and_then(|w| w.strip_suffix('\''))
            })
            .unwrap_or(written);
        if value.is_empty() || unquoted == value {
            let column_offset = if value.is_empty() {
                start + (line.len() - trimmed.len())
            } else {
                // `rest` is a suffix of the line, so this is where the value begins.
                start + line.len() - rest.trim_start().len()
            };
            return Some(line_col(source, column_offset));
        }
    }
    None
}

/// Where `text` is written, plain or in single or double quotes, from line `from` (1-based).
pub(crate) fn find_text(source: &str, text: &str, from: usize) -> Option<(usize, usize)> {
    if text.is_empty() {
        return None;
    }
    let start = nth_line_offset(source, from);
    let tail = &source[start..];
    let single = text.replace('\'', "''");
    let double = text.replace('\\', "\\\\").replace('"', "\\\"");
    [text, single.as_str(), double.as_str()]
        .into_iter()
        .find_map(|written| tail.find(written))
        .map(|at| line_col(source, start + at))
}

/// Byte offset of the start of 1-based line `line` (the end when there are fewer lines).
fn nth_line_offset(source: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    source
        .match_indices('\n')
        .nth(line - 2)
        .map_or(source.len(), |(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "version: 1\nname: calc\npatterns:\n  - '^it''s (\\d+'\n  - \"a\\\\b\"\nsteps:\n  - name: one\n    tool: calc\n";

    #[test]
    fn finds_entries_and_quoted_text() {
        assert_eq!(find_entry(SOURCE, "name", "calc", 1), Some((2, 7)));
        assert_eq!(find_entry(SOURCE, "tool", "calc", 1), Some((8, 11)));
        assert_eq!(find_entry(SOURCE, "name", "one", 1), Some((7, 11)));
        assert_eq!(find_entry(SOURCE, "patterns", "", 1), Some((3, 1)));
        assert_eq!(find_text(SOURCE, "^it's (\\d+", 3), Some((4, 6)));
        assert_eq!(find_text(SOURCE, "a\\b", 3), Some((5, 6)));
        assert_eq!(find_text(SOURCE, "missing", 1), None);
    }
}

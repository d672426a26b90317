//! Splitting a raw commit object into its signature and the bytes the signature covers.
//!
//! Git signs a commit by signing the commit object without its `gpgsig` header and then
//! inserting that header (a multi-line value whose continuation lines start with a space).
//! `git verify-commit` undoes exactly that; [`split_signature`] does the same so that the
//! registry can check SSH signatures against `configs/security.yaml` without calling git.

/// Splits a raw commit object (`tree …\nparent …\n…\n\nmessage`) at its signature header.
///
/// `header` is the signature header's name: `gpgsig` in a SHA-1 repository (`gpgsig-sha256`
/// in a SHA-256 one). Returns the header's value with the leading space of each continuation
/// line removed and lines joined by `\n` (no trailing newline), and the commit without the
/// header and its continuation lines, byte for byte what was signed. An unsigned commit
/// gives `(None, raw)`.
pub fn split_signature(raw: &[u8], header: &str) -> (Option<String>, Vec<u8>) {
    let mut signature: Option<Vec<u8>> = None;
    let mut payload = Vec::with_capacity(raw.len());
    let mut in_signature = false;
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        if line == b"\n" {
            // The blank line ends the headers; the message is payload as it is.
            payload.extend_from_slice(rest);
            break;
        }
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        if in_signature && let Some(continuation) = content.strip_prefix(b" ") {
            let value = signature.get_or_insert_with(Vec::new);
            value.push(b'\n');
            value.extend_from_slice(continuation);
        } else if signature.is_none()
            && let Some(value) = content
                .strip_prefix(header.as_bytes())
                .and_then(|v| v.strip_prefix(b" "))
        {
            signature = Some(value.to_vec());
            in_signature = true;
        } else {
            in_signature = false;
            payload.extend_from_slice(line);
        }
        rest = tail;
    }
    let signature = signature.map(|s| String::from_utf8_lossy(&s).into_owned());
    (signature, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
author A <a@x> 1700000000 +0000\n\
committer A <a@x> 1700000000 +0000\n\
gpgsig -----BEGIN SSH SIGNATURE-----\n \
U1NIU0lHAAAAAQ==\n \
\n \
-----END SSH SIGNATURE-----\n\
\n\
message\n\nbody line\n";

    #[test]
    fn signature_header_is_taken_out_of_the_payload() {
        let (signature, payload) = split_signature(SIGNED.as_bytes(), "gpgsig");
        assert_eq!(
            signature.as_deref(),
            Some("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n\n-----END SSH SIGNATURE-----")
        );
        assert_eq!(
            String::from_utf8(payload).unwrap(),
            "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
author A <a@x> 1700000000 +0000\n\
committer A <a@x> 1700000000 +0000\n\
\n\
message\n\nbody line\n"
        );
    }

    #[test]
    fn unsigned_commit_is_its_own_payload() {
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nmsg\n gpgsig x\n";
        let (signature, payload) = split_signature(raw, "gpgsig");
        assert_eq!(signature, None);
        assert_eq!(payload, raw);
    }

    #[test]
    fn other_multi_line_headers_stay() {
        let raw = b"tree t\nmergetag object x\n type commit\ngpgsig-sha256 s\n more\n\nm";
        let (signature, payload) = split_signature(raw, "gpgsig");
        assert_eq!(signature, None);
        assert_eq!(payload, raw);
        let (signature, payload) = split_signature(raw, "gpgsig-sha256");
        assert_eq!(signature.as_deref(), Some("s\nmore"));
        assert_eq!(payload, b"tree t\nmergetag object x\n type commit\n\nm");
    }
}

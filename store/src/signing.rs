//! Signed commits: which signing policy governs a commit, and whether its SSH signature
//! satisfies it.
//!
//! A commit's `gpgsig` header holds an SSH signature in sshsig armour over the commit object
//! without that header (`signed_payload`), made with namespace `git` (what `git commit -S` with
//! `gpg.format=ssh` produces). The policy comes from `configs/security.yaml` (`signing:`); see
//! [`crate::Store`] for which file is in force for a commit.

use ssh_key::{HashAlg, PublicKey, SshSig};
use volcano_pipeline::registry::{CommitEvent, SigningPolicy};

/// The namespace git signs commits in.
pub const GIT_NAMESPACE: &str = "git";

/// Checks `event` against `policy`: `Ok` when no signature is required or the signature is a
/// valid one, over `signed_payload`, by a key in `allowed_signers`; else the reason.
pub fn check_signature(policy: &SigningPolicy, event: &CommitEvent) -> Result<(), String> {
    if !policy.require_signed {
        return Ok(());
    }
    let Some(armour) = event.signature.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Err(
            "commit is not signed, and the signing policy requires a signature by an allowed \
             signer"
                .into(),
        );
    };
    let Some(payload) = event.signed_payload.as_deref() else {
        return Err("commit carries a signature but not the signed payload".into());
    };
    // A header's continuation lines may keep their leading space; the armour has none.
    let armour: String = armour
        .lines()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    let signature = SshSig::from_pem(armour.as_bytes())
        .map_err(|e| format!("signature is not an SSH signature (sshsig armour): {e}"))?;
    if signature.namespace() != GIT_NAMESPACE {
        return Err(format!(
            "signature is for namespace `{}`, not `{GIT_NAMESPACE}`",
            signature.namespace()
        ));
    }
    let signer = policy
        .allowed_signers
        .iter()
        .filter_map(|line| PublicKey::from_openssh(line.trim()).ok())
        .find(|key| key.key_data() == signature.public_key());
    let Some(signer) = signer else {
        return Err(format!(
            "signed by {}, which is not an allowed signer",
            signature.public_key().fingerprint(HashAlg::Sha256)
        ));
    };
    signer
        .verify(GIT_NAMESPACE, payload, &signature)
        .map_err(|e| {
            format!(
                "signature by {} does not verify over the commit (payload altered?): {e}",
                signer.fingerprint(HashAlg::Sha256)
            )
        })
}

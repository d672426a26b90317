//! Feeds the registry from the config repository as files on disk.
//!
//! The repository's layout is one directory per branch: `main/` and `customer/<tenant>/`, each
//! with `tools/`, `workflows/` and `configs/`. Every tenant sees `main` overlaid by its own
//! directory. The registry commit reported in results is `files:<content hash>`, so a result
//! still names exactly the definitions that produced it. (The git commit stream replaces this
//! source with real commits; the compiled registry and its atomic swap are the same.)

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use volcano_pipeline::registry::{
    Diagnostic, RegistryHandle, compile_with, load_files, load_tenant_files, overlay, read_tree,
};
use volcano_pipeline::tools::ToolServices;

/// Why the registry could not be loaded.
#[derive(Debug)]
pub enum RegistryLoadError {
    Missing(PathBuf),
    Io(PathBuf, std::io::Error),
    Invalid {
        branch: String,
        diagnostics: Vec<Diagnostic>,
    },
}

impl fmt::Display for RegistryLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryLoadError::Missing(p) => {
                write!(
                    f,
                    "config repository {} has no main/ directory",
                    p.display()
                )
            }
            RegistryLoadError::Io(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            RegistryLoadError::Invalid {
                branch,
                diagnostics,
            } => {
                write!(f, "branch {branch} has invalid definitions:")?;
                for d in diagnostics {
                    write!(f, "\n  {branch}/{d}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RegistryLoadError {}

/// Loads `main` and every `customer/<tenant>` of the repository and compiles each tenant's view.
pub fn load_registry(
    repo: &Path,
    services: &ToolServices,
) -> Result<RegistryHandle, RegistryLoadError> {
    let main_dir = repo.join("main");
    if !main_dir.is_dir() {
        return Err(RegistryLoadError::Missing(repo.to_path_buf()));
    }
    let invalid = |branch: &str| {
        let branch = branch.to_string();
        move |diagnostics| RegistryLoadError::Invalid {
            branch,
            diagnostics,
        }
    };
    let main_files = read_tree(&main_dir).map_err(invalid("main"))?;
    let main = load_files(main_files.clone()).map_err(invalid("main"))?;
    let main_commit = commit_name(&main_files, &[]);
    let compiled = compile_with(&main, "main", &main_commit, services).map_err(invalid("main"))?;
    let handle = RegistryHandle::new(Arc::new(compiled));
    let tenants_dir = repo.join("customer");
    if tenants_dir.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&tenants_dir)
            .map_err(|e| RegistryLoadError::Io(tenants_dir.clone(), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        for dir in entries {
            let tenant = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let branch = format!("customer/{tenant}");
            let files = read_tree(&dir).map_err(invalid(&branch))?;
            let own = load_tenant_files(&main, files.clone()).map_err(invalid(&branch))?;
            let commit = commit_name(&main_files, &files);
            let compiled = compile_with(&overlay(&main, &own), &tenant, &commit, services)
                .map_err(invalid(&branch))?;
            handle.store(&tenant, Arc::new(compiled));
        }
    }
    Ok(handle)
}

/// `files:` and a 64-bit FNV-1a hash of every path and content, stable across builds.
fn commit_name(main: &[(String, String)], tenant: &[(String, String)]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (path, content) in main.iter().chain(tenant) {
        for byte in path.bytes().chain([0]).chain(content.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("files:{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos")
    }

    #[test]
    fn the_example_repository_loads_for_every_tenant() {
        let handle = load_registry(&repo(), &ToolServices::default()).unwrap();
        let mut tenants = handle.tenants();
        tenants.sort();
        assert!(
            tenants.contains(&"acme-corp".to_string())
                && tenants.contains(&"globex-inc".to_string()),
            "{tenants:?}"
        );
        let main = handle.load("main");
        let acme = handle.load("acme-corp");
        assert!(main.commit.starts_with("files:"));
        assert_ne!(
            main.commit, acme.commit,
            "a tenant's commit names its own files too"
        );
        assert!(acme.definitions.tool("acme-discount").is_some());
        assert!(main.definitions.tool("acme-discount").is_none());
        // An unknown tenant is served by main.
        assert_eq!(handle.load("nobody").commit, main.commit);
    }

    #[test]
    fn an_invalid_definition_is_reported_with_branch_file_and_line() {
        let dir = std::env::temp_dir().join(format!("volcano-reg-{}", std::process::id()));
        let tools = dir.join("main/tools");
        std::fs::create_dir_all(&tools).unwrap();
        std::fs::write(
            tools.join("broken.yaml"),
            "version: 1\nname: broken\npatterns:\n  - '(unclosed'\ntool:\n  kind: calculator\n",
        )
        .unwrap();
        let Err(err) = load_registry(&dir, &ToolServices::default()) else {
            panic!("a broken pattern must be rejected")
        };
        let err = err.to_string();
        assert!(err.contains("main/tools/broken.yaml:4:"), "{err}");
        assert!(load_registry(&dir.join("nowhere"), &ToolServices::default()).is_err());
    }
}

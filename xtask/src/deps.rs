//! System packages the test suite needs beyond the Rust toolchain, installed
//! on demand: Chromium and ChromeDriver for the browser tests, curl for the
//! tests that run the docs' curl examples, nats-server and nginx for the
//! cluster tests (which start their own on loopback ports).
//!
//! Debian's nginx package starts its service on install (on port 80, with
//! logs in /var/log/nginx): nothing the tests want, and it fails where port
//! 80 is taken. While apt-get runs, a `/usr/sbin/policy-rc.d` that exits 101
//! tells the packages' scripts not to start any service; it is removed
//! afterwards whatever happens, and one that was already there (Docker
//! images ship one) is left as it was.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::run;

/// (Debian package, a file it installs).
const PACKAGES: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("curl", "/usr/bin/curl"),
    ("nats-server", "/usr/sbin/nats-server"),
    ("nginx", "/usr/sbin/nginx"),
];

/// Where invoke-rc.d looks for the policy on starting services.
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// Installs whatever is missing with apt-get (as root), or says what to
/// install.
pub(crate) fn ensure() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let has_apt = Path::new("/usr/bin/apt-get").exists();
    if !(is_root && has_apt) {
        bail!(
            "the tests need {}: install them (Debian: `sudo apt-get install {}`) and run again",
            missing.join(" and "),
            missing.join(" ")
        );
    }
    eprintln!("installing {} for the tests", missing.join(", "));
    run(Command::new("apt-get")
        .args(["update", "-q"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    // Dropped (removed) when this function returns, failed install or not.
    let _no_services = NoServices::install(Path::new(POLICY_RC_D))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

/// A `policy-rc.d` that forbids starting services, removed on drop when
/// this process wrote it.
struct NoServices {
    /// The file written, or None when one was already there (not ours).
    written: Option<PathBuf>,
}

impl NoServices {
    fn install(path: &Path) -> Result<Self> {
        if path.exists() {
            return Ok(NoServices { written: None });
        }
        // 101: "action forbidden by policy" (invoke-rc.d(8)).
        std::fs::write(
            path,
            "#!/bin/sh\n# Written by `cargo xtask test` while it installs packages.\nexit 101\n",
        )
        .with_context(|| format!("writing {}", path.display()))?;
        let guard = NoServices {
            written: Some(path.to_owned()),
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
        Ok(guard)
    }
}

impl Drop for NoServices {
    fn drop(&mut self) {
        let Some(path) = &self.written else {
            return;
        };
        if let Err(err) = std::fs::remove_file(path) {
            eprintln!(
                "warning: cannot remove {}: {err}; remove it by hand",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-deps-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_policy_forbids_services_and_goes_away() {
        let dir = scratch("ours");
        let path = dir.join("policy-rc.d");
        let guard = NoServices::install(&path).unwrap();
        let status = Command::new(&path).status().unwrap();
        assert_eq!(status.code(), Some(101));
        drop(guard);
        assert!(!path.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_policy_already_there_is_left_alone() {
        let dir = scratch("theirs");
        let path = dir.join("policy-rc.d");
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        drop(NoServices::install(&path).unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "#!/bin/sh\nexit 0\n"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_cluster_programs_are_installed() {
        for program in ["/usr/sbin/nats-server", "/usr/sbin/nginx"] {
            assert!(
                PACKAGES.iter().any(|(_, file)| *file == program),
                "{program}"
            );
        }
    }
}

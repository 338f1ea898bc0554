//! System packages the test suite needs beyond the Rust toolchain, installed
//! on demand: Chromium and ChromeDriver for the browser tests, curl for the
//! tests that run the docs' curl examples.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::run;

/// (Debian package, a file it installs).
const PACKAGES: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("curl", "/usr/bin/curl"),
];

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
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

//! What every role's `main` gets from the process: the `-c` file, the signal flag, and what the roles say
//! about the configuration file.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use config::{Config, ConfigError};
use runtime::Stop;

/// What a role's module says about the configuration file: the section it reads by itself (with
/// [`Config::section`]) and how `check-config` validates that section. The defaults: none, nothing to check.
pub trait RoleConfig {
    const SECTION: Option<&'static str> = None;

    fn check(_cfg: &Config) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// The roles' own sections, gathered from their modules (`role::sections`, `role::check_sections`).
pub struct RoleSections {
    pub names: Vec<&'static str>,
    pub check: fn(&Config) -> Result<(), ConfigError>,
}

/// What every role's `main` gets: the `-c` file (if any), the signal flag (SIGINT, SIGTERM), and the
/// sections roles read by themselves.
pub struct Context {
    pub config: Option<PathBuf>,
    pub signal: Arc<AtomicBool>,
    pub sections: RoleSections,
}

impl Context {
    /// The `-c` file, or the defaults without it.
    pub fn load(&self) -> Result<Config> {
        match self.config.as_deref() {
            Some(p) => Ok(Config::load_with(p, &self.sections.names)?),
            None => Ok(Config::default()),
        }
    }

    /// Loads `path` and checks every section of it, the roles' own included.
    pub fn load_checked(&self, path: &Path) -> Result<Config> {
        let cfg = Config::load_with(path, &self.sections.names)?;
        (self.sections.check)(&cfg)?;
        Ok(cfg)
    }

    /// For roles that read no configuration file.
    pub fn refuse_config(&self) -> Result<()> {
        match self.config {
            Some(_) => anyhow::bail!(
                "this command takes no -c/--config (check-config takes the file as its argument)"
            ),
            None => Ok(()),
        }
    }

    /// Stop on a signal, or after `duration`.
    pub fn stop(&self, duration: Option<Duration>) -> Stop<'_> {
        Stop::new(&self.signal, duration)
    }
}

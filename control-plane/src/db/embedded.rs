//! An embedded Postgres started from the machine's Postgres installation, for single-machine
//! runs without `GATEHOUSE_DATABASE_URL`. It listens only on a Unix socket inside its own
//! data directory (mode 0700), runs as an unprivileged user when Gatehouse runs as root, and
//! is stopped by [`EmbeddedPostgres::stop`] (or on drop).

use std::path::{Path, PathBuf};
use std::process::Command;

use tracing::{info, warn};

/// Name of the superuser and database the embedded cluster is created with.
const DB_USER: &str = "gatehouse";

/// Why the embedded Postgres could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no Postgres installation found (looked for initdb and pg_ctl in \
         GATEHOUSE_POSTGRES_BIN_DIR, /usr/lib/postgresql/*/bin and PATH). Install Postgres \
         (Debian/Ubuntu: `apt-get install postgresql`) or set GATEHOUSE_DATABASE_URL to an \
         existing database"
    )]
    NotInstalled,
    #[error("running as root, but no unprivileged user `postgres` or `nobody` exists to own the embedded Postgres")]
    NoUnprivilegedUser,
    #[error(
        "the embedded Postgres runs as user `{user}`, who cannot enter {path} (mode {mode:o}); \
         choose a GATEHOUSE_DATA_DIR that user can reach, or set GATEHOUSE_DATABASE_URL"
    )]
    NotTraversable {
        user: String,
        path: PathBuf,
        mode: u32,
    },
    #[error("{what} failed: {detail}")]
    Command { what: &'static str, detail: String },
    #[error("preparing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A running embedded cluster.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<nix::unistd::User>,
    running: bool,
}

impl EmbeddedPostgres {
    /// Initialises the cluster under `root/postgres` if needed and starts it.
    pub fn start(root: &Path, bin_dir: Option<&Path>) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir(bin_dir).ok_or(EmbeddedError::NotInstalled)?;
        let run_as = unprivileged_user()?;
        let data_dir = root.join("postgres");
        let socket_dir = root.join("postgres-run");
        for dir in [root, &socket_dir] {
            std::fs::create_dir_all(dir).map_err(|source| EmbeddedError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        if let Some(user) = &run_as {
            check_traversable(root, user)?;
        }
        let mut pg = Self {
            bin_dir,
            data_dir,
            socket_dir,
            run_as,
            running: false,
        };
        pg.chown(&pg.socket_dir.clone())?;
        if !pg.data_dir.join("PG_VERSION").exists() {
            pg.initdb()?;
        }
        pg.pg_ctl_start()?;
        pg.running = true;
        Ok(pg)
    }

    /// Connection URL over the Unix socket, for database `name`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://{DB_USER}@localhost/{name}?host={}",
            self.socket_dir.display()
        )
    }

    /// Stops the cluster (fast shutdown). Idempotent.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let data_dir = self.data_dir.display().to_string();
        match self.run(
            "pg_ctl stop",
            "pg_ctl",
            &["stop", "-D", &data_dir, "-m", "fast", "-w"],
        ) {
            Ok(()) => info!("embedded postgres stopped"),
            Err(e) => warn!(error = %e, "stopping embedded postgres"),
        }
    }

    fn initdb(&self) -> Result<(), EmbeddedError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|source| EmbeddedError::Io {
            path: self.data_dir.clone(),
            source,
        })?;
        self.chown(&self.data_dir)?;
        info!(dir = %self.data_dir.display(), "initialising embedded postgres");
        let data_dir = self.data_dir.display().to_string();
        self.run(
            "initdb",
            "initdb",
            &[
                "-D",
                &data_dir,
                "-U",
                DB_USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        )
    }

    fn pg_ctl_start(&self) -> Result<(), EmbeddedError> {
        let data_dir = self.data_dir.display().to_string();
        let log = self.data_dir.join("postgres.log").display().to_string();
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}'",
            self.socket_dir.display()
        );
        info!(dir = %data_dir, "starting embedded postgres");
        self.run(
            "pg_ctl start",
            "pg_ctl",
            &["start", "-D", &data_dir, "-l", &log, "-w", "-o", &options],
        )
    }

    fn chown(&self, path: &Path) -> Result<(), EmbeddedError> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(
            |source| EmbeddedError::Io {
                path: path.to_owned(),
                source,
            },
        )?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|source| {
            EmbeddedError::Io {
                path: path.to_owned(),
                source,
            }
        })
    }

    fn run(&self, what: &'static str, program: &str, args: &[&str]) -> Result<(), EmbeddedError> {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.args(args).env_remove("PGDATA").current_dir("/");
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid.as_raw())
                .gid(user.gid.as_raw())
                .env("HOME", &user.dir);
        }
        let out = cmd.output().map_err(|e| EmbeddedError::Command {
            what,
            detail: e.to_string(),
        })?;
        if out.status.success() {
            return Ok(());
        }
        let detail = format!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Err(EmbeddedError::Command { what, detail })
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Checks that `user` can reach `dir`: every ancestor must be searchable by others or owned
/// by that user.
fn check_traversable(dir: &Path, user: &nix::unistd::User) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::MetadataExt;
    let abs = std::fs::canonicalize(dir).map_err(|source| EmbeddedError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for ancestor in abs.ancestors().skip(1) {
        let meta = std::fs::metadata(ancestor).map_err(|source| EmbeddedError::Io {
            path: ancestor.to_owned(),
            source,
        })?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o001 == 0 && meta.uid() != user.uid.as_raw() {
            return Err(EmbeddedError::NotTraversable {
                user: user.name.clone(),
                path: ancestor.to_owned(),
                mode,
            });
        }
    }
    Ok(())
}

/// The user to run Postgres as: `None` when not root (run as ourselves).
fn unprivileged_user() -> Result<Option<nix::unistd::User>, EmbeddedError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(user)) = nix::unistd::User::from_name(name) {
            return Ok(Some(user));
        }
    }
    Err(EmbeddedError::NoUnprivilegedUser)
}

/// Finds a directory holding both `initdb` and `pg_ctl`.
fn find_bin_dir(configured: Option<&Path>) -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = configured {
        return has_tools(dir).then(|| dir.to_owned());
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versioned.sort();
    if let Some((_, dir)) = versioned.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| has_tools(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_dir_without_the_tools_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_bin_dir(Some(dir.path())), None);
        let err = EmbeddedPostgres::start(dir.path(), Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("GATEHOUSE_DATABASE_URL"), "{err}");
    }
}

//! A private PostgreSQL cluster under the data directory, for running without `DATABASE_URL`.
//!
//! Uses the system's own `initdb`/`pg_ctl` (from `PATH` or `/usr/lib/postgresql/*/bin`).
//! The server listens on a Unix socket inside its data directory only, so it never clashes
//! with another PostgreSQL. PostgreSQL refuses to run as root; as root, the cluster is owned
//! by and run as the `postgres` user (or `nobody`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sqlx::postgres::PgConnectOptions;

/// A running embedded cluster. Stopped on drop if this process started it.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    started_here: bool,
}

const DB_NAME: &str = "frontdesk";
const PORT: u16 = 5432;

impl EmbeddedPostgres {
    /// Initialises the cluster on first use, starts it unless it is already running, and makes
    /// sure the `frontdesk` database exists. With `create` false, a missing cluster is an error
    /// naming the directory. Blocking; call from `spawn_blocking`.
    pub fn start(data_dir: &Path, create: bool) -> anyhow::Result<Self> {
        if !create && !data_dir.join("postgres").join("PG_VERSION").exists() {
            let abs = std::env::current_dir()
                .map(|d| d.join(data_dir))
                .unwrap_or_else(|_| data_dir.to_path_buf());
            bail!(
                "no Frontdesk database under {}: run `frontdesk migrate` (or `frontdesk serve`) there first, \
                 or point FRONTDESK_DATA_DIR or DATABASE_URL at the existing one",
                abs.join("postgres").display()
            );
        }
        let bin = find_bin_dir()?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let dir = std::fs::canonicalize(data_dir)?.join("postgres");
        let run_as = if is_root() {
            Some(service_user())
        } else {
            None
        };

        if !dir.join("PG_VERSION").exists() {
            std::fs::create_dir_all(&dir)?;
            if let Some(user) = &run_as {
                run(Command::new("chown").arg("-R").arg(user).arg(&dir))?;
            }
            tracing::info!(dir = %dir.display(), "initialising embedded PostgreSQL");
            run(pg_command(&bin, "initdb", run_as.as_deref())
                .arg("-D")
                .arg(&dir)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]))?;
        }
        let mut pg = Self {
            dir,
            bin,
            run_as,
            started_here: false,
        };
        if !pg.is_running() {
            tracing::info!(dir = %pg.dir.display(), "starting embedded PostgreSQL");
            let opts = format!("-k {} -c listen_addresses='' -p {PORT}", pg.dir.display());
            run(pg_command(&pg.bin, "pg_ctl", pg.run_as.as_deref())
                .arg("-D")
                .arg(&pg.dir)
                .arg("-l")
                .arg(pg.dir.join("server.log"))
                .args(["-o", &opts, "-w", "-t", "60", "start"]))?;
            pg.started_here = true;
        }
        pg.ensure_database()?;
        Ok(pg)
    }

    fn is_running(&self) -> bool {
        pg_command(&self.bin, "pg_ctl", self.run_as.as_deref())
            .arg("-D")
            .arg(&self.dir)
            .arg("status")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn ensure_database(&self) -> anyhow::Result<()> {
        let psql = |sql: &str| {
            let mut c = pg_command(&self.bin, "psql", self.run_as.as_deref());
            c.arg("-h").arg(&self.dir).args([
                "-p",
                &PORT.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-tAc",
                sql,
            ]);
            c
        };
        let out = psql(&format!(
            "select 1 from pg_database where datname = '{DB_NAME}'"
        ))
        .output()?;
        if String::from_utf8_lossy(&out.stdout).trim() != "1" {
            run(&mut psql(&format!("create database {DB_NAME}")))?;
        }
        Ok(())
    }

    /// Connection options for the cluster's Unix socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.dir)
            .port(PORT)
            .username("postgres")
            .database(DB_NAME)
    }

    /// Restarts the cluster (fast shutdown: open connections are cut, as in an operator's
    /// restart or a crash-free failover) and waits until it accepts connections again.
    /// Errors carry `pg_ctl`'s output.
    pub fn restart(&self) -> anyhow::Result<()> {
        let opts = format!("-k {} -c listen_addresses='' -p {PORT}", self.dir.display());
        run(pg_command(&self.bin, "pg_ctl", self.run_as.as_deref())
            .arg("-D")
            .arg(&self.dir)
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-o", &opts, "-m", "fast", "-w", "-t", "60", "restart"]))
    }

    /// Stops the cluster if this process started it.
    pub fn stop(&mut self) {
        if self.started_here {
            self.started_here = false;
            tracing::info!("stopping embedded PostgreSQL");
            let _ = pg_command(&self.bin, "pg_ctl", self.run_as.as_deref())
                .arg("-D")
                .arg(&self.dir)
                .args(["-m", "fast", "-w", "stop"])
                .output();
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pg_command(bin: &Path, tool: &str, run_as: Option<&str>) -> Command {
    match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(bin.join(tool));
            c
        }
        None => Command::new(bin.join(tool)),
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn service_user() -> String {
    let has = |u: &str| {
        Command::new("id")
            .arg(u)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if has("postgres") {
        "postgres".into()
    } else {
        "nobody".into()
    }
}

/// The newest `/usr/lib/postgresql/N/bin`, else the directory of `initdb` on `PATH`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some((_, p)) = versions.pop() {
        return Ok(p);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
            return Ok(dir);
        }
    }
    bail!(
        "no PostgreSQL server binaries found (initdb, pg_ctl). Install them with \
         `apt-get install postgresql`, or set DATABASE_URL to an existing server"
    )
}

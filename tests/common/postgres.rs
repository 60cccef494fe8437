//! A real PostgreSQL with PostGIS for the tests: a new cluster in a temporary directory,
//! on a free loopback port, stopped and removed when dropped. Needs Debian's
//! `postgresql-15-postgis-3`, which `scripts/setup-test.sh` installs; without it the test
//! fails saying so (it never skips).

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

/// Runs `cmd` as the `postgres` user when we are root (PostgreSQL refuses to run as
/// root), as ourselves otherwise.
fn as_owner(program: &std::path::Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn run(mut cmd: Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Postgres {
    /// Starts a new cluster with a database `sahel`.
    pub fn start(name: &str) -> Postgres {
        let bin = PathBuf::from("/usr/lib/postgresql/15/bin");
        assert!(
            bin.join("postgres").exists()
                && std::path::Path::new("/usr/share/postgresql/15/extension/postgis.control")
                    .exists(),
            "PostgreSQL 15 with PostGIS is not installed: run scripts/setup-test.sh \
             (it installs Debian's postgresql-15-postgis-3)"
        );
        // Under /tmp: the postgres user may not reach the build directory.
        let dir = PathBuf::from(format!("/tmp/sahel-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres").arg(&dir);
                    c
                },
                "chown",
            );
        }
        let data = dir.join("data");
        let mut init = as_owner(&bin.join("initdb"));
        init.args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data);
        run(init, "initdb");
        let port = free_port();
        let mut start = as_owner(&bin.join("pg_ctl"));
        start
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=50",
                dir.display()
            ))
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-w", "start"]);
        run(start, "pg_ctl start");
        let pg = Postgres { dir, bin, port };
        pg.psql("postgres", "CREATE DATABASE sahel");
        pg
    }

    /// The URL of database `sahel`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/sahel", self.port)
    }

    /// Runs `sql` in database `db` and returns what psql printed (unaligned, no header).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let mut c = Command::new("psql");
        c.args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            db,
            "-X",
            "-A",
            "-t",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-p"])
        .arg(self.port.to_string())
        .arg("-c")
        .arg(sql);
        let out = run(c, &format!("psql {sql:?}"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut stop = as_owner(&self.bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"]);
        let _ = stop.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

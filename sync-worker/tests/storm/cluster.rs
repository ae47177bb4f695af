//! A private PostgreSQL cluster that the storm may crash and restart at will.
//!
//! The machine's shared server on port 5432 serves every other test, so it is never touched:
//! this cluster lives in its own temporary directory, on its own port, and is stopped and
//! deleted when the [`Cluster`] is dropped, whether the test passed or failed. PostgreSQL
//! refuses to run as root, so as root its tools run as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running private cluster, with one superuser `postgres` and trust authentication.
pub struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

impl Cluster {
    /// Initialises a cluster in a fresh temporary directory and starts it on a free port.
    pub fn start() -> Self {
        let bin = postgres_bin();
        let root = std::env::temp_dir().join(format!(
            "tollgate-storm-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&root).unwrap();
        // Dropping `cluster` from here on deletes the directory, whatever fails next.
        let cluster = Self {
            root,
            bin,
            as_postgres: running_as_root(),
            port: free_port(),
        };
        if cluster.as_postgres {
            run(Command::new("chown").arg("postgres:").arg(&cluster.root));
        }
        cluster.tool(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster.pg_ctl("start");
        cluster
    }

    /// The URL of this cluster's server, without a database.
    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Kills the server the way a crash would (`pg_ctl stop -m immediate`: no checkpoint,
    /// clients cut off mid-transaction).
    pub fn crash(&self) {
        self.pg_ctl("stop");
    }

    /// Starts the server again after [`Cluster::crash`] (it replays its WAL first) and waits
    /// until it accepts connections.
    pub fn start_again(&self) {
        self.pg_ctl("start");
    }

    fn data(&self) -> String {
        self.root.join("data").display().to_string()
    }

    fn pg_ctl(&self, action: &str) {
        // fsync is off because nothing here survives an OS crash anyway: a killed server keeps
        // every committed write in the OS page cache, so crash recovery is still exercised.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.root.display()
        );
        let log = self.root.join("postgres.log").display().to_string();
        self.tool(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-m",
                "immediate",
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                action,
            ],
        );
    }

    fn tool(&self, name: &str, args: &[&str]) {
        let program = self.bin.join(name);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.args(args).current_dir(&self.root);
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{name} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default()
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if Path::new(&self.data()).join("postmaster.pid").exists() {
            let program = self.bin.join("pg_ctl");
            let args = ["-D", &self.data(), "-m", "immediate", "-w", "stop"];
            let _ = if self.as_postgres {
                Command::new("runuser")
                    .args(["-u", "postgres", "--"])
                    .arg(program)
                    .args(args)
                    .output()
            } else {
                Command::new(program).args(args).output()
            };
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The newest installed PostgreSQL's `bin` directory (Debian: /usr/lib/postgresql/<major>).
fn postgres_bin() -> PathBuf {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server binaries in /usr/lib/postgresql")
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path()))
        })
        .max()
        .expect("a PostgreSQL version under /usr/lib/postgresql");
    newest.1.join("bin")
}

fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(command: &mut Command) {
    let status = command.status().unwrap();
    assert!(status.success(), "{command:?} failed");
}

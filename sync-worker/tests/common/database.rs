//! A uniquely named PostgreSQL database for one test or benchmark run, dropped when it ends.
//!
//! The test binaries and the benchmarks share this one file (`#[path]`), so every run creates
//! and drops its databases the same way. The server is `TOLLGATE_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432`, trust auth), or one a test starts itself.

#![allow(
    dead_code,
    reason = "each test binary and benchmark uses its own part of this file"
)]

use sqlx::{Connection as _, PgConnection};

/// The PostgreSQL server tests and benchmarks create their databases on.
pub fn server_url() -> String {
    std::env::var("TOLLGATE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A fresh, empty database, dropped when this value is (a test that failed included).
#[derive(Debug)]
pub struct FreshDatabase {
    pub name: String,
    pub url: String,
    server: String,
    dropped: bool,
}

impl FreshDatabase {
    /// A database named `tollgate_test_…` on [`server_url`].
    pub async fn create() -> Self {
        Self::create_on(&server_url(), "tollgate_test").await
    }

    /// A database named `<prefix>_<random>` on `server` (a URL without a database).
    pub async fn create_on(server: &str, prefix: &str) -> Self {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&format!("{server}/postgres"))
            .await
            .unwrap_or_else(|error| panic!("PostgreSQL at {server}: {error}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|error| panic!("creating database {name}: {error}"));
        let _ = admin.close().await;
        Self {
            url: format!("{server}/{name}"),
            name,
            server: server.to_owned(),
            dropped: false,
        }
    }

    /// Drops the database now (its connections are closed by force).
    pub async fn drop_now(&mut self) {
        drop_database(&self.server, &self.name).await;
        self.dropped = true;
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // A failed test unwinds here, inside its runtime: drop the database from a thread.
        let (server, name) = (self.server.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(drop_database(&server, &name));
            }
        })
        .join();
    }
}

/// Drops `name` on `server`; a server that is gone already leaves nothing to drop.
async fn drop_database(server: &str, name: &str) {
    let Ok(mut admin) = PgConnection::connect(&format!("{server}/postgres")).await else {
        return;
    };
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    let _ = admin.close().await;
}

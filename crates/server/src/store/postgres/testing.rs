//! Fresh PostgreSQL databases for tests: each test gets its own, dropped
//! when the guard is. The server comes from `FERRY_TEST_PG_URL`
//! (`make test` sets it and starts PostgreSQL; see scripts/postgres.sh).
//! Built for this crate's tests and, with the `test-support` feature, for
//! other crates' tests and benchmarks; `cargo build -p ferry-server` leaves it out.

use tokio_postgres::NoTls;
use uuid::Uuid;

/// The test server's URL; `None` (with a note on standard error) when
/// it is not set, unless `CI` or `FERRY_REQUIRE_PG` is set: then a panic,
/// so a CI run never passes without having run the PostgreSQL tests.
pub fn server_url() -> Option<String> {
    match std::env::var("FERRY_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() || std::env::var_os("FERRY_REQUIRE_PG").is_some() {
                panic!(
                    "FERRY_TEST_PG_URL is not set: the PostgreSQL tests need a server \
                     (run `make test`, or scripts/postgres.sh and \
                     FERRY_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test)"
                );
            }
            eprintln!(
                "SKIPPED: FERRY_TEST_PG_URL is not set, so this PostgreSQL test did not run \
                 (`make test` sets it up)"
            );
            None
        }
    }
}

/// A database that exists until dropped.
pub struct TestDb {
    pub url: String,
    pub name: String,
    server: String,
}

impl TestDb {
    /// Creates a fresh database on the test server; `None` if there is none configured.
    pub async fn create() -> Option<TestDb> {
        Some(TestDb::create_on(&server_url()?).await)
    }

    /// Creates a fresh database on the server `server` (a URL) names.
    pub async fn create_on(server: &str) -> TestDb {
        let server = server.to_string();
        let name = format!("ferry_test_{}", Uuid::new_v4().simple());
        let client = admin(&server).await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        let url = with_dbname(&server, &name);
        TestDb { url, name, server }
    }

    /// A connection to this database.
    async fn client(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.url, NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// Vacuums and analyzes the database and writes its log out, as an
    /// operator would after loading it: what follows is then measured
    /// without the autovacuum and checkpoint a bulk load sets off.
    pub async fn settle(&self) -> Result<(), tokio_postgres::Error> {
        let client = self.client().await?;
        // One statement at a time: VACUUM cannot run inside the
        // transaction a batch of statements is.
        client.batch_execute("VACUUM (ANALYZE)").await?;
        client.batch_execute("CHECKPOINT").await
    }

    /// Whether `table` was analyzed by hand (not by autovacuum) since it
    /// was made; PostgreSQL's statistics arrive a moment after the analyze.
    pub async fn analyzed(&self, table: &str) -> Result<bool, tokio_postgres::Error> {
        let client = self.client().await?;
        for _ in 0..50 {
            let row = client
                .query_opt(
                    "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = $1",
                    &[&table],
                )
                .await?;
            if row.is_some_and(|r| r.get::<_, bool>(0)) {
                return Ok(true);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok(false)
    }
}

/// `url` naming database `name` instead.
pub fn with_dbname(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn admin(server: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(server, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to the PostgreSQL test server {} (FERRY_TEST_PG_URL): {e}",
                crate::config::redact_url(server)
            )
        });
    tokio::spawn(conn);
    client
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Its own thread and runtime: a Drop cannot await, and may run outside any runtime.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok((client, conn)) = tokio_postgres::connect(&server, NoTls).await {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            }
        });
        let _ = done.join();
    }
}

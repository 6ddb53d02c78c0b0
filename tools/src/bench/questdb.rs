//! A real QuestDB for `weijian bench`, named like the end-to-end tests name one: the
//! environment variable `WEIJIAN_TEST_QUESTDB` holds a questdb-rs configuration string
//! (`http::addr=127.0.0.1:9000;`, optionally with `username=..;password=..;` or `token=..;`).
//! When it is set, the throughput runs are repeated against it (see `run/throughput.rs`), each
//! with a table prefix unique to the run, so runs never collide with each other or with real
//! tables.

use std::time::Duration;

use weijian_ingest::config::endpoint::QuestDbEndpoint;

use super::BenchError;

/// The environment variable naming the real QuestDB (shared with the `tests` crate).
pub const ENV_VAR: &str = "WEIJIAN_TEST_QUESTDB";

/// The real QuestDB from the environment: `None` when the variable is unset or empty.
pub fn from_env() -> Option<String> {
    std::env::var(ENV_VAR)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A real QuestDB: the configuration string weijian gets, and `/exec` access for checks.
#[derive(Debug, Clone)]
pub struct RealQuestDb {
    /// The parsed configuration string.
    pub endpoint: QuestDbEndpoint,
    /// questdb-rs configuration string, ending with `;`.
    pub conf: String,
    agent: ureq::Agent,
}

impl RealQuestDb {
    /// Parses a `WEIJIAN_TEST_QUESTDB` value (it must be an `http::`/`https::` string with an
    /// `addr`, as weijian's `questdb.conf` must).
    ///
    /// # Errors
    /// The value is not such a string.
    pub fn new(conf: &str) -> Result<RealQuestDb, BenchError> {
        let endpoint = QuestDbEndpoint::parse(conf)
            .map_err(|why| BenchError::Config(format!("{ENV_VAR}: {why}")))?;
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(30)))
                .http_status_as_error(false)
                .build(),
        );
        Ok(RealQuestDb {
            conf: endpoint.conf().to_owned(),
            endpoint,
            agent,
        })
    }

    /// The QuestDB for printing: address and user, never a password or token.
    pub fn display(&self) -> String {
        self.endpoint.redacted()
    }

    /// `SELECT count() FROM "table"` (blocking); 0 while the table does not exist.
    ///
    /// # Errors
    /// QuestDB does not answer, or answers with an error other than a missing table.
    pub fn count(&self, table: &str) -> Result<u64, BenchError> {
        let sql = format!("SELECT count() FROM \"{}\"", table.replace('"', "\"\""));
        let base = self.endpoint.http_base();
        let mut req = self.agent.get(format!("{base}/exec")).query("query", &sql);
        if let Some(a) = self.endpoint.authorization() {
            req = req.header("Authorization", &a);
        }
        let mut resp = req
            .call()
            .map_err(|e| BenchError::Other(format!("{base}/exec: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| BenchError::Other(format!("{base}/exec: {e}")))?;
        parse_count(status, &text)
    }
}

/// The count from an `/exec` answer to `SELECT count() ...`.
fn parse_count(status: u16, text: &str) -> Result<u64, BenchError> {
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| BenchError::Other(format!("/exec answered {status} with {text:?}")))?;
    if let Some(error) = json.get("error").and_then(|e| e.as_str()) {
        if error.contains("does not exist") {
            return Ok(0);
        }
        return Err(BenchError::Other(format!("/exec error {status}: {error}")));
    }
    json.get("dataset")
        .and_then(|d| d.get(0))
        .and_then(|row| row.get(0))
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| BenchError::Other(format!("/exec: no count in {text:?}")))
}

/// A table prefix unique to this run and phase (`wjb<unix secs>_<pid>_<phase>_`), so runs
/// against one QuestDB never write into each other's tables.
pub fn unique_table_prefix(phase: usize) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("wjb{secs}_{}_{phase}_", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_questdb_value_is_normalized_and_its_secrets_are_not_printed() {
        let q =
            RealQuestDb::new(" http::addr=db.local:9000;username=admin;password=quest ").unwrap();
        assert_eq!(
            q.conf,
            "http::addr=db.local:9000;username=admin;password=quest;"
        );
        assert_eq!(q.endpoint.http_base(), "http://db.local:9000");
        assert_eq!(
            q.endpoint.authorization().as_deref(),
            Some("Basic YWRtaW46cXVlc3Q=") // admin:quest
        );
        assert_eq!(q.display(), "http://db.local:9000 (user admin)");
        assert!(RealQuestDb::new("tcp::addr=db.local:9009;").is_err());
        assert!(RealQuestDb::new("http::username=x;").is_err());
    }

    /// What `weijian bench` gives weijian for a `WEIJIAN_TEST_QUESTDB` value: a valid
    /// configuration writing to that QuestDB under the run's own table prefix.
    #[test]
    fn a_bench_configuration_for_a_real_questdb_is_valid_and_uses_it() {
        let q = RealQuestDb::new("https::addr=qdb.example:9000;token=abc").unwrap();
        let prefix = unique_table_prefix(7);
        let dir = std::env::temp_dir();
        let c = crate::bench::registry::BenchConfig {
            broker_host: "127.0.0.1",
            broker_port: 1883,
            client_id: "bench",
            topic_prefix: "bench7/v1",
            questdb_conf: &q.conf,
            table_prefix: &prefix,
            spool_dir: &dir,
            http_listen: "127.0.0.1:0",
            devices: 3,
            hj212: false,
        };
        let config = crate::bench::registry::parse(&c).unwrap();
        assert_eq!(
            config.questdb.endpoint.conf(),
            "https::addr=qdb.example:9000;token=abc;"
        );
        assert_eq!(
            config.questdb.endpoint.http_base(),
            "https://qdb.example:9000"
        );
        assert_eq!(config.questdb.table_prefix, prefix);
    }

    #[test]
    fn counts_are_read_from_exec_answers() {
        let ok = r#"{"query":"x","columns":[{"name":"count","type":"LONG"}],"dataset":[[1234]],"count":1}"#;
        assert_eq!(parse_count(200, ok).unwrap(), 1234);
        let missing = r#"{"query":"x","error":"table does not exist [table=t]","position":21}"#;
        assert_eq!(parse_count(400, missing).unwrap(), 0);
        assert!(parse_count(400, r#"{"error":"unauthorized"}"#).is_err());
        assert!(parse_count(502, "Bad Gateway").is_err());
    }

    #[test]
    fn table_prefixes_are_unique_per_phase_and_valid() {
        let a = unique_table_prefix(1);
        let b = unique_table_prefix(2);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
    }
}

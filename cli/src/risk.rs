//! `weijian risk`: grades and draws from a running weijian (through its API, so the draw is
//! stored and remembered where the index lives), and the offline verification of a published
//! draw.
//!
//! ```text
//! weijian risk grades --api http://127.0.0.1:9464 --token-env WJ_TOKEN [--date 2026-12-01]
//! weijian risk draw   --api http://127.0.0.1:9464 --token-env WJ_TOKEN --n 5 \
//!                     --inspectors 张伟,李娜,王强,刘洋 [--scope 示范区/东城街道] [--kind water] \
//!                     [--seed N] [--date YYYY-MM-DD] [--exclude-days K] [--record draw.json]
//! weijian risk verify draw.json
//! ```

use std::path::PathBuf;
use std::time::Duration;

use alerting::delivery::grid::Cell;

use crate::common::write_stdout;

use serde_json::{json, Value};

/// Exit code of a usage error (EX_USAGE).
pub const EX_USAGE: u8 = 64;

/// The `weijian risk` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RiskCommand {
    /// Print the risk grades of the sites a supervisor sees (the riskiest first).
    Grades {
        #[command(flatten)]
        api: ApiArgs,
        /// China Standard Time day, YYYY-MM-DD or `today` (default: yesterday).
        #[arg(long)]
        date: Option<String>,
    },
    /// Make a 双随机 draw: print it as a table and CSV; weijian stores it in inspection_draws.
    Draw {
        #[command(flatten)]
        api: ApiArgs,
        /// Sites to draw.
        #[arg(long)]
        n: u32,
        /// Inspectors, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        inspectors: Vec<String>,
        /// Grid cell to draw from: DISTRICT[/STREET[/COMMUNITY]] (default: the caller's cell).
        #[arg(long)]
        scope: Option<String>,
        /// Only sites of this kind: water, waste_store or dental_sterilization.
        #[arg(long)]
        kind: Option<String>,
        /// The seed (decimal u64); default: generated, printed and stored with the draw.
        #[arg(long)]
        seed: Option<u64>,
        /// The day of the draw, YYYY-MM-DD (default today, China Standard Time).
        #[arg(long)]
        date: Option<String>,
        /// Leave out sites inspected in the last this many days (default: the rule pack's).
        #[arg(long)]
        exclude_days: Option<u32>,
        /// Write the published record (inputs, seed, result) to this file, for `verify`.
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// Re-run a published draw from its record and check that it gives the same result.
    Verify {
        /// The record: the JSON the draw printed or wrote with --record (or row 0's `record`).
        file: PathBuf,
    },
}

/// Where the API is and who calls it.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Base URL of weijian's HTTP listener.
    #[arg(long, default_value = "http://127.0.0.1:9464")]
    api: String,
    /// Environment variable holding the supervisor's API token.
    #[arg(long, default_value = "WJ_TOKEN")]
    token_env: String,
}

/// Runs a `weijian risk` command; the exit code.
pub fn run(command: RiskCommand) -> u8 {
    match command {
        RiskCommand::Grades { api, date } => {
            let path = match &date {
                Some(d) => format!("/api/v1/risk/sites?date={}", encode(d)),
                None => "/api/v1/risk/sites".to_owned(),
            };
            match call(&api, "GET", &path, None) {
                Ok(body) => out(&grades_table(&body)),
                Err(e) => fail(&e),
            }
        }
        RiskCommand::Draw {
            api,
            n,
            inspectors,
            scope,
            kind,
            seed,
            date,
            exclude_days,
            record,
        } => {
            let mut body = json!({ "n": n, "inspectors": inspectors });
            if let Some(s) = &scope {
                let parts: Vec<&str> = s.split('/').filter(|p| !p.is_empty()).collect();
                if parts.len() > 3 {
                    eprintln!("--scope: {s:?} has more than DISTRICT/STREET/COMMUNITY");
                    return EX_USAGE;
                }
                let cell = Cell {
                    district: parts.first().map(|p| (*p).to_owned()),
                    street: parts.get(1).map(|p| (*p).to_owned()),
                    community: parts.get(2).map(|p| (*p).to_owned()),
                };
                body["scope"] = json!(cell);
            }
            if let Some(k) = kind {
                body["kind"] = json!(k);
            }
            if let Some(s) = seed {
                body["seed"] = json!(s.to_string());
            }
            if let Some(d) = date {
                body["date"] = json!(d);
            }
            if let Some(k) = exclude_days {
                body["exclude_days"] = json!(k);
            }
            let answer = match call(&api, "POST", "/api/v1/risk/draws", Some(&body)) {
                Ok(a) => a,
                Err(e) => return fail(&e),
            };
            let summary = format!(
                "draw {}  date {}  seed {}\nin scope {}, eligible {}, drawn {}{}\n\n{}\n{}",
                answer["draw_id"].as_str().unwrap_or("?"),
                answer["input"]["date"].as_str().unwrap_or("?"),
                answer["seed"].as_str().unwrap_or("?"),
                answer["result"]["in_scope"],
                answer["result"]["eligible"],
                answer["result"]["picks"].as_array().map_or(0, Vec::len),
                match answer["result"]["shortfall"].as_u64() {
                    Some(s) if s > 0 =>
                        format!(" ({s} fewer than asked: not enough eligible sites)"),
                    _ => String::new(),
                },
                answer["table"].as_str().unwrap_or(""),
                answer["csv"].as_str().unwrap_or("")
            );
            if out(&summary) != 0 {
                return 1;
            }
            if let Some(path) = record {
                let published = json!({
                    "draw_id": answer["draw_id"],
                    "input": answer["input"],
                    "result": answer["result"],
                });
                let text = serde_json::to_string_pretty(&published).unwrap_or_default();
                if let Err(e) = std::fs::write(&path, text + "\n") {
                    eprintln!("cannot write {}: {e}", path.display());
                    return 1;
                }
                eprintln!("record written to {}", path.display());
            }
            0
        }
        RiskCommand::Verify { file } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("cannot read {}: {e}", file.display());
                    return EX_USAGE;
                }
            };
            match weijian_ingest::risk::verify::verify(&text) {
                Ok(msg) => out(&format!("{msg}\n")),
                Err(msg) => {
                    eprintln!("{msg}");
                    1
                }
            }
        }
    }
}

fn grades_table(body: &Value) -> String {
    let mut s = format!("risk grades on {}\n", body["date"].as_str().unwrap_or("?"));
    s.push_str("grade  score     site  (name)  —  explanation\n");
    for site in body["sites"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "{:<5}  {:<8}  {}  ({})  —  {}\n",
            site["grade"].as_str().unwrap_or("?"),
            site["score"],
            site["site"].as_str().unwrap_or("?"),
            site["name"].as_str().unwrap_or(""),
            site["explanation"]["zh"].as_str().unwrap_or("")
        ));
    }
    s
}

/// Prints a report; a reader that closed early is no error (`weijian risk grades | head`).
fn out(text: &str) -> u8 {
    match write_stdout(text) {
        Ok(()) => 0,
        Err(e) => fail(&format!("cannot write to stdout: {e}")),
    }
}

fn fail(e: &str) -> u8 {
    eprintln!("{e}");
    1
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Calls the API; the JSON answer, or an error naming the status and the API's message.
fn call(api: &ApiArgs, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let token = std::env::var(&api.token_env).map_err(|_| {
        format!(
            "set {} to a supervisor's API token (or name another variable with --token-env)",
            api.token_env
        )
    })?;
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build(),
    );
    let url = format!("{}{path}", api.api.trim_end_matches('/'));
    let auth = format!("Bearer {token}");
    let result = match body {
        Some(b) => agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(b.to_string().as_bytes()),
        None if method == "GET" => agent.get(&url).header("Authorization", &auth).call(),
        None => agent
            .post(&url)
            .header("Authorization", &auth)
            .send(&b""[..]),
    };
    let mut response = result.map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{url}: cannot read the answer: {e}"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|_| format!("{url} answered {status}: {text}"))?;
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        Err(format!(
            "{url} answered {status}: {}",
            value["message"].as_str().unwrap_or(&text)
        ))
    }
}

/// One line for `weijian check-config`: the index's numbers.
pub fn describe(p: &alerting::risk::RiskParams) -> String {
    format!(
        "  risk index  {} days, half-life {} days, points I/II/III/IV {}/{}/{}/{} per alert-day, grades B/C/D from {}/{}/{}; draw weights A/B/C/D {}/{}/{}/{}, exclude {} days, {} inspectors per site",
        p.window_days,
        p.half_life_days,
        p.points[0],
        p.points[1],
        p.points[2],
        p.points[3],
        p.grade_min[0],
        p.grade_min[1],
        p.grade_min[2],
        p.weights.a,
        p.weights.b,
        p.weights.c,
        p.weights.d,
        p.exclude_days,
        p.inspectors_per_site
    )
}

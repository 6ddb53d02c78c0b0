//! Verifying a published 双随机 draw: re-run it from its record (`{input, result}`, as the API
//! answers and `weijian risk draw --record` writes it) and compare (公开: anyone can check).

use alerting::risk::{draw, DrawInput, DrawResult};
use serde_json::Value;

/// Re-runs the draw of a published record (`{input, result}`, as the API answers and
/// `--record` writes it) and compares the results.
///
/// # Errors
/// A message saying what is wrong with the record or how the result differs.
pub fn verify(record: &str) -> Result<String, String> {
    let v: Value = serde_json::from_str(record).map_err(|e| format!("not a JSON record: {e}"))?;
    let input: DrawInput = serde_json::from_value(v["input"].clone())
        .map_err(|e| format!("the record's `input` is not a draw input: {e}"))?;
    let published: DrawResult = serde_json::from_value(v["result"].clone())
        .map_err(|e| format!("the record's `result` is not a draw result: {e}"))?;
    let again = draw(&input).map_err(|e| format!("the draw cannot be re-run: {e}"))?;
    if again == published {
        Ok(format!(
            "verified: seed {} over {} site(s) in scope gives the published {} site(s) and inspectors ({})",
            input.seed,
            again.in_scope,
            again.picks.len(),
            again.algorithm
        ))
    } else {
        Err(format!(
            "NOT verified: the inputs give another result.\npublished:\n{}re-run:\n{}",
            published.to_table(),
            again.to_table()
        ))
    }
}

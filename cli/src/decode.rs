//! `weijian decode`: decode payloads the way the ingestor would, for integrators, one JSON
//! line per frame or object.

use std::process::ExitCode;

use crate::common::{PayloadFormat, EX_USAGE};

/// The arguments of `weijian decode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Payload format.
    pub format: PayloadFormat,
    /// Input file, or - for standard input.
    #[arg(default_value = "-")]
    pub input: String,
}

/// Decodes the input and prints the report.
pub fn main(args: Args) -> ExitCode {
    decode(args.format, &args.input)
}

fn decode(format: PayloadFormat, input: &str) -> ExitCode {
    let reader: Box<dyn std::io::BufRead> = if input == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        match std::fs::File::open(input) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(error) => {
                eprintln!("cannot open {input}: {error}");
                return ExitCode::from(EX_USAGE);
            }
        }
    };
    let stdout = std::io::stdout();
    let result = match format {
        PayloadFormat::Json => weijian_ingest::decode::report::json(reader, stdout.lock()),
        PayloadFormat::Hj212 => weijian_ingest::decode::report::hj212(reader, stdout.lock()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("decode failed: {error}");
            ExitCode::FAILURE
        }
    }
}

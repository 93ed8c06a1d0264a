use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use xmrc_lens::cli::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr so stdout stays clean for JSON and prompts; RUST_LOG tunes them.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

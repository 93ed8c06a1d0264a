use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use xmrc_lens::cli::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    // Logs go to stderr so stdout stays clean for JSON and prompts; RUST_LOG tunes them. The
    // explorer owns the screen, so its logs go to a file instead.
    match cli.is_explorer().then(explorer_log).flatten() {
        Some(file) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init(),
        None if cli.is_explorer() => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::sink)
            .init(),
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
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

/// The explorer's log file, `explore.log` beside its other cache files (appended).
fn explorer_log() -> Option<std::fs::File> {
    let dir = xmrc_lens::synth::model::default_cache_dir()
        .ok()?
        .parent()?
        .to_path_buf();
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("explore.log"))
        .ok()
}

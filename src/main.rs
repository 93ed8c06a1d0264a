use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;
use xmrc_lens::cli::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr so stdout stays clean for JSON and prompts; RUST_LOG tunes them. The
    // explorer owns the screen, so its logs go to a file instead.
    let log_file = if cli.is_explorer() {
        explorer_log()
    } else {
        None
    };
    let (writer, ansi) = match log_file {
        Some(file) => (BoxMakeWriter::new(std::sync::Mutex::new(file)), false),
        None if cli.is_explorer() => (BoxMakeWriter::new(std::io::sink), false),
        // Colour escapes only for a terminal, never into a file or a pipe.
        None => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(writer)
        .with_filter(log_filter())
        .with_filter(filter_fn(|meta| !bears_secrets(meta)));
    tracing_subscriber::registry().with(layer).init();
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

/// Crates whose debug and trace output holds request bytes: ureq dumps every HTTP request,
/// its `Authorization: Bearer <token>` header included.
const SECRET_BEARING_CRATES: [&str; 4] = ["ureq", "ureq_proto", "rustls", "hf_hub"];

/// True for a debug or trace event of a secret-bearing crate (or any module of it): dropped
/// whatever `RUST_LOG` asks, so a hub token never reaches stderr or the explorer's log.
fn bears_secrets(meta: &tracing::Metadata<'_>) -> bool {
    let krate = meta.target().split("::").next().unwrap_or_default();
    *meta.level() > tracing::Level::INFO && SECRET_BEARING_CRATES.contains(&krate)
}

/// `RUST_LOG`, else `warn`.
fn log_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"))
}

/// The explorer's log file, `explore.log` beside its other cache files (appended); when the
/// cache folder is not writable, one in the system's temporary folder, and when neither
/// works, none (the footer says which at start).
fn explorer_log() -> Option<std::fs::File> {
    let open = |dir: &std::path::Path| {
        std::fs::create_dir_all(dir).ok()?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("explore.log"))
            .ok()
    };
    let cache = xmrc_lens::synth::model::default_cache_dir()
        .ok()
        .and_then(|d| d.parent().map(std::path::Path::to_path_buf));
    if let Some(file) = cache.as_deref().and_then(open) {
        return Some(file);
    }
    let fallback = std::env::temp_dir().join("xmrc-lens");
    let where_ = cache.map_or_else(
        || "no cache folder (XDG_CACHE_HOME and HOME unset)".to_string(),
        |d| {
            format!(
                "{} is not writable (XDG_CACHE_HOME, else HOME/.cache)",
                d.display()
            )
        },
    );
    let (file, note) = match open(&fallback) {
        Some(file) => (
            Some(file),
            format!(
                "log: {where_}; logging to {}",
                fallback.join("explore.log").display()
            ),
        ),
        None => (
            None,
            format!(
                "log off: {where_}, and {} is not writable either",
                fallback.display()
            ),
        ),
    };
    let _ = xmrc_lens::tui::LOG_NOTE.set(note);
    file
}

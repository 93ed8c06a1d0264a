//! The full-screen texts of what stops the explorer: the cause and what the user can do.

/// A model that failed to load.
pub fn model_failed(source: &str, error: &str) -> String {
    format!(
        "The model {source} could not be loaded.\n\nCause:\n  {}\n\nWhat to do:\n  • a hub id needs the network once (then it is cached under HF_HOME); gated models need HF_TOKEN\n  • a folder needs config.json, tokenizer.json and *.safetensors (supported: Llama, Qwen2, Mistral, Gemma2)\n  • run without --model for the default model, or with --demo for the offline demo\n  • `xmrc-lens generate --model {source} ...` shows the same error on the command line",
        error.replace('\n', "\n  ")
    )
}

/// The offline demo model that could not be built.
pub fn demo_model_failed(error: &str) -> String {
    let var = |name: &str| {
        std::env::var_os(name)
            .map_or_else(|| "unset".to_string(), |v| v.to_string_lossy().into_owned())
    };
    format!(
        "The offline demo model could not be built.\n\nCause:\n  {}\n\nWhat to do:\n  • the demo model (8 MB) is built under $XDG_CACHE_HOME/xmrc-lens/bench, else $HOME/.cache/xmrc-lens/bench: set XDG_CACHE_HOME to a writable folder (now: {}; HOME: {})\n  • or pass --model with a local model folder (no cache needed)",
        error.replace('\n', "\n  "),
        var("XDG_CACHE_HOME"),
        var("HOME")
    )
}

/// A data set that failed to load.
pub fn data_failed(error: &str) -> String {
    format!(
        "The data set could not be loaded.\n\nCause:\n  {}\n\nWhat to do:\n  • --data DIR needs xquad.<lang>.json files in SQuAD v1.1 format (xquad.en.json always; all 12 languages unless --load-langs names fewer)\n  • without --data (and XMRC_LENS_DATA unset) the hub set google/xquad is used, else the bundled demo set\n  • `xmrc-lens samples --data DIR` shows the same error on the command line",
        error.replace('\n', "\n  ")
    )
}

/// The first line of `text`, at most 100 characters (for the footer and banners).
pub fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut short: String = line.chars().take(100).collect();
    if line.chars().count() > 100 {
        short.push('…');
    }
    short
}

//! Command-line front end (clap).

//! Drawing of the app's screens and overlays from its state.

pub mod footer;
pub mod help;

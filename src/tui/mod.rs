//! The explorer: a ratatui front end over the engine. The loop reads one stream of events
//! (keys, mouse, ticks, worker results), updates the app state through `update`, and draws
//! once when something changed; models run on the worker thread, never here.

pub mod action;
pub mod input;
pub mod keymap;
pub mod theme;
pub mod view;
pub mod widgets;

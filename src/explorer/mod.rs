//! The explorer's core: everything the explorer decides, with no terminal code.
//!
//! - `state`: what the explorer knows (selection, models, traces, pools, bookmarks, custom
//!   samples, mode);
//! - `reducer`: commands and worker events change the state and return effects;
//! - `scheduler`: which trace each model computes next (latest-wins);
//! - `shown`: what each pane shows for a model (`Explorer::shown`) and why a result is missing;
//! - `startup`: the start-up state machine and its fallbacks (default model -> demo model,
//!   hub data -> demo set, session -> replay);
//! - `restore`: the state as a session file and back; `session`: the file format;
//! - `driver`: carries effects out on the worker and on named threads; `worker`: the thread
//!   that owns the models.
//!
//! The terminal front end (`tui`) maps keys to [`Command`]s, draws [`Explorer`] and keeps
//! only view state (scrolls, focus, overlays).

pub mod demo;
pub mod driver;
pub mod effect;
pub mod event;
pub mod launch;
pub mod messages;
pub mod reducer;
pub mod restore;
pub mod scheduler;
pub mod session;
pub mod shown;
pub mod startup;
pub mod state;
pub mod worker;

pub use effect::Effect;
pub use event::Event;
pub use launch::{Launch, ModelChoice};
pub use reducer::Command;
pub use startup::{Phase, StartUp};
pub use state::{Explorer, Mode, ModelSlot, ModelState};

//! The explorer's core: everything the explorer decides, with no terminal code. The
//! terminal front end (`tui`) maps keys to commands and draws this state; the worker runs
//! the models; sessions save and reopen what was explored.

pub mod session;
pub mod worker;

//! The README's key table documents every action of the default keymap with its keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use xmrc_lens::tui::keymap::Keymap;

#[test]
fn every_binding_is_in_the_readme_key_table() {
    let readme = std::fs::read_to_string(common::repo_path("README.md")).unwrap();
    let keymap = Keymap::default_map().unwrap();
    for binding in &keymap.bindings {
        let action = format!("`{}`", binding.action.name());
        let row = readme
            .lines()
            .find(|l| l.starts_with("| ") && l.contains(&action))
            .unwrap_or_else(|| panic!("README has no key table row for {action}"));
        for key in &binding.keys {
            let key = format!("`{}`", key.config_string());
            assert!(
                row.contains(&key),
                "README row of {action} lacks {key}: {row}"
            );
        }
    }
}

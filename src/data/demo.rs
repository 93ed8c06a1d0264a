//! The bundled demo set: a few passages with questions in all 12 languages, built into the
//! binary so the offline demo needs no files.

use super::loader::{align, parse_squad, IdPolicy, LangRecords};
use super::{Dataset, Lang};
use anyhow::Result;
use std::path::PathBuf;

/// The demo set: a few passages with questions in all 12 languages (`assets/demo`), built
/// into the binary so the demo needs no files.
const DEMO_FILES: [(Lang, &str); 12] = [
    (Lang::Ar, include_str!("../../assets/demo/xquad.ar.json")),
    (Lang::De, include_str!("../../assets/demo/xquad.de.json")),
    (Lang::El, include_str!("../../assets/demo/xquad.el.json")),
    (Lang::En, include_str!("../../assets/demo/xquad.en.json")),
    (Lang::Es, include_str!("../../assets/demo/xquad.es.json")),
    (Lang::Hi, include_str!("../../assets/demo/xquad.hi.json")),
    (Lang::Ro, include_str!("../../assets/demo/xquad.ro.json")),
    (Lang::Ru, include_str!("../../assets/demo/xquad.ru.json")),
    (Lang::Th, include_str!("../../assets/demo/xquad.th.json")),
    (Lang::Tr, include_str!("../../assets/demo/xquad.tr.json")),
    (Lang::Vi, include_str!("../../assets/demo/xquad.vi.json")),
    (Lang::Zh, include_str!("../../assets/demo/xquad.zh.json")),
];

/// The demo set, parsed and aligned like XQuAD itself.
pub fn dataset() -> Result<Dataset> {
    let mut files = Vec::with_capacity(DEMO_FILES.len());
    for (lang, text) in DEMO_FILES {
        let path = PathBuf::from(format!("assets/demo/xquad.{}.json", lang.code()));
        let records = parse_squad(text.as_bytes(), &path)?;
        files.push(LangRecords {
            lang,
            path,
            records,
        });
    }
    let mut data = align(files, IdPolicy::Identical, "demo set")?.dataset;
    data.source = "demo set (bundled)".to_string();
    Ok(data)
}

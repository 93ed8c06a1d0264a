//! The human table of a speed report: our figures, and each transformers attention's with
//! how many times better ours is.

use serde_json::Value;

/// The human table: our figures, and each transformers attention's with the ratio.
pub fn table(report: &Value) -> String {
    let peers: Vec<(&String, &Value)> = report
        .get("transformers")
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    let rows: [(&str, &str, &str, bool); 14] = [
        ("load", "load_s", "s", false),
        ("resident after load", "rss_load_mb", "MiB", false),
        ("peak RSS during load", "peak_rss_load_mb", "MiB", false),
        ("prefill, fast path", "prefill_fast_tok_s", "tok/s", true),
        ("decode (greedy, KV cache)", "decode_tok_s", "tok/s", true),
        ("AttnLRP trace, forward + backward", "trace_s", "s", false),
        ("  recorded forward", "trace_forward_s", "s", false),
        ("  backward + relevance", "trace_backward_s", "s", false),
        ("  trace", "trace_tok_s", "tok/s", true),
        ("  trace / fast prefill", "trace_over_prefill", "x", false),
        ("language lens (head x levels)", "lens_ms", "ms", false),
        ("  lens / fast prefill", "lens_over_prefill", "x", false),
        ("peak RSS after decode", "peak_rss_gen_mb", "MiB", false),
        ("peak RSS at the end", "peak_rss_mb", "MiB", false),
    ];
    let number = |v: Option<&Value>| v.and_then(Value::as_f64);
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
    let mut out = format!(
        "{} · {} tokens · {} new · {} · {} · {} threads\n",
        match (report["preset"].as_str(), report["model"].as_str()) {
            (Some(preset), _) => format!("preset {preset}"),
            (None, Some(model)) => format!("model {model}"),
            (None, None) => "?".to_string(),
        },
        report["tokens"],
        report["new_tokens"],
        report["device"].as_str().unwrap_or("?"),
        report["dtype"].as_str().unwrap_or("?"),
        report["threads"]
    );
    out.push_str(&format!("{:<38}{:>11}", "", "xmrc-lens"));
    for (attn, _) in &peers {
        out.push_str(&format!("{:>15}{:>9}", format!("tf {attn}"), "ours is"));
    }
    out.push('\n');
    for (label, key, unit, higher_is_better) in rows {
        let ours = number(report.get(key));
        out.push_str(&format!(
            "{:<38}{:>11}",
            format!("{label} ({unit})"),
            show(ours)
        ));
        for (_, theirs) in &peers {
            let other = number(theirs.get(key));
            let ratio = match (ours, other) {
                (Some(a), Some(b)) if a > 0.0 && b > 0.0 => {
                    let r = if higher_is_better { a / b } else { b / a };
                    format!("{r:.2}x")
                }
                _ => "-".to_string(),
            };
            out.push_str(&format!("{:>15}{:>9}", show(other), ratio));
        }
        out.push('\n');
    }
    if !peers.is_empty() {
        out.push_str(
            "(\"ours is\": how many times better ours is: faster, or less time/memory; tf: \
             transformers, its trace is LXT's on the same attention)\n(transformers maps the \
             weights and reads them on first use: its resident memory after load is not all \
             of the weights)\n",
        );
    }
    for (attn, theirs) in &peers {
        for key in ["attn_note", "trace_note"] {
            if let Some(note) = theirs[key].as_str() {
                out.push_str(&format!("(tf {attn}: {note})\n"));
            }
        }
        if theirs["attn_softcap_ignored"].as_bool() == Some(true) {
            out.push_str(&format!(
                "(tf {attn}: this model soft-caps its attention scores (Gemma-2), which \
                 transformers' {attn} attention ignores: its figures are for a model without \
                 the cap)\n"
            ));
        }
    }
    if report["device"]
        .as_str()
        .is_some_and(|d| d.starts_with("cuda"))
    {
        out.push_str("(peak RSS is host memory; GPU memory is not included)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn peer(attn: &str, prefill: f64, softcap_ignored: bool) -> Value {
        json!({"attn": attn, "prefill_fast_tok_s": prefill, "trace_s": 20.0,
               "attn_softcap_ignored": softcap_ignored})
    }

    #[test]
    fn the_table_has_a_column_and_a_ratio_per_attention() {
        let report = json!({
            "preset": "tiny", "tokens": 16, "new_tokens": 1, "device": "cpu", "dtype": "f32",
            "threads": 2, "prefill_fast_tok_s": 200.0, "trace_s": 10.0,
            "transformers": {"sdpa": peer("sdpa", 100.0, false), "eager": peer("eager", 50.0, false)},
        });
        let text = table(&report);
        let header = text.lines().nth(1).unwrap();
        assert!(
            header.find("tf sdpa").unwrap() < header.find("tf eager").unwrap(),
            "{text}"
        );
        let prefill = text.lines().find(|l| l.starts_with("prefill")).unwrap();
        assert!(
            prefill.contains("2.00x") && prefill.contains("4.00x"),
            "{prefill}"
        );
        let trace = text.lines().find(|l| l.starts_with("AttnLRP")).unwrap();
        assert!(trace.contains("2.00x"), "{trace}");
        assert!(!text.contains("soft-caps"), "{text}");
    }

    #[test]
    fn an_ignored_soft_cap_is_said_not_hidden() {
        let report = json!({
            "preset": "tiny", "tokens": 16, "new_tokens": 1, "device": "cpu", "dtype": "f32",
            "threads": 2, "prefill_fast_tok_s": 200.0,
            "transformers": {"sdpa": peer("sdpa", 100.0, true), "eager": peer("eager", 50.0, false)},
        });
        let text = table(&report);
        assert!(text.contains("tf sdpa: this model soft-caps"), "{text}");
        let mut refused = report.clone();
        refused["transformers"]["sdpa"]["attn_note"] = json!("transformers refuses sdpa");
        refused["transformers"]["sdpa"]["trace_note"] = json!("LXT 2.1 has no AttnLRP rules");
        let text = table(&refused);
        assert!(
            text.contains("(tf sdpa: transformers refuses sdpa)")
                && text.contains("(tf sdpa: LXT 2.1 has no AttnLRP rules)"),
            "{text}"
        );
        assert!(!text.contains("tf eager: this model"), "{text}");
        let prefill = text.lines().find(|l| l.starts_with("prefill")).unwrap();
        assert!(prefill.contains("2.00x"), "the row stays: {prefill}");
    }
}

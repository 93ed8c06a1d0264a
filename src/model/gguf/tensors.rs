//! GGUF tensors to the decoder's weights: llama.cpp names mapped to transformers' names,
//! every tensor dequantized (to f32, then the run dtype), and the two layout changes
//! llama.cpp's converter makes undone: the query/key row order of `llama` files and the
//! `+1` in Gemma-2's norm weights.

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::GgmlDType;
use candle_core::{DType, Device, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek};

/// The tensor types this reader dequantizes (F32 ... Q8_0 and the K-quants Q2_K..Q6_K).
pub const SUPPORTED_TYPES: [GgmlDType; 13] = [
    GgmlDType::F32,
    GgmlDType::F16,
    GgmlDType::BF16,
    GgmlDType::Q4_0,
    GgmlDType::Q4_1,
    GgmlDType::Q5_0,
    GgmlDType::Q5_1,
    GgmlDType::Q8_0,
    GgmlDType::Q2K,
    GgmlDType::Q3K,
    GgmlDType::Q4K,
    GgmlDType::Q5K,
    GgmlDType::Q6K,
];

/// llama.cpp's name of a tensor type (`Q4_K`, not candle's `Q4K`).
pub fn type_name(dtype: GgmlDType) -> &'static str {
    match dtype {
        GgmlDType::F32 => "F32",
        GgmlDType::F16 => "F16",
        GgmlDType::BF16 => "BF16",
        GgmlDType::Q4_0 => "Q4_0",
        GgmlDType::Q4_1 => "Q4_1",
        GgmlDType::Q5_0 => "Q5_0",
        GgmlDType::Q5_1 => "Q5_1",
        GgmlDType::Q8_0 => "Q8_0",
        GgmlDType::Q8_1 => "Q8_1",
        GgmlDType::Q2K => "Q2_K",
        GgmlDType::Q3K => "Q3_K",
        GgmlDType::Q4K => "Q4_K",
        GgmlDType::Q5K => "Q5_K",
        GgmlDType::Q6K => "Q6_K",
        GgmlDType::Q8K => "Q8_K",
    }
}

/// The names of ggml type ids candle cannot read at all (its reader stops at the first).
pub fn unknown_type_name(id: u32) -> String {
    let name = match id {
        4 => "Q4_2 (removed from ggml)",
        5 => "Q4_3 (removed from ggml)",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => return format!("ggml type {id}"),
    };
    format!("{name} (ggml type {id})")
}

/// The supported types as a list for messages.
pub fn supported_list() -> String {
    SUPPORTED_TYPES
        .iter()
        .map(|t| type_name(*t))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How one GGUF tensor becomes one of ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapped {
    pub name: String,
    /// Undo llama.cpp's query/key row permutation with this many heads.
    pub unpermute_heads: Option<usize>,
    /// Gemma-2 norms are stored as `1 + w`; ours multiply by `1 + w` themselves.
    pub minus_one: bool,
}

/// Head counts for the `llama` permutation (None for other architectures).
#[derive(Clone, Copy, Debug)]
pub struct Heads {
    pub q: usize,
    pub kv: usize,
}

/// Our (transformers') name for a llama.cpp tensor name; `None` for a name we do not know.
pub fn map_name(gguf: &str, arch: &str, permute: Option<Heads>) -> Option<Mapped> {
    let gemma = arch == "gemma2";
    let plain = |name: String| Mapped {
        name,
        unpermute_heads: None,
        minus_one: false,
    };
    match gguf {
        "token_embd.weight" => return Some(plain("model.embed_tokens.weight".into())),
        "output.weight" => return Some(plain("lm_head.weight".into())),
        "output_norm.weight" => {
            return Some(Mapped {
                minus_one: gemma,
                ..plain("model.norm.weight".into())
            })
        }
        _ => {}
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, suffix) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (stem, kind) = suffix.rsplit_once('.')?;
    if kind != "weight" && kind != "bias" {
        return None;
    }
    let (ours, heads, is_norm) = match stem {
        "attn_norm" => ("input_layernorm", None, true),
        "attn_q" => ("self_attn.q_proj", permute.map(|h| h.q), false),
        "attn_k" => ("self_attn.k_proj", permute.map(|h| h.kv), false),
        "attn_v" => ("self_attn.v_proj", None, false),
        "attn_output" => ("self_attn.o_proj", None, false),
        "ffn_gate" => ("mlp.gate_proj", None, false),
        "ffn_up" => ("mlp.up_proj", None, false),
        "ffn_down" => ("mlp.down_proj", None, false),
        "ffn_norm" if gemma => ("pre_feedforward_layernorm", None, true),
        "ffn_norm" => ("post_attention_layernorm", None, true),
        "post_attention_norm" if gemma => ("post_attention_layernorm", None, true),
        "post_ffw_norm" if gemma => ("post_feedforward_layernorm", None, true),
        _ => return None,
    };
    Some(Mapped {
        name: format!("model.layers.{layer}.{ours}.{kind}"),
        unpermute_heads: heads,
        minus_one: gemma && is_norm,
    })
}

/// Undoes llama.cpp's `permute`: its rows are (head, pair index, half), ours (head, half,
/// pair index). Works for weights `[rows, cols]` and biases `[rows]`.
pub fn unpermute(t: &Tensor, heads: usize) -> Result<Tensor> {
    let dims = t.dims().to_vec();
    let rows = dims[0];
    if heads == 0 || !rows.is_multiple_of(2 * heads) {
        bail!("cannot undo the query/key permutation: {rows} rows for {heads} heads");
    }
    let half = rows / heads / 2;
    let rest: usize = dims[1..].iter().product();
    let t = t
        .reshape((heads, half, 2, rest))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape(dims)?;
    Ok(t)
}

/// All the file's tensors, dequantized and renamed, in `dtype` on `device`.
pub struct LoadedTensors {
    pub tensors: HashMap<String, Tensor>,
    /// Tensor count per type name (`Q4_1` -> 169): the file's quantisation.
    pub types: BTreeMap<String, usize>,
    /// `rope_freqs.weight` (Llama-3.1 files): the divisors of the RoPE frequencies.
    pub rope_freqs: Option<Vec<f32>>,
}

/// Reads every tensor of `content`. Unknown tensor names are an error (silently dropping a
/// weight would change the model); `rope_freqs.weight` is returned apart.
pub fn load_tensors<R: Read + Seek>(
    content: &Content,
    reader: &mut R,
    arch: &str,
    permute: Option<Heads>,
    dtype: DType,
    device: &Device,
) -> Result<LoadedTensors> {
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let unknown: Vec<&str> = names
        .iter()
        .map(|n| n.as_str())
        .filter(|n| *n != "rope_freqs.weight" && map_name(n, arch, permute).is_none())
        .collect();
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(8).copied().collect();
        bail!(
            "{} tensor(s) this reader does not know for architecture '{arch}': {}{}",
            unknown.len(),
            shown.join(", "),
            if unknown.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        );
    }
    let mut tensors = HashMap::new();
    let mut types = BTreeMap::new();
    let mut rope_freqs = None;
    let cpu = Device::Cpu;
    for name in names {
        let info = &content.tensor_infos[name];
        let ty = info.ggml_dtype;
        if !SUPPORTED_TYPES.contains(&ty) {
            bail!(
                "tensor {name} has type {}, which this reader does not dequantize; supported: {}",
                type_name(ty),
                supported_list()
            );
        }
        *types.entry(type_name(ty).to_string()).or_insert(0) += 1;
        let values = content
            .tensor(reader, name, &cpu)
            .and_then(|q| q.dequantize(&cpu))
            .with_context(|| format!("reading tensor {name} ({})", type_name(ty)))?;
        if name == "rope_freqs.weight" {
            let v: Vec<f32> = values.flatten_all()?.to_vec1()?;
            if v.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
                bail!("rope_freqs.weight holds a value that is not a positive number");
            }
            rope_freqs = Some(v);
            continue;
        }
        let Some(mapped) = map_name(name, arch, permute) else {
            continue;
        };
        let mut t = values;
        if let Some(heads) = mapped.unpermute_heads {
            t = unpermute(&t, heads).with_context(|| format!("tensor {name}"))?;
        }
        if mapped.minus_one {
            t = (t - 1.0)?;
        }
        let t = t.to_dtype(dtype)?.to_device(device)?;
        tensors.insert(mapped.name, t);
    }
    Ok(LoadedTensors {
        tensors,
        types,
        rope_freqs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_per_architecture() {
        let heads = Some(Heads { q: 4, kv: 2 });
        let m = map_name("blk.3.attn_q.weight", "llama", heads).unwrap();
        assert_eq!(m.name, "model.layers.3.self_attn.q_proj.weight");
        assert_eq!(m.unpermute_heads, Some(4));
        let m = map_name("blk.3.attn_k.bias", "llama", heads).unwrap();
        assert_eq!(m.unpermute_heads, Some(2));
        let m = map_name("blk.0.attn_q.weight", "qwen2", None).unwrap();
        assert_eq!(m.unpermute_heads, None);
        assert_eq!(
            map_name("blk.1.ffn_norm.weight", "llama", heads)
                .unwrap()
                .name,
            "model.layers.1.post_attention_layernorm.weight"
        );
        let m = map_name("blk.1.ffn_norm.weight", "gemma2", None).unwrap();
        assert_eq!(m.name, "model.layers.1.pre_feedforward_layernorm.weight");
        assert!(m.minus_one);
        assert_eq!(
            map_name("blk.1.post_ffw_norm.weight", "gemma2", None)
                .unwrap()
                .name,
            "model.layers.1.post_feedforward_layernorm.weight"
        );
        assert!(map_name("blk.1.post_ffw_norm.weight", "llama", heads).is_none());
        assert!(
            map_name("output_norm.weight", "gemma2", None)
                .unwrap()
                .minus_one
        );
        assert!(
            !map_name("output_norm.weight", "llama", heads)
                .unwrap()
                .minus_one
        );
        assert!(map_name("blk.x.attn_q.weight", "llama", heads).is_none());
        assert!(map_name("blk.0.attn_q.scale", "llama", heads).is_none());
    }

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // llama.cpp: w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).reshape(w.shape)
        let (heads, rows, cols) = (2usize, 8usize, 3usize);
        let w = Tensor::arange(0f32, (rows * cols) as f32, &Device::Cpu)
            .unwrap()
            .reshape((rows, cols))
            .unwrap();
        let permuted = w
            .reshape((heads, 2, rows / heads / 2, cols))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap()
            .reshape((rows, cols))
            .unwrap();
        let back = unpermute(&permuted, heads).unwrap();
        assert_eq!(back.to_vec2::<f32>().unwrap(), w.to_vec2::<f32>().unwrap());
        let b = Tensor::arange(0f32, rows as f32, &Device::Cpu).unwrap();
        let pb = b
            .reshape((heads, 2, rows / heads / 2))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap()
            .reshape(rows)
            .unwrap();
        assert_eq!(
            unpermute(&pb, heads).unwrap().to_vec1::<f32>().unwrap(),
            b.to_vec1::<f32>().unwrap()
        );
        assert!(unpermute(&b, 3).is_err());
    }

    #[test]
    fn type_names_are_llama_cpp_s() {
        assert_eq!(type_name(GgmlDType::Q4K), "Q4_K");
        assert!(supported_list().contains("Q6_K") && supported_list().contains("BF16"));
        assert_eq!(unknown_type_name(16), "IQ2_XXS (ggml type 16)");
        assert_eq!(unknown_type_name(99), "ggml type 99");
    }
}

//! Additive attention masks (0 where a query may look, the lowest f32 elsewhere, as
//! transformers does): causal, optionally windowed, optionally hiding padding keys.
//!
//! The lowest finite value rather than -inf keeps rows with no visible key (queries on
//! padding) finite, so they never turn into NaN that would leak through `0 * NaN` later.

use candle_core::{Device, Result, Tensor};

/// May query `q` (absolute index) see key `k` through a window of `window` keys
/// (itself included)? Matches transformers' `kv_idx > q_idx - sliding_window`.
pub fn visible(q: usize, k: usize, window: Option<usize>) -> bool {
    k <= q && window.is_none_or(|w| q - k < w)
}

/// Mask `[rows, 1, queries, keys]` where query `i` sits at absolute index `offset + i` and
/// the keys are indices `0..keys`. `key_mask[row][k] == 0` hides padding keys.
pub fn additive_mask(
    rows: usize,
    queries: usize,
    keys: usize,
    offset: usize,
    window: Option<usize>,
    key_mask: Option<&[Vec<u8>]>,
    device: &Device,
) -> Result<Tensor> {
    let mut data = Vec::with_capacity(rows * queries * keys);
    for row in 0..rows {
        let padding = key_mask.and_then(|m| m.get(row));
        for i in 0..queries {
            for k in 0..keys {
                let real = padding.is_none_or(|m| m.get(k).is_some_and(|v| *v != 0));
                let open = real && visible(offset + i, k, window);
                data.push(if open { 0.0f32 } else { f32::MIN });
            }
        }
    }
    Tensor::from_vec(data, (rows, 1, queries, keys), device)
}

/// Is any mask needed at all? A single query over a full cache sees everything.
pub fn needs_mask(queries: usize, keys: usize, offset: usize, window: Option<usize>) -> bool {
    queries > 1 || window.is_some_and(|w| offset + queries > w) || keys != offset + queries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_the_query_itself() {
        assert!(visible(5, 5, Some(1)));
        assert!(!visible(5, 4, Some(1)));
        assert!(visible(5, 2, Some(4)));
        assert!(!visible(5, 1, Some(4)));
        assert!(!visible(2, 3, None));
    }

    #[test]
    fn padding_keys_are_hidden_and_rows_stay_finite() -> Result<()> {
        let m = additive_mask(1, 3, 3, 0, None, Some(&[vec![0, 1, 1]]), &Device::Cpu)?;
        let v = m.flatten_all()?.to_vec1::<f32>()?;
        assert_eq!(v[0], f32::MIN); // query 0 sees only the pad key: hidden, still finite
        assert_eq!(&v[3..6], &[f32::MIN, 0.0, f32::MIN]);
        assert_eq!(&v[6..9], &[f32::MIN, 0.0, 0.0]);
        assert!(v.iter().all(|x| x.is_finite()));
        Ok(())
    }

    #[test]
    fn decode_step_needs_a_mask_only_past_the_window() {
        assert!(!needs_mask(1, 10, 9, None));
        assert!(!needs_mask(1, 10, 9, Some(16)));
        assert!(needs_mask(1, 20, 19, Some(16)));
        assert!(needs_mask(4, 4, 0, None));
    }
}

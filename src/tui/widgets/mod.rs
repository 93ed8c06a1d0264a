//! Reusable widgets over plain data (no app state): the relevance heatmap, layer sparklines
//! and labelled bars. Each is tested with `Buffer` assertions, colours included.

//! Memory figures of this process, read from /proc (Linux; absent elsewhere).

/// Time and memory of loading the model.
pub struct LoadFigures {
    pub seconds: f64,
    pub rss_mb: Option<f64>,
    pub peak_mb: Option<f64>,
}

/// A memory figure of this process from /proc/self/status in MiB (`VmHWM`: peak resident,
/// `VmRSS`: resident now), where /proc tells it.
pub fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The peak resident memory of this process so far, in MiB.
pub fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM")
}

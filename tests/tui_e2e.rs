//! End-to-end tests of the explorer: the real binary in a pseudo-terminal, driven by keys like
//! a user, its screen read back through a vt100 emulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous: the tiny model traces in well under a second, but CI machines are slow.
const TIMEOUT: Duration = Duration::from_secs(60);
/// How long `q` may take to end the process.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);

const ENTER_ALT_SCREEN: &[u8] = b"\x1b[?1049h";
const LEAVE_ALT_SCREEN: &[u8] = b"\x1b[?1049l";
/// The cursor-position query crossterm may send; answered as a terminal would.
const CURSOR_QUERY: &[u8] = b"\x1b[6n";
/// The spinner frames the header shows beside a running job.
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// What the reader thread has seen: the emulated screen and every raw byte.
struct Output {
    parser: vt100::Parser,
    raw: Vec<u8>,
    /// Cursor-position queries answered so far.
    answered: usize,
}

/// The explorer running in a pseudo-terminal.
struct Tui {
    child: Box<dyn Child + Send + Sync>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    output: Arc<Mutex<Output>>,
    /// Set by the reader thread when the pty reports end of output.
    eof: Arc<AtomicBool>,
    /// Kept open so that the pty lives as long as the test.
    _master: Box<dyn MasterPty + Send>,
}

impl Tui {
    /// Starts the binary with `args` in a `cols` x `rows` pty, in `dir` as the working
    /// directory, with HOME and the XDG folders inside `dir` (no user keymap, logs there),
    /// the hub offline and no model or data folder from the caller's environment.
    fn spawn(args: &[&str], dir: &Path, cols: u16, rows: u16) -> Tui {
        Tui::spawn_with(args, dir, cols, rows, &[])
    }

    /// As [`Tui::spawn`], with `env` set after the defaults (overriding them).
    fn spawn_with(args: &[&str], dir: &Path, cols: u16, rows: u16, env: &[(&str, &Path)]) -> Tui {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_xmrc-lens"));
        cmd.args(args);
        cmd.cwd(dir);
        cmd.env("HOME", dir.join("home"));
        cmd.env("XDG_CONFIG_HOME", dir.join("config"));
        cmd.env("XDG_CACHE_HOME", dir.join("cache"));
        cmd.env("HF_HUB_OFFLINE", "1");
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("XMRC_LENS_MODEL");
        cmd.env_remove("XMRC_LENS_DATA");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("RUST_LOG");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        // Only the child holds the slave now: its exit ends our reads.
        drop(pair.slave);

        let writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let output = Arc::new(Mutex::new(Output {
            parser: vt100::Parser::new(rows, cols, 0),
            raw: Vec::new(),
            answered: 0,
        }));
        let eof = Arc::new(AtomicBool::new(false));
        let mut reader = pair.master.try_clone_reader().unwrap();
        {
            let output = output.clone();
            let writer = writer.clone();
            let eof = eof.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let mut out = output.lock().unwrap();
                            out.parser.process(&buf[..n]);
                            out.raw.extend_from_slice(&buf[..n]);
                            let queries = count(&out.raw, CURSOR_QUERY);
                            while out.answered < queries {
                                let mut w = writer.lock().unwrap();
                                let _ = w.write_all(b"\x1b[1;1R");
                                let _ = w.flush();
                                out.answered += 1;
                            }
                        }
                    }
                }
                eof.store(true, Ordering::SeqCst);
            });
        }
        Tui {
            child,
            writer,
            output,
            eof,
            _master: pair.master,
        }
    }

    /// Types `keys` (raw bytes as a terminal sends them: "q", "\r", "\x1b[C").
    /// The explorer on `model` and the bundled demo set.
    fn spawn_on_demo_data(model: &Path, dir: &Path, cols: u16, rows: u16) -> Tui {
        let data = demo_data();
        let args = [
            "--model",
            model.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ];
        Tui::spawn(&args, dir, cols, rows)
    }

    fn keys(&self, keys: &str) {
        let mut w = self.writer.lock().unwrap();
        w.write_all(keys.as_bytes()).unwrap();
        w.flush().unwrap();
    }

    /// The screen's text now, rows joined by newlines.
    fn screen(&self) -> String {
        self.output.lock().unwrap().parser.screen().contents()
    }

    /// Every byte the binary wrote so far.
    fn raw(&self) -> Vec<u8> {
        self.output.lock().unwrap().raw.clone()
    }

    /// Waits until `pred` holds for the screen text; panics with `what` and the screen.
    fn wait_until(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out after {:.1}s waiting for {what}; the screen:\n{}",
                    timeout.as_secs_f32(),
                    dump(&screen)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until the screen contains `text` (polled every 50 ms); panics with the screen.
    fn wait_for(&self, text: &str, timeout: Duration) -> String {
        self.wait_until(&format!("{text:?}"), timeout, |s| s.contains(text))
    }

    /// Waits for the process to end and for its last output to be read; panics (with the
    /// screen) when it does not end in time.
    fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "the explorer did not exit within {:.0}s; the screen:\n{}",
                    timeout.as_secs_f32(),
                    dump(&self.screen())
                );
            }
            std::thread::sleep(POLL);
        };
        // The reader sees end of output once the child's side of the pty is closed.
        let start = Instant::now();
        while !self.eof.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(POLL);
        }
        status
    }

    /// The header's selection line (second row).
    fn selection_line(&self) -> String {
        self.screen().lines().nth(1).unwrap_or_default().to_string()
    }

    /// Waits until the header lists no running job: the selection's trace is finished (and
    /// cached), not just partly shown.
    fn wait_idle(&self, timeout: Duration) -> String {
        self.wait_until("no job in the header", timeout, |s| {
            s.lines()
                .nth(1)
                .is_some_and(|l| !l.chars().any(|c| SPINNER.contains(&c)))
        })
    }

    /// The layer number in the header ("… · layer 3").
    fn header_layer(&self) -> usize {
        let line = self.selection_line();
        let at = line
            .find("layer ")
            .unwrap_or_else(|| panic!("no layer in the header line {line:?}"));
        line[at + "layer ".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("no layer number in the header line {line:?}"))
    }

    /// Checks that the terminal was handed back: the alternate screen left after it was
    /// entered.
    /// `q`, a successful exit, and the terminal left as it was found.
    fn quit_cleanly(&mut self) {
        self.keys("q");
        let status = self.wait_exit(EXIT_TIMEOUT);
        assert!(status.success(), "exit status {status:?}");
        self.assert_restored();
    }

    /// `q` on a fatal error: a non-zero exit, and the terminal left as it was found.
    fn quit_after_fatal(&mut self) {
        self.keys("q");
        let status = self.wait_exit(EXIT_TIMEOUT);
        assert!(!status.success(), "a fatal error exited {status:?}");
        self.assert_restored();
    }

    fn assert_restored(&self) {
        let raw = self.raw();
        let entered = find(&raw, ENTER_ALT_SCREEN).expect("the alternate screen was never entered");
        let left = rfind(&raw, LEAVE_ALT_SCREEN).expect("the alternate screen was never left");
        assert!(
            left > entered,
            "the alternate screen was left before it was entered"
        );
    }
}

impl Drop for Tui {
    /// A failed test must not leave the explorer running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// The screen framed for a panic message.
fn dump(screen: &str) -> String {
    let mut out = String::from("┌────\n");
    for line in screen.lines() {
        out.push('│');
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("└────");
    out
}

fn model_dir() -> PathBuf {
    common::repo_path("tests/fixtures/models/tiny-qwen2")
}

fn demo_data() -> PathBuf {
    common::repo_path("assets/demo")
}

/// What the explorer should show first, from the `trace` subcommand on the same inputs
/// (sample 0, en-x, German, 0-shot, v1): the answer and the first F1.
fn expected_trace(dir: &Path) -> (String, f64) {
    let out = dir.join("t.json");
    common::bin()
        .current_dir(dir)
        .env("HOME", dir.join("home"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .args(["trace", "--model"])
        .arg(model_dir())
        .arg("--data")
        .arg(demo_data())
        .args([
            "--sample",
            "0",
            "--scenario",
            "en-x",
            "--lang",
            "de",
            "--shots",
            "0",
            "--format",
            "v1",
            "--no-oracle",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let answer = v["answer"].as_str().unwrap().to_string();
    let f1 = v["scores"][0]["f1"].as_f64().unwrap();
    (answer, f1)
}

/// The answer pane's line as far as it is sure to read the same on screen: "Answer " and
/// the answer's first dozen characters up to any control character (a line break or tab
/// would be laid out, not printed), or "Answer (empty)".
fn answer_prefix(answer: &str) -> String {
    if answer.trim().is_empty() {
        return "Answer (empty)".to_string();
    }
    let shown: String = answer
        .chars()
        .take(12)
        .take_while(|c| !c.is_control())
        .collect();
    format!("Answer {shown}").trim_end().to_string()
}

#[test]
fn explorer_traces_navigates_saves_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let (answer, f1) = expected_trace(dir.path());
    let prefix = answer_prefix(&answer);
    let f1_text = format!("F1 {f1:.1}");

    let mut tui = Tui::spawn_on_demo_data(&model_dir(), dir.path(), 160, 48);

    // (1) The header and the language tabs.
    tui.wait_for("xmrc-lens", TIMEOUT);
    tui.wait_until("the language tabs", TIMEOUT, |s| {
        s.lines()
            .nth(1)
            .is_some_and(|l| l.contains(" de ") && l.contains(" es ") && l.contains(" zh "))
    });
    tui.wait_for("#0/12", TIMEOUT);

    // (2) The answer of sample 0 in German, as the trace subcommand gives it, and its F1.
    tui.wait_for(&prefix, TIMEOUT);
    tui.wait_for(&f1_text, TIMEOUT);
    // Partial traces show the answer first; wait for the whole one (relevance, MRD, ...).
    let screen = tui.wait_idle(TIMEOUT);
    assert!(screen.contains(&prefix) && screen.contains(&f1_text));

    // (3) The heatmap: its legend, and MRD markers on its rows besides the ones that explain
    // them (the heatmap legend's and the MRD pane's caption).
    assert!(
        screen.contains("◆ MRD"),
        "no MRD legend:\n{}",
        dump(&screen)
    );
    assert!(
        screen.contains("max-|R|"),
        "no max-|R| legend:\n{}",
        dump(&screen)
    );
    assert!(screen.matches('◆').count() >= 2);
    let on_rows = screen
        .replace("◆ MRD", "")
        .replace("◆ = token MRD", "")
        .matches('◆')
        .count();
    assert!(
        on_rows >= 1,
        "no MRD marker on the heatmap rows:\n{}",
        dump(&screen)
    );

    // (4) Navigation: next language, next sample, back (cached), next layer.
    tui.keys("l");
    tui.wait_for("Similarity en vs es", TIMEOUT);
    tui.keys("n");
    tui.wait_for("#1/12", TIMEOUT);
    tui.keys("p");
    tui.wait_for("#0/12", TIMEOUT);
    tui.keys("h");
    tui.wait_for("Similarity en vs de", TIMEOUT);
    // Cached: the German answer is back at once.
    tui.wait_for(&prefix, Duration::from_secs(5));
    let layer = tui.header_layer();
    tui.keys("\x1b[C");
    tui.wait_until(&format!("layer {}", layer + 1), TIMEOUT, |_| {
        tui.header_layer() == layer + 1
    });

    // (5) Save the session under the prefilled name.
    tui.keys("w");
    tui.wait_for("Save session", TIMEOUT);
    tui.keys("\r");
    let saved = dir.path().join("sessions/session.json");
    let start = Instant::now();
    let session: serde_json::Value = loop {
        let parsed = std::fs::read_to_string(&saved)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        if let Some(v) = parsed {
            break v;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "no session at {}; the screen:\n{}",
            saved.display(),
            dump(&tui.screen())
        );
        std::thread::sleep(POLL);
    };
    assert_eq!(session["version"], 2, "session version");
    let traces = session["traces"].as_array().expect("a traces array");
    assert!(
        traces
            .iter()
            .any(|t| t["key"]["sample"] == 0 && t["key"]["lang"] == "de"),
        "the session lacks the finished trace of sample 0 in German: {} traces",
        traces.len()
    );
    tui.wait_for("session saved to", TIMEOUT);

    // (6) The language lens pane is drawn with the trace's decision layer.
    let screen = tui.screen();
    assert!(
        screen.contains("Language lens") && screen.contains("D decision L"),
        "no lens pane:\n{}",
        dump(&screen)
    );

    // (7) `e` exports the shown trace as an HTML page in the working folder; a second `e`
    // never replaces it.
    let pages = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with("xmrc-lens-") && name.ends_with(".html")
            })
            .collect();
        v.sort();
        v
    };
    tui.keys("e");
    tui.wait_for("trace exported to", TIMEOUT);
    let first = pages(dir.path());
    assert_eq!(first.len(), 1, "{first:?}");
    let page = std::fs::read_to_string(&first[0]).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("id=\"xmrc-data\""));
    assert!(
        first[0].to_string_lossy().ends_with("-en-x-de.html"),
        "{first:?}"
    );
    tui.keys("e");
    let start = Instant::now();
    while pages(dir.path()).len() < 2 {
        assert!(
            start.elapsed() < TIMEOUT,
            "no second export:\n{}",
            dump(&tui.screen())
        );
        std::thread::sleep(POLL);
    }
    assert_eq!(
        std::fs::read_to_string(&first[0]).unwrap(),
        page,
        "the first page is kept"
    );

    // (8) Quit: a clean exit, the terminal restored.
    tui.quit_cleanly();
}

#[test]
fn bad_model_shows_the_error_view_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_model = dir.path().join("not-a-model");
    std::fs::create_dir_all(&not_a_model).unwrap();
    let mut tui = Tui::spawn_on_demo_data(&not_a_model, dir.path(), 160, 48);
    let screen = tui.wait_for("cannot continue", TIMEOUT);
    assert!(
        screen.contains("could not be loaded"),
        "no cause on the error view:\n{}",
        dump(&screen)
    );
    // A fatal error ends the explorer non-zero, the terminal restored, the cause printed.
    tui.quit_after_fatal();
    let after = String::from_utf8_lossy(&tui.raw()).to_string();
    let tail = &after[after.rfind("\x1b[?1049l").unwrap_or(0)..];
    assert!(
        tail.contains("could not be loaded"),
        "not printed on exit: {tail:?}"
    );
}

/// In a terminal below the minimum size a fatal error is still readable (short form), not
/// hidden behind "Please enlarge the terminal".
#[test]
fn a_fatal_error_is_readable_in_a_small_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_model = dir.path().join("not-a-model");
    std::fs::create_dir_all(&not_a_model).unwrap();
    let mut tui = Tui::spawn_on_demo_data(&not_a_model, dir.path(), 80, 20);
    let screen = tui.wait_for("cannot continue", TIMEOUT);
    assert!(!screen.contains("Please enlarge"), "{}", dump(&screen));
    assert!(
        screen.contains("not-a-model"),
        "no cause:\n{}",
        dump(&screen)
    );
    tui.quit_after_fatal();
}

/// SIGTERM, SIGINT, SIGHUP and SIGQUIT from outside restore the terminal: the alternate
/// screen left, the cursor shown, mouse reporting off.
#[test]
fn termination_signals_restore_the_terminal() {
    for signal in ["TERM", "INT", "HUP", "QUIT"] {
        let dir = tempfile::tempdir().unwrap();
        let mut tui = Tui::spawn_on_demo_data(&model_dir(), dir.path(), 160, 48);
        tui.wait_for("◆ MRD", TIMEOUT);
        let pid = tui.child.process_id().expect("the explorer's pid");
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tui.wait_exit(EXIT_TIMEOUT);
        assert!(!status.success(), "SIG{signal}: exit {status:?}");
        tui.assert_restored();
        let raw = tui.raw();
        let left = rfind(&raw, LEAVE_ALT_SCREEN).unwrap();
        let after = &raw[left..];
        assert!(
            find(&raw[..], b"\x1b[?1000h").is_some(),
            "mouse reporting was on"
        );
        assert!(
            rfind(&raw, b"\x1b[?1000l")
                .is_some_and(|off| off > find(&raw, b"\x1b[?1000h").unwrap()),
            "SIG{signal}: mouse reporting left on"
        );
        assert!(
            rfind(&raw, b"\x1b[?25h").is_some_and(|shown| shown >= left.saturating_sub(64)),
            "SIG{signal}: cursor left hidden"
        );
        let text = String::from_utf8_lossy(after).to_string();
        assert!(
            text.contains(&format!("stopped by SIG{signal}")),
            "SIG{signal}: {text:?}"
        );
    }
}

#[test]
fn small_terminal_asks_to_enlarge_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let mut tui = Tui::spawn_on_demo_data(&model_dir(), dir.path(), 100, 30);
    let screen = tui.wait_for("Please enlarge the terminal", TIMEOUT);
    assert!(
        screen.contains("this one is 100x30"),
        "the notice does not name the size:\n{}",
        dump(&screen)
    );
    tui.quit_cleanly();
}

/// No `--model`, no `--data`, no network and an empty Hugging Face cache: the explorer falls
/// back to the offline demo (random-weight model built on the fly, bundled demo set) and works.
#[test]
fn without_network_or_cache_the_demo_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut tui = Tui::spawn(&[], dir.path(), 160, 48);
    let screen = tui.wait_for("DEMO", TIMEOUT);
    assert!(screen.contains("meaningless"), "banner:\n{}", dump(&screen));
    tui.wait_for("demo (random weights)", TIMEOUT);
    // A scored answer and the relevance legend: the demo model traced the first sample.
    tui.wait_for("F1 ", TIMEOUT);
    tui.wait_for("◆ MRD", TIMEOUT);
    tui.quit_cleanly();
}

/// Without a terminal (a pipe, a CI log) the explorer refuses at once and names the headless
/// commands instead of failing somewhere in raw mode.
#[test]
fn without_a_terminal_the_explorer_says_what_to_use_instead() {
    common::bin()
        .env("HF_HUB_OFFLINE", "1")
        .assert()
        .failure()
        .stderr(predicates::str::contains("needs a terminal"))
        .stderr(predicates::str::contains("xmrc-lens trace"));
}

/// The issue's acceptance: `xmrc-lens --model ./SmolLM2-135M-Instruct.Q4_1.gguf --data XQUAD`
/// opens the explorer with the real model's answer streaming in (the answer `trace` gives).
#[test]
fn explorer_runs_the_real_gguf_model() {
    let Some(model) = common::real_model("explorer_runs_the_real_gguf_model") else {
        return;
    };
    let data = common::xquad_dir().unwrap_or_else(demo_data);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.json");
    common::bin()
        .current_dir(dir.path())
        .env("HOME", dir.path().join("home"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .arg("trace")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .args(["--sample", "0", "--scenario", "en-x", "--lang", "de"])
        .args(["--shots", "0", "--format", "v1", "--no-oracle", "--out"])
        .arg(&out)
        .assert()
        .success();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        v["model"]["gguf"]["file"],
        "SmolLM2-135M-Instruct.Q4_1.gguf"
    );
    let prefix = answer_prefix(v["answer"].as_str().unwrap());

    let args = [
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    let mut tui = Tui::spawn(&args, dir.path(), 160, 48);
    tui.wait_for("GGUF Q4_1", TIMEOUT);
    tui.wait_for(&prefix, TIMEOUT);
    let screen = tui.wait_idle(TIMEOUT);
    assert!(screen.contains("◆ MRD"), "no relevance:\n{}", dump(&screen));
    tui.quit_cleanly();
}

/// `w` over the name of a session file this run did not open or write keeps that file and
/// saves under a free name, saying which; saving again replaces its own file.
#[test]
fn saving_never_replaces_another_session() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    std::fs::write(sessions.join("session.json"), "PRECIOUS").unwrap();
    let mut tui = Tui::spawn_on_demo_data(&model_dir(), dir.path(), 160, 48);
    tui.wait_for("◆ MRD", TIMEOUT);
    tui.wait_idle(TIMEOUT);
    tui.keys("w");
    tui.wait_for("Save session", TIMEOUT);
    tui.keys("\r");
    tui.wait_for("exists and was kept", TIMEOUT);
    assert_eq!(
        std::fs::read_to_string(sessions.join("session.json")).unwrap(),
        "PRECIOUS"
    );
    let second = sessions.join("session-2.json");
    assert!(second.exists(), "no session-2.json");
    // Its own file: saved again in place (rewritten), no session-3.json.
    let first = std::fs::metadata(&second).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    tui.keys("w");
    tui.wait_for("Save session", TIMEOUT);
    tui.keys("\r");
    let start = Instant::now();
    while std::fs::metadata(&second).unwrap().modified().unwrap() == first {
        assert!(
            start.elapsed() < TIMEOUT,
            "session-2.json was not saved again"
        );
        std::thread::sleep(POLL);
    }
    assert!(!sessions.join("session-3.json").exists());
    tui.quit_cleanly();
}

/// Saves a session of `model` on the demo data in `dir` (sessions/session.json) and quits.
fn save_a_session(model: &Path, dir: &Path) -> PathBuf {
    let mut tui = Tui::spawn_on_demo_data(model, dir, 160, 48);
    tui.wait_for("◆ MRD", TIMEOUT);
    tui.wait_idle(TIMEOUT);
    tui.keys("w");
    tui.wait_for("Save session", TIMEOUT);
    tui.keys("\r");
    tui.wait_for("session saved", TIMEOUT);
    tui.quit_cleanly();
    dir.join("sessions/session.json")
}

/// A session whose model folder is gone opens in replay mode (its saved traces browsable),
/// not with "folder not found".
#[test]
fn a_session_whose_model_is_gone_opens_in_replay_mode() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model-copy");
    std::fs::create_dir_all(&model).unwrap();
    common::copy_dir(&model_dir(), &model);
    let session = save_a_session(&model, dir.path());
    std::fs::remove_dir_all(&model).unwrap();
    let mut tui = Tui::spawn(
        &["--session", session.to_str().unwrap()],
        dir.path(),
        160,
        48,
    );
    let screen = tui.wait_for("REPLAY", TIMEOUT);
    assert!(
        screen.contains("replay mode"),
        "no reason:\n{}",
        dump(&screen)
    );
    tui.wait_for("◆ MRD", TIMEOUT);
    tui.quit_cleanly();
}

/// A session reopened without `--data` uses the data source it was saved with, and says so.
#[test]
fn a_session_reopens_with_its_own_data_source() {
    let dir = tempfile::tempdir().unwrap();
    let session = save_a_session(&model_dir(), dir.path());
    let mut tui = Tui::spawn(
        &[
            "--session",
            session.to_str().unwrap(),
            "--model",
            model_dir().to_str().unwrap(),
        ],
        dir.path(),
        160,
        48,
    );
    let screen = tui.wait_for("data: the session's local folder", TIMEOUT);
    assert!(
        !screen.contains("DEMO"),
        "fell back to the demo set:\n{}",
        dump(&screen)
    );
    tui.wait_for("◆ MRD", TIMEOUT);
    tui.quit_cleanly();
}

/// `--load-langs` loads only the named languages; the tabs show those and no others.
#[test]
fn load_langs_limits_the_language_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data();
    let model = model_dir();
    let args = [
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--load-langs",
        "de,zh",
    ];
    let mut tui = Tui::spawn(&args, dir.path(), 160, 48);
    tui.wait_for("◆ MRD", TIMEOUT);
    let tabs = tui.selection_line();
    assert!(tabs.contains(" de ") && tabs.contains(" zh "), "{tabs}");
    assert!(!tabs.contains(" es ") && !tabs.contains(" ar "), "{tabs}");
    tui.quit_cleanly();
}

/// An unusable cache folder (XDG_CACHE_HOME names a file): the demo model cannot be built, and
/// the error view names the folder and the variable to set; the exit is non-zero.
#[test]
fn an_unusable_cache_folder_is_named_with_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("cache-is-a-file");
    std::fs::write(&not_a_folder, "x").unwrap();
    let mut tui = Tui::spawn_with(
        &["--demo"],
        dir.path(),
        160,
        48,
        &[("XDG_CACHE_HOME", not_a_folder.as_path())],
    );
    let screen = tui.wait_for("cannot continue", TIMEOUT);
    assert!(
        screen.contains("XDG_CACHE_HOME") && screen.contains("cache-is-a-file"),
        "{}",
        dump(&screen)
    );
    tui.quit_after_fatal();
}

/// When the cache folder cannot hold the log, the explorer logs to the temporary folder and
/// says so in the footer at start.
#[test]
fn the_log_falls_back_to_the_temporary_folder_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("cache-is-a-file");
    std::fs::write(&not_a_folder, "x").unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let model = model_dir();
    let data = demo_data();
    let args = [
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    let mut tui = Tui::spawn_with(
        &args,
        dir.path(),
        160,
        48,
        &[
            ("XDG_CACHE_HOME", not_a_folder.as_path()),
            ("TMPDIR", tmp.as_path()),
        ],
    );
    let screen = tui.wait_for("logging to", TIMEOUT);
    assert!(screen.contains("is not writable"), "{}", dump(&screen));
    assert!(tmp.join("xmrc-lens/explore.log").exists());
    tui.quit_cleanly();
}

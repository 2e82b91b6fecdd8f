//! The real binary in a real terminal: a pseudo-terminal (openpty) at 80×24, its output fed to
//! a VT100 parser (and kept byte for byte), cursor-position queries answered as a terminal
//! does. Used by the end-to-end tests of the cashier screen.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A program running in a pseudo-terminal; killed on drop.
pub struct Tty {
    /// The terminal's master side: what is written here is typed.
    pub master: std::fs::File,
    /// The screen as a VT100 terminal shows it.
    pub screen: Arc<Mutex<vt100::Parser>>,
    /// Every byte the program wrote.
    pub raw: Arc<Mutex<Vec<u8>>>,
    /// The program.
    pub child: Child,
}

impl Drop for Tty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` in `dir` on a new 80×24 pseudo-terminal (no `SCANPAY_CONFIG`, no `NO_COLOR`).
pub fn spawn_cmd(mut cmd: Command, dir: &Path) -> Tty {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    let ws = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two valid descriptors into the out-parameters on success.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(rc, 0, "openpty failed");
    // SAFETY: the descriptors were just created and are owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let child = cmd
        .current_dir(dir)
        .env("TERM", "xterm-256color")
        .env_remove("SCANPAY_CONFIG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let master = std::fs::File::from(master);
    let screen = Arc::new(Mutex::new(vt100::Parser::new(24, 80, 0)));
    let raw = Arc::new(Mutex::new(Vec::new()));
    let mut reader = master.try_clone().unwrap();
    let mut answer = master.try_clone().unwrap();
    let (s, r) = (screen.clone(), raw.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    r.lock().unwrap().extend_from_slice(&buf[..n]);
                    let mut p = s.lock().unwrap();
                    p.process(&buf[..n]);
                    // Answer cursor-position queries (ESC [ 6 n) as a real terminal does.
                    if buf[..n].windows(4).any(|w| w == b"\x1b[6n") {
                        let (row, col) = p.screen().cursor_position();
                        let _ = write!(answer, "\x1b[{};{}R", row + 1, col + 1);
                    }
                }
            }
        }
    });
    Tty {
        master,
        screen,
        raw,
        child,
    }
}

impl Tty {
    /// The screen's text.
    pub fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits (bounded) until the screen shows `what`; the screen then.
    pub fn wait_for(&self, what: &str, secs: u64) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let t = self.text();
            if t.contains(what) {
                return t;
            }
            assert!(Instant::now() < end, "screen never showed {what:?}:\n{t}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Bytes typed at once (a scanner's burst is one write).
    pub fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }

    /// A person typing: one key at a time, 120 ms apart (slower than any scanner).
    pub fn type_like_a_person(&mut self, text: &str) {
        for b in text.bytes() {
            self.send(&[b]);
            std::thread::sleep(Duration::from_millis(120));
        }
    }
}

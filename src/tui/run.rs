//! The cashier screen's I/O edge: terminal set-up and restore (also on panic), a thread that
//! reads keys and stamps them with the time they arrived, the serial scanner, and the tasks
//! that run the commands `update` asks for. Draws once per drained batch of messages.

use std::io::Stdout;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{
    self, DisableBracketedPaste, EnableBracketedPaste, Event, KeyCode, KeyEventKind, KeyModifiers,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use tokio::sync::{mpsc, watch};

use super::app::{App, AppConfig, CheckResult, Cmd, ConfigCheck, Msg, ScannerStatus, Theme};
use super::keys::Key;
use super::screen::Refusal;
use super::update::update;
use super::wedge::WedgeConfig;
use crate::clock::SharedClock;
use crate::config::{Config, Language, Mode, ScannerKind, ThemeName};
use crate::engine::refund::RefundStatus;
use crate::engine::{Progress, Sale};
use crate::till::refund::refund_message;
use crate::till::{Printing, SupervisorPin, Till, TillError};

/// The cashier the demo's first shift is opened for (defined once, in the till).
pub use crate::till::DEMO_CASHIER;

/// Why the screen could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Setting up failed (lock, shift log, keys, terminal).
    #[error("{0}")]
    Setup(String),
}

/// The settings the screen starts with, from the configuration and the environment.
pub fn app_config(cfg: &Config) -> AppConfig {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    AppConfig {
        lang: cfg.language,
        theme: match (no_color, cfg.theme) {
            (true, _) => Theme::NoColor,
            (false, ThemeName::Default) => Theme::Default,
            (false, ThemeName::HighContrast) => Theme::HighContrast,
        },
        terminal_id: cfg.merchant.terminal_id.clone(),
        simulator: cfg.wechatpay.mode == Mode::Simulator,
        max_amount: cfg.payment.max_amount,
        wedge: WedgeConfig {
            min_chars: cfg.scanner.wedge_min_chars,
            max_gap_ms: i64::try_from(cfg.scanner.wedge_max_gap_ms).unwrap_or(50),
        },
        serial_scanner: cfg.scanner.kind == ScannerKind::Serial,
    }
}

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

/// Runs the cashier screen until the cashier quits; `clock` is the wall clock (the binary
/// passes the system's).
pub fn run(cfg: Config, clock: SharedClock) -> Result<(), RunError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("async runtime: {e}")))?;
    rt.block_on(run_async(cfg, clock))
}

async fn run_async(cfg: Config, clock: SharedClock) -> Result<(), RunError> {
    // One logger, to the file only: a log line on the terminal would be drawn over the screen.
    // Failing to install it stops here, before the screen starts, with the reason on stderr.
    let log = crate::logging::install(&cfg.data_dir, crate::logging::Face::Screen)
        .map_err(|e| RunError::Setup(format!("logging: {e}")))?;
    // The lock, the shift log, the payment service, the engine, the print queue; the orders
    // left in flight by an earlier run are listed before any new sale exists.
    let till = Till::open(cfg.clone(), clock.clone(), Printing::Queue)
        .await
        .map_err(|e| RunError::Setup(e.to_string()))?;
    tracing::info!(terminal = %cfg.merchant.terminal_id, mode = ?cfg.wechatpay.mode, "cashier screen starting");

    // A panic anywhere restores the terminal, logs, and exits; in-flight orders settle at the
    // next start.
    let log_path = log.clone();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        tracing::error!(panic = %info, "panic");
        eprintln!(
            "scanpay: internal error: {info}\nDetails are in {}. Orders in flight will be settled at the next start.",
            log_path.display()
        );
        std::process::exit(70);
    }));

    enable_raw_mode().map_err(|e| RunError::Setup(format!("terminal: {e}")))?;
    let mut terminal = match setup_terminal() {
        Ok(t) => t,
        Err(e) => {
            restore_terminal();
            return Err(RunError::Setup(format!("terminal: {e}")));
        }
    };

    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    spawn_key_reader(tx.clone(), clock.clone());
    let _serial = start_serial(&cfg, tx.clone(), clock.clone());

    let mut app = App::new(app_config(&cfg), clock.now_ms());
    let mut cancel: Option<watch::Sender<bool>> = None;
    let ctx = Ctx {
        till: till.clone(),
        tx: tx.clone(),
    };

    // The shift: the demo starts with one open for cashier "demo".
    let shift = till.selling_shift().await.map_err(|e| {
        restore_terminal();
        RunError::Setup(e.to_string())
    })?;
    for cmd in update(&mut app, Msg::ShiftLoaded(shift)) {
        execute_cmd(&ctx, cmd, &mut cancel);
    }
    // Shipping to the head office, in the background and off the payment path; the status
    // line shows how far behind it is.
    if let Some(every) = till.sync_interval() {
        let till = till.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            // Each new failure is logged once, and the recovery after it (not every retry).
            let mut failing: Option<String> = None;
            loop {
                let since = match till.sync().await {
                    Ok(s) => {
                        if failing.take().is_some() {
                            tracing::info!("head-office shipping works again");
                        }
                        s.backlog.oldest_pending_at
                    }
                    Err(e) => {
                        let text = e.to_string();
                        if failing.as_deref() != Some(text.as_str()) {
                            tracing::warn!(error = %text, "head-office shipment failed; retrying every interval");
                            failing = Some(text);
                        }
                        till.sync_backlog()
                            .await
                            .ok()
                            .and_then(|b| b.oldest_pending_at)
                    }
                };
                if tx.send(Msg::SyncBacklog(since)).is_err() {
                    break;
                }
                tokio::time::sleep(every).await;
            }
        });
    }
    // The configuration check, in the background; its result goes to the status line.
    app.config_check = ConfigCheck::Running;
    execute_cmd(&ctx, Cmd::RunCheck, &mut cancel);
    {
        let till = till.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(match till.settle_left().await {
                Ok(done) => Msg::Recovered(done),
                Err(e) => Msg::Error(e.to_string()),
            });
            // Refunds left in flight are followed up too.
            match till.follow_refunds(None).await {
                Ok(done) if !done.is_empty() => {
                    let text = done
                        .iter()
                        .map(|r| format!("{} {}", r.out_refund_no, r.status.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let _ = tx.send(Msg::Notice(text));
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Msg::Error(e.to_string()));
                }
            }
        });
    }

    let mut result = Ok(());
    let mut printer_seen = None;
    loop {
        let status = till.printer_status();
        if printer_seen.as_ref() != Some(&status) {
            printer_seen = Some(status.clone());
            let _ = tx.send(Msg::Printer(status));
        }
        if let Err(e) = terminal.draw(|f| f.render_widget(&app, f.area())) {
            result = Err(RunError::Setup(format!("terminal: {e}")));
            break;
        }
        let wait = if app.wedge.pending() {
            Duration::from_millis(10)
        } else {
            Duration::from_millis(250)
        };
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = tokio::time::sleep(wait) => Some(Msg::Tick { at: clock.now_ms() }),
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        batch.push(Msg::Tick { at: clock.now_ms() });
        for msg in batch {
            for cmd in update(&mut app, msg) {
                execute_cmd(&ctx, cmd, &mut cancel);
            }
        }
        if app.quit {
            break;
        }
    }
    restore_terminal();
    if app.in_flight() {
        eprintln!(
            "scanpay: a payment was still being confirmed; it will be settled at the next start."
        );
    }
    tracing::info!("cashier screen stopped");
    drop(ctx);
    drop(till);
    result
}

fn setup_terminal() -> std::io::Result<Terminal<CrosstermBackend<Stdout>>> {
    let mut out = std::io::stdout();
    execute!(out, EnterAlternateScreen, EnableBracketedPaste)?;
    let mut t = Terminal::new(CrosstermBackend::new(out))?;
    t.hide_cursor()?;
    t.clear()?;
    Ok(t)
}

/// Reads terminal events on their own thread, stamping each with the time it arrived (the
/// wedge classifier needs the real gaps between keys).
fn spawn_key_reader(tx: mpsc::UnboundedSender<Msg>, clock: SharedClock) {
    let _ = std::thread::Builder::new()
        .name("scanpay-keys".into())
        .spawn(move || {
            loop {
                let ev = match event::read() {
                    Ok(ev) => ev,
                    Err(e) => {
                        tracing::error!(error = %e, "terminal input failed");
                        break;
                    }
                };
                let at = clock.now_ms();
                let msg = match ev {
                    Event::Key(k) if k.kind != KeyEventKind::Release => {
                        to_key(k.code, k.modifiers).map(|key| Msg::Key { key, at })
                    }
                    Event::Paste(text) => Some(Msg::Paste { text, at }),
                    Event::Resize(_, _) => Some(Msg::Tick { at }),
                    _ => None,
                };
                if let Some(m) = msg
                    && tx.send(m).is_err()
                {
                    break;
                }
            }
        });
}

/// Terminal keys to our keys.
pub fn to_key(code: KeyCode, mods: KeyModifiers) -> Option<Key> {
    let ctrl = mods.contains(KeyModifiers::CONTROL);
    Some(match code {
        KeyCode::Char('q') if ctrl => Key::CtrlQ,
        KeyCode::Char('c') if ctrl => Key::CtrlC,
        KeyCode::Char('j') | KeyCode::Char('m') if ctrl => Key::Enter,
        KeyCode::Char(_) if ctrl => return None,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::F(n) => Key::F(n),
        _ => return None,
    })
}

fn start_serial(
    cfg: &Config,
    tx: mpsc::UnboundedSender<Msg>,
    clock: SharedClock,
) -> Option<crate::scanner::serial::SerialReader> {
    use crate::scanner::serial::{ScannerEvent, SerialConfig, SerialReader};
    if cfg.scanner.kind != ScannerKind::Serial {
        return None;
    }
    let config = SerialConfig {
        device: cfg.scanner.device.clone(),
        baud: cfg.scanner.baud,
        silence_ms: cfg.scanner.silence_ms,
        reconnect_ms: 1000,
    };
    let sink = move |ev: ScannerEvent| {
        let msg = match ev {
            ScannerEvent::Connected { .. } => Msg::Scanner(ScannerStatus::Connected),
            ScannerEvent::Disconnected { .. } => Msg::Scanner(ScannerStatus::Disconnected),
            ScannerEvent::Frame(raw) => Msg::Scan {
                raw,
                at: clock.now_ms(),
            },
        };
        let _ = tx.send(msg);
    };
    match SerialReader::spawn(config, sink) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "serial scanner thread");
            None
        }
    }
}

struct Ctx {
    till: Till,
    tx: mpsc::UnboundedSender<Msg>,
}

/// Runs a command off the UI task: one call into the till; its result comes back as a
/// message.
fn execute_cmd(ctx: &Ctx, cmd: Cmd, cancel: &mut Option<watch::Sender<bool>>) {
    let (till, tx) = (ctx.till.clone(), ctx.tx.clone());
    let send = move |m: Msg| {
        let _ = tx.send(m);
    };
    let error = |e: TillError| Msg::Error(e.to_string());
    match cmd {
        Cmd::StartPayment {
            amount,
            description,
            code,
            shift_id,
            cashier,
        } => {
            let (cancel_tx, rx) = watch::channel(false);
            *cancel = Some(cancel_tx);
            let progress_tx = ctx.tx.clone();
            let lang = till.config().language;
            tokio::spawn(async move {
                let sale = Sale {
                    amount,
                    description,
                    code,
                    shift_id,
                    cashier,
                };
                let mut on_progress = move |p: &Progress| {
                    let _ = progress_tx.send(Msg::Progress(p.clone()));
                };
                send(match till.pay(&sale, &mut on_progress, Some(rx)).await {
                    Ok(order) => Msg::PaymentFinished(Ok(order)),
                    Err(TillError::Store(e)) => {
                        tracing::error!(error = %e, "payment bookkeeping failed");
                        Msg::PaymentBroken(e.to_string())
                    }
                    Err(e @ TillError::Unrecorded(_)) => {
                        tracing::error!(error = %e, "payment outcome not recorded");
                        let no = e.unrecorded().unwrap_or_default().to_string();
                        Msg::PaymentBroken(crate::i18n::unrecorded(lang, &no))
                    }
                    Err(TillError::Refused(r)) => Msg::PaymentFinished(Err(Refusal::Engine(r))),
                    Err(e) => Msg::PaymentFinished(Err(Refusal::Other(e.to_string()))),
                });
            });
        }
        Cmd::CancelPayment => {
            if let Some(c) = cancel.as_ref() {
                let _ = c.send(true);
            }
        }
        Cmd::LoadHistory => {
            tokio::spawn(async move {
                send(till.history().await.map_or_else(error, Msg::History));
            });
        }
        Cmd::LoadDetail(id) => {
            tokio::spawn(async move {
                send(match till.order_detail(id).await {
                    Ok((o, ev, receipt)) => Msg::Detail(o, ev, receipt),
                    Err(e) => error(e),
                });
            });
        }
        Cmd::LoadSummary => {
            tokio::spawn(async move {
                match till.x_summary().await {
                    Ok(Some(s)) => send(Msg::Summary(s)),
                    Ok(None) => {}
                    Err(e) => send(error(e)),
                }
            });
        }
        Cmd::OpenShift(cashier) => {
            tokio::spawn(async move {
                send(match till.open_shift(&cashier).await {
                    Ok(s) => Msg::ShiftLoaded(Some(s)),
                    Err(e) => Msg::ShiftError(e.to_string()),
                });
            });
        }
        Cmd::CloseShift => close_shift(till, None, send),
        Cmd::ForceClose { supervisor, pin } => {
            close_shift(till, Some(SupervisorPin { supervisor, pin }), send)
        }
        Cmd::RetryOrder(id) => {
            tokio::spawn(async move {
                send(match till.retry(id).await {
                    Ok(o) => Msg::Recovered(vec![o]),
                    Err(e) => error(e),
                });
            });
        }
        Cmd::Print { order_id, copy } => {
            tokio::spawn(async move {
                if let Err(e) = till.print_receipt(order_id, copy).await {
                    send(error(e));
                }
            });
        }
        Cmd::Refund {
            out_trade_no,
            amount,
            reason,
            supervisor,
            pin,
        } => {
            let lang = till.config().language;
            tokio::spawn(async move {
                let by = SupervisorPin { supervisor, pin };
                send(Msg::RefundFinished(
                    match till.refund(&out_trade_no, amount, &reason, &by).await {
                        Ok(r) if r.status == RefundStatus::Success => Ok(format!(
                            "✔ {} {} {}",
                            refund_message(&r, lang),
                            r.amount,
                            r.out_refund_no
                        )),
                        Ok(r) => Ok(format!(
                            "{} {} {}",
                            r.status.as_str(),
                            r.out_refund_no,
                            refund_message(&r, lang)
                        )),
                        Err(e) => Err(format!("✘ {e}")),
                    },
                ));
            });
        }
        Cmd::Reconcile(date) => {
            let zh = till.config().language == Language::Zh;
            tokio::spawn(async move {
                send(Msg::Reconciled(match till.reconcile(&date).await {
                    Ok(r) => crate::reconcile::to_table(&r, zh),
                    Err(e) => format!("✘ {e}"),
                }));
            });
        }
        Cmd::RunCheck => {
            tokio::spawn(async move {
                let report = till.check().await;
                send(Msg::CheckFinished(match report.problems().next() {
                    None => CheckResult::Passed,
                    Some(f) => CheckResult::Failed {
                        problem: f.detail.clone(),
                        fix: f.fix.clone(),
                    },
                }));
            });
        }
        Cmd::Quit => {}
    }
}

/// F10 (or F9 with a supervisor): the till closes the shift, backs up and prints the Z.
fn close_shift(till: Till, force: Option<SupervisorPin>, send: impl FnOnce(Msg) + Send + 'static) {
    tokio::spawn(async move {
        let r = till.close_shift("tui", force.as_ref()).await;
        if let Ok(closed) = &r
            && let Err(e) = &closed.printed
        {
            tracing::error!(error = %e, "Z not printed");
        }
        send(Msg::ShiftClosed(
            r.map(|c| (c.shift, c.summary)).map_err(|e| e.to_string()),
        ));
    });
}

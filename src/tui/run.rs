//! The cashier screen's I/O edge: terminal set-up and restore (also on panic), a thread that
//! reads keys and stamps them with the time they arrived, the serial scanner, and the tasks
//! that run the commands `update` asks for. Draws once per drained batch of messages.

use std::io::Stdout;
use std::sync::Arc;
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

use super::app::{App, AppConfig, Cmd, Msg, ScannerStatus, Theme};
use super::keys::Key;
use super::screen::Refusal;
use super::update::update;
use super::wedge::WedgeConfig;
use crate::clock::{Clock, SharedClock, SystemClock};
use crate::config::{Config, Mode, ScannerKind, ThemeName};
use crate::connect::connect;
use crate::engine::micropay::Event as EngineEvent;
use crate::engine::recovery::{Scope, pending, settle};
use crate::engine::{Engine, EngineError, Progress, Sale};
use crate::lock::DataDirLock;
use crate::store::{Store, orders, shifts};

/// The cashier the demo's first shift is opened for.
pub const DEMO_CASHIER: &str = "demo";

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

/// Runs the cashier screen until the cashier quits.
pub fn run(cfg: Config) -> Result<(), RunError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("async runtime: {e}")))?;
    rt.block_on(run_async(cfg))
}

async fn run_async(cfg: Config) -> Result<(), RunError> {
    let log = crate::logging::to_file(&cfg.data_dir)
        .map_err(|e| RunError::Setup(format!("log file in {}: {e}", cfg.data_dir.display())))?;
    let lock = DataDirLock::acquire(&cfg.data_dir).map_err(|e| RunError::Setup(e.to_string()))?;
    let store =
        Store::open(&cfg.data_dir).map_err(|e| RunError::Setup(format!("shift log: {e}")))?;
    let clock: SharedClock = Arc::new(SystemClock);
    let conn = connect(&cfg, clock.clone())
        .await
        .map_err(|e| RunError::Setup(e.to_string()))?;
    let engine = Engine::new(&cfg, conn.client.clone(), store.clone(), clock.clone());
    tracing::info!(terminal = %cfg.merchant.terminal_id, mode = ?cfg.wechatpay.mode, "cashier screen starting");

    // Orders left in flight by an earlier run (listed before any new sale exists).
    let earlier = pending(&engine, Scope::InFlight)
        .await
        .map_err(|e| RunError::Setup(e.to_string()))?;

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
    let _serial = start_serial(&cfg, tx.clone());

    let mut app = App::new(app_config(&cfg), clock.now_ms());
    let mut cancel: Option<watch::Sender<bool>> = None;
    let printer = crate::receipt::queue(&cfg);
    let ctx = Ctx {
        engine: engine.clone(),
        store: store.clone(),
        tx: tx.clone(),
        terminal_id: cfg.merchant.terminal_id.clone(),
        cfg: cfg.clone(),
        printer: printer.clone(),
    };

    // The demo has a supervisor `demo` (PIN 0000) so a newcomer can try a refund.
    if cfg.wechatpay.mode == Mode::Simulator {
        let now = clock.now_ms();
        let _ = store
            .call(move |c| {
                crate::supervisor::ensure_demo(c, now)
                    .map_err(|e| crate::store::StoreError::Sql(e.to_string()))
            })
            .await;
    }

    // The shift: the demo starts with one open for cashier "demo".
    let terminal_id = cfg.merchant.terminal_id.clone();
    let demo = cfg.wechatpay.mode == Mode::Simulator;
    let now = clock.now_ms();
    let shift = store
        .call(move |c| match shifts::current(c, &terminal_id)? {
            Some(s) => Ok(Some(s)),
            None if demo => shifts::open(c, &terminal_id, DEMO_CASHIER, now).map(Some),
            None => Ok(None),
        })
        .await
        .map_err(|e| {
            restore_terminal();
            RunError::Setup(format!("shift log: {e}"))
        })?;
    for cmd in update(&mut app, Msg::ShiftLoaded(shift)) {
        execute_cmd(&ctx, cmd, &mut cancel);
    }
    {
        let engine = engine.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            match settle(&engine, earlier).await {
                Ok(done) => {
                    let _ = tx.send(Msg::Recovered(done));
                }
                Err(e) => {
                    let _ = tx.send(Msg::Error(e.to_string()));
                }
            }
            // Refunds left in flight are followed up too.
            match crate::engine::recovery::recover_refunds(&engine, None).await {
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
        let status = printer.status();
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
    drop(lock);
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
    let clock = SystemClock;
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
    engine: Engine,
    store: Store,
    tx: mpsc::UnboundedSender<Msg>,
    terminal_id: String,
    cfg: Config,
    printer: crate::receipt::printer::PrintQueue,
}

/// Prints a Z report through the receipt machinery (spool + printer).
fn print_z(
    cfg: &Config,
    printer: &crate::receipt::printer::PrintQueue,
    shift: &crate::store::shifts::Shift,
    s: &crate::store::shifts::Summary,
) {
    use crate::money::Fen;
    let zh = cfg.language == crate::config::Language::Zh;
    let z = shift.z_number.unwrap_or(0);
    let title = if zh {
        format!("Z 报表 #{z} · 班次 #{}", shift.id)
    } else {
        format!("Z report #{z} — shift #{}", shift.id)
    };
    let mut lines: Vec<(String, String)> = s
        .by_state
        .iter()
        .map(|(st, n, f)| (st.clone(), format!("{n} · {}", Fen(*f).grouped())))
        .collect();
    lines.push((
        if zh { "实收" } else { "Paid" }.into(),
        format!("{} · {}", s.paid_count, Fen(s.paid_fen).grouped()),
    ));
    lines.push((
        if zh { "退款" } else { "Refunds" }.into(),
        format!("{} · -{}", s.refund_count, Fen(s.refund_fen).grouped()),
    ));
    lines.push((
        if zh { "净收" } else { "Net" }.into(),
        Fen(s.net_fen).grouped(),
    ));
    for (c, n, f) in &s.by_cashier {
        lines.push((
            format!("{} {c}", if zh { "收银员" } else { "Cashier" }),
            format!("{n} · {}", Fen(*f).grouped()),
        ));
    }
    for (h, n, f) in &s.by_hour {
        lines.push((format!("{h:02}:00"), format!("{n} · {}", Fen(*f).grouped())));
    }
    if let Some(sup) = &s.forced_by {
        lines.push((if zh { "强制结班" } else { "FORCED" }.into(), sup.clone()));
        for (no, st) in &s.open_orders {
            lines.push((no.clone(), st.clone()));
        }
    }
    let r = crate::receipt::layout::summary(
        cfg.language,
        &title,
        &cfg.merchant.store_name,
        &lines,
        cfg.printer.width,
    );
    printer.submit(crate::receipt::job(cfg, &r, format!("z-{z:05}"), false));
}

/// Runs a command off the UI task; its result comes back as a message.
fn execute_cmd(ctx: &Ctx, cmd: Cmd, cancel: &mut Option<watch::Sender<bool>>) {
    let tx = ctx.tx.clone();
    let store = ctx.store.clone();
    match cmd {
        Cmd::StartPayment {
            amount,
            description,
            code,
            shift_id,
            cashier,
        } => {
            let (ctx_tx, rx) = watch::channel(false);
            *cancel = Some(ctx_tx);
            let engine = ctx.engine.clone();
            tokio::spawn(async move {
                let sale = Sale {
                    amount,
                    description,
                    code,
                    shift_id,
                    cashier,
                };
                let progress_tx = tx.clone();
                let mut on_progress = move |p: &Progress| {
                    let _ = progress_tx.send(Msg::Progress(p.clone()));
                };
                let msg = match engine.pay(&sale, &mut on_progress, Some(rx)).await {
                    Ok(order) => Msg::PaymentFinished(Ok(order)),
                    Err(EngineError::Refused(m)) => Msg::PaymentFinished(Err(Refusal::Other(m))),
                    Err(EngineError::DuplicateCode { previous }) => {
                        Msg::PaymentFinished(Err(Refusal::DuplicateCode { previous }))
                    }
                    Err(EngineError::Store(e)) => {
                        tracing::error!(error = %e, "payment bookkeeping failed");
                        Msg::PaymentBroken(format!("{e}"))
                    }
                };
                let _ = tx.send(msg);
            });
        }
        Cmd::CancelPayment => {
            if let Some(c) = cancel.as_ref() {
                let _ = c.send(true);
            }
        }
        Cmd::LoadHistory => {
            let terminal = ctx.terminal_id.clone();
            tokio::spawn(async move {
                let r = store
                    .call(move |c| match shifts::current(c, &terminal)? {
                        Some(s) => orders::for_shift(c, s.id),
                        None => Ok(Vec::new()),
                    })
                    .await;
                let _ = tx.send(match r {
                    Ok(list) => Msg::History(list),
                    Err(e) => Msg::Error(e.to_string()),
                });
            });
        }
        Cmd::LoadDetail(id) => {
            let cfg = ctx.cfg.clone();
            tokio::spawn(async move {
                let r = store
                    .call(move |c| {
                        let o = orders::by_id(c, id)?;
                        let events = orders::events(c, id)?;
                        // The same layout the printer gets, as the screen preview.
                        let receipt = if o.state.is_charged() {
                            let data = crate::receipt::sale_receipt(c, &cfg, &o, None)?;
                            Some(crate::receipt::layout::to_text(
                                &crate::receipt::layout::sale(&data, 32),
                            ))
                        } else {
                            None
                        };
                        Ok((o, events, receipt))
                    })
                    .await;
                let _ = tx.send(match r {
                    Ok((o, ev, receipt)) => Msg::Detail(o, ev, receipt),
                    Err(e) => Msg::Error(e.to_string()),
                });
            });
        }
        Cmd::LoadSummary => {
            let terminal = ctx.terminal_id.clone();
            tokio::spawn(async move {
                let r = store
                    .call(move |c| match shifts::current(c, &terminal)? {
                        Some(s) => shifts::summary(c, s.id).map(Some),
                        None => Ok(None),
                    })
                    .await;
                match r {
                    Ok(Some(s)) => {
                        let _ = tx.send(Msg::Summary(s));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = tx.send(Msg::Error(e.to_string()));
                    }
                }
            });
        }
        Cmd::OpenShift(cashier) => {
            let terminal = ctx.terminal_id.clone();
            tokio::spawn(async move {
                let now = SystemClock.now_ms();
                let r = store
                    .call(move |c| shifts::open(c, &terminal, &cashier, now))
                    .await;
                let _ = tx.send(match r {
                    Ok(s) => Msg::ShiftLoaded(Some(s)),
                    Err(e) => Msg::ShiftError(e.to_string()),
                });
            });
        }
        Cmd::CloseShift => {
            let terminal = ctx.terminal_id.clone();
            let data_dir = ctx.cfg.data_dir.clone();
            let (cfg, printer) = (ctx.cfg.clone(), ctx.printer.clone());
            tokio::spawn(async move {
                let now = SystemClock.now_ms();
                let r = store
                    .call(move |c| shifts::close(c, &terminal, "tui", now, None))
                    .await;
                // The automatic backup at every Z, keeping the newest 30.
                if let Ok((shift, _)) = &r
                    && let Err(e) =
                        crate::store::backup::at_z_close(&data_dir, shift.z_number.unwrap_or(0), 30)
                {
                    tracing::error!(error = %e, "Z backup failed");
                }
                if let Ok((shift, summary)) = &r {
                    print_z(&cfg, &printer, shift, summary);
                }
                let _ = tx.send(Msg::ShiftClosed(r.map_err(|e| e.to_string())));
            });
        }
        Cmd::RetryOrder(id) => {
            let engine = ctx.engine.clone();
            tokio::spawn(async move {
                let order = match store.call(move |c| orders::by_id(c, id)).await {
                    Ok(o) => o,
                    Err(e) => {
                        let _ = tx.send(Msg::Error(e.to_string()));
                        return;
                    }
                };
                let mut quiet = |_: &Progress| {};
                let msg = match engine
                    .drive(order, EngineEvent::Retry, None, &mut quiet, None)
                    .await
                {
                    Ok(o) => Msg::Recovered(vec![o]),
                    Err(e) => Msg::Error(e.to_string()),
                };
                let _ = tx.send(msg);
            });
        }
        Cmd::Print { order_id, copy } => {
            let cfg = ctx.cfg.clone();
            let printer = ctx.printer.clone();
            tokio::spawn(async move {
                let now = SystemClock.now_ms();
                let r = store
                    .call(move |c| {
                        let order = orders::by_id(c, order_id)?;
                        let copy_at = copy.then_some(now);
                        let data = crate::receipt::sale_receipt(c, &cfg, &order, copy_at)?;
                        if copy {
                            crate::store::audit(
                                c,
                                now,
                                &order.cashier,
                                "reprint",
                                &format!("{} (screen)", order.out_trade_no),
                            )?;
                        }
                        let receipt = crate::receipt::layout::sale(&data, cfg.printer.width);
                        let name = if copy {
                            format!("{}-copy-{now}", order.out_trade_no)
                        } else {
                            order.out_trade_no.clone()
                        };
                        Ok(crate::receipt::job(&cfg, &receipt, name, !copy))
                    })
                    .await;
                match r {
                    Ok(job) => printer.submit(job),
                    Err(e) => {
                        let _ = tx.send(Msg::Error(e.to_string()));
                    }
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
            let engine = ctx.engine.clone();
            let zh = ctx.cfg.language == crate::config::Language::Zh;
            tokio::spawn(async move {
                let now = SystemClock.now_ms();
                let (sup, what) = (
                    supervisor.clone(),
                    format!("{out_trade_no} {amount} ({reason})"),
                );
                let approved = store
                    .call(move |c| {
                        crate::supervisor::approve(c, &sup, &pin, "refund", &what, now)
                            .map_err(|e| crate::store::StoreError::Refused(e.to_string()))
                    })
                    .await;
                let msg = match approved {
                    Err(e) => Msg::RefundFinished(Err(format!("✘ {e}"))),
                    Ok(_) => match engine
                        .refund(
                            &out_trade_no,
                            amount,
                            &reason,
                            Some(&supervisor),
                            Some(Duration::from_secs(60)),
                        )
                        .await
                    {
                        Ok(r) => Msg::RefundFinished(Ok(match (r.status, zh) {
                            (crate::engine::refund::RefundStatus::Success, true) => {
                                format!("✔ 退款成功 {} {}", r.amount, r.out_refund_no)
                            }
                            (crate::engine::refund::RefundStatus::Success, false) => {
                                format!("✔ refunded {} {}", r.amount, r.out_refund_no)
                            }
                            (_, _) => format!(
                                "{} {} {}",
                                r.status.as_str(),
                                r.out_refund_no,
                                r.machine.reason.unwrap_or_default()
                            ),
                        })),
                        Err(e) => Msg::RefundFinished(Err(format!("✘ {e}"))),
                    },
                };
                let _ = tx.send(msg);
            });
        }
        Cmd::ForceClose { supervisor, pin } => {
            let terminal = ctx.terminal_id.clone();
            let data_dir = ctx.cfg.data_dir.clone();
            let (cfg, printer) = (ctx.cfg.clone(), ctx.printer.clone());
            tokio::spawn(async move {
                let now = SystemClock.now_ms();
                let r = store
                    .call(move |c| {
                        crate::supervisor::approve(
                            c,
                            &supervisor,
                            &pin,
                            "force_close",
                            &format!("shift on {terminal}"),
                            now,
                        )
                        .map_err(|e| crate::store::StoreError::Refused(e.to_string()))?;
                        shifts::close(c, &terminal, "tui", now, Some(&supervisor))
                    })
                    .await;
                if let Ok((shift, _)) = &r
                    && let Err(e) =
                        crate::store::backup::at_z_close(&data_dir, shift.z_number.unwrap_or(0), 30)
                {
                    tracing::error!(error = %e, "Z backup failed");
                }
                if let Ok((shift, summary)) = &r {
                    print_z(&cfg, &printer, shift, summary);
                }
                let _ = tx.send(Msg::ShiftClosed(r.map_err(|e| e.to_string())));
            });
        }
        Cmd::Reconcile(date) => {
            let (engine, cfg) = (ctx.engine.clone(), ctx.cfg.clone());
            tokio::spawn(async move {
                let zh = cfg.language == crate::config::Language::Zh;
                let text = match crate::reconcile::fetch_and_compare(
                    engine.client(),
                    &store,
                    &cfg.merchant.mchid,
                    &date,
                )
                .await
                {
                    Ok(r) => crate::reconcile::to_table(&r, zh),
                    Err(e) => format!("✘ {e}"),
                };
                let _ = tx.send(Msg::Reconciled(text));
            });
        }
        Cmd::Quit => {}
    }
}

//! The key table: one list says which keys do what on which screen. The key bar, the help
//! popup and `update` all read it, so what the screen offers is exactly what works. It knows
//! the screen only through [`View`]; what an action is called is in `crate::i18n::action`.

use super::screen::{OverlayKind, ScreenKind, View};

/// A key, independent of the terminal library (so `update` is testable without one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// Enter (or Ctrl-J / Ctrl-M).
    Enter,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// A function key.
    F(u8),
    /// Ctrl-Q.
    CtrlQ,
    /// Ctrl-C.
    CtrlC,
}

/// What a key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Confirm the typed amount; next: scan.
    ConfirmAmount,
    /// Switch between amount and note.
    ToggleField,
    /// Clear the sale being typed.
    Clear,
    /// Back to typing the amount.
    ChangeAmount,
    /// Cancel the payment in flight (asks first).
    CancelPayment,
    /// Start the next sale.
    NextSale,
    /// Open the history.
    History,
    /// Open the shift screen.
    Shift,
    /// Show help.
    Help,
    /// Quit: asks first, always.
    Quit,
    /// Yes, quit (the quit key again, alone, after the question).
    ConfirmQuit,
    /// Move up.
    Up,
    /// Move down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Show an order's details.
    Details,
    /// Settle an unresolved order again.
    Retry,
    /// Close the shift (asks first).
    CloseShift,
    /// Go back.
    Back,
    /// Open a shift for the typed cashier id.
    OpenShift,
    /// Yes, in a confirmation.
    Yes,
    /// No, in a confirmation.
    No,
    /// Close a form without submitting it.
    CancelForm,
    /// Close the help popup.
    CloseHelp,
    /// Print a copy of the receipt.
    Reprint,
    /// Refund the selected order (supervisor).
    Refund,
    /// Close the shift over unsettled orders (supervisor).
    ForceClose,
    /// Next form field.
    NextField,
    /// Previous form field.
    PrevField,
    /// Submit the form.
    Submit,
    /// Reconcile yesterday's bill.
    Reconcile,
    /// Run the configuration check again.
    RunCheck,
}

/// One line of the key table.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// The keys.
    pub keys: &'static [Key],
    /// How the key bar writes them.
    pub label: &'static str,
    /// What happens (described by `i18n::action`).
    pub action: Action,
}

const fn b(keys: &'static [Key], label: &'static str, action: Action) -> Binding {
    Binding {
        keys,
        label,
        action,
    }
}

const HELP: Binding = b(&[Key::F(1), Key::Char('?')], "?", Action::Help);
const HELP_F1: Binding = b(&[Key::F(1)], "F1", Action::Help);
const QUIT: Binding = b(&[Key::CtrlQ, Key::CtrlC], "Ctrl-Q", Action::Quit);
const HISTORY: Binding = b(&[Key::F(2)], "F2", Action::History);
const REPRINT: Binding = b(&[Key::F(5)], "F5", Action::Reprint);
const SHIFT: Binding = b(&[Key::F(3)], "F3", Action::Shift);
const CHECK: Binding = b(&[Key::F(4)], "F4", Action::RunCheck);

/// The bindings valid in a view, in key-bar order.
pub fn bindings(view: &View) -> Vec<Binding> {
    if let Some(o) = &view.overlay {
        return match o {
            OverlayKind::Form => vec![
                b(&[Key::Enter], "Enter", Action::Submit),
                b(&[Key::Tab, Key::Down], "Tab", Action::NextField),
                b(&[Key::BackTab, Key::Up], "", Action::PrevField),
                b(&[Key::Esc], "Esc", Action::CancelForm),
            ],
            // Only the quit key again says yes: Enter or `y` are too easy to send by accident.
            OverlayKind::ConfirmQuit => vec![
                b(&[Key::CtrlQ, Key::CtrlC], "Ctrl-Q", Action::ConfirmQuit),
                b(
                    &[Key::Esc, Key::Char('n'), Key::Char('N')],
                    "Esc",
                    Action::No,
                ),
            ],
            OverlayKind::Help => vec![b(
                &[Key::Esc, Key::F(1), Key::Char('?'), Key::Enter],
                "Esc",
                Action::CloseHelp,
            )],
            _ => vec![
                b(
                    &[Key::Enter, Key::Char('y'), Key::Char('Y')],
                    "Enter",
                    Action::Yes,
                ),
                b(
                    &[Key::Esc, Key::Char('n'), Key::Char('N')],
                    "Esc",
                    Action::No,
                ),
            ],
        };
    }
    match &view.screen {
        ScreenKind::OpenShift => vec![b(&[Key::Enter], "Enter", Action::OpenShift), HELP_F1, QUIT],
        ScreenKind::Sale if view.awaiting_scan => {
            let mut v = vec![b(&[Key::Esc], "Esc", Action::ChangeAmount), HISTORY];
            if view.check_needed {
                v.push(CHECK);
            }
            v.extend([HELP_F1, QUIT]);
            v
        }
        ScreenKind::Sale => {
            let mut v = vec![
                b(&[Key::Enter], "Enter", Action::ConfirmAmount),
                b(&[Key::Tab, Key::BackTab], "Tab", Action::ToggleField),
                b(&[Key::Esc], "Esc", Action::Clear),
                HISTORY,
                SHIFT,
            ];
            if view.check_needed {
                v.push(CHECK);
            }
            // In the note field '?' is text.
            v.push(if view.note_focused { HELP_F1 } else { HELP });
            v.push(QUIT);
            v
        }
        ScreenKind::Waiting => {
            let mut v = Vec::new();
            if view.can_cancel {
                v.push(b(&[Key::Esc], "Esc", Action::CancelPayment));
            }
            v.extend([HELP_F1, QUIT]);
            v
        }
        ScreenKind::Result => {
            let mut v = vec![b(&[Key::Enter], "Enter", Action::NextSale)];
            if view.can_reprint {
                v.push(REPRINT);
            }
            if view.check_needed {
                v.push(CHECK);
            }
            v.extend([HISTORY, SHIFT, HELP, QUIT]);
            v
        }
        ScreenKind::History => {
            let mut v = Vec::new();
            if !view.detail_open {
                v.extend([
                    b(&[Key::Up], "↑↓", Action::Up),
                    b(&[Key::Down], "", Action::Down),
                    b(&[Key::PageUp], "", Action::PageUp),
                    b(&[Key::PageDown], "", Action::PageDown),
                ]);
            }
            if !view.detail_open {
                v.push(b(&[Key::Enter], "Enter", Action::Details));
            }
            if view.can_reprint {
                v.push(REPRINT);
            }
            if view.can_refund {
                v.push(b(&[Key::F(7)], "F7", Action::Refund));
            }
            if view.selected_unresolved {
                v.push(b(&[Key::F(6)], "F6", Action::Retry));
            }
            v.push(b(&[Key::Esc], "Esc", Action::Back));
            v.push(HELP_F1);
            v.push(QUIT);
            v
        }
        ScreenKind::Shift => {
            let mut v = Vec::new();
            if view.shift_open {
                v.push(b(&[Key::F(10)], "F10", Action::CloseShift));
                v.push(b(&[Key::F(9)], "F9", Action::ForceClose));
            }
            v.push(b(&[Key::F(8)], "F8", Action::Reconcile));
            v.extend([b(&[Key::Esc], "Esc", Action::Back), HELP, QUIT]);
            v
        }
    }
}

/// The action of a key in a view, if the key does anything there.
pub fn action_for(view: &View, key: Key) -> Option<Action> {
    bindings(view)
        .into_iter()
        .find(|b| b.keys.contains(&key))
        .map(|b| b.action)
}

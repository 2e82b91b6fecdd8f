//! The key table: one list says which keys do what on which screen. The key bar, the help
//! popup and `update` all read it, so what the screen offers is exactly what works.

use super::app::{Overlay, Screen, View};
use crate::config::Language;

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
    /// Quit (asks first when a payment is in flight).
    Quit,
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
}

/// One line of the key table.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// The keys.
    pub keys: &'static [Key],
    /// How the key bar writes them.
    pub label: &'static str,
    /// What happens.
    pub action: Action,
    /// Chinese description.
    pub zh: &'static str,
    /// English description.
    pub en: &'static str,
}

impl Binding {
    /// The description in a language.
    pub fn text(&self, lang: Language) -> &'static str {
        match lang {
            Language::Zh => self.zh,
            Language::En => self.en,
        }
    }
}

const fn b(
    keys: &'static [Key],
    label: &'static str,
    action: Action,
    zh: &'static str,
    en: &'static str,
) -> Binding {
    Binding {
        keys,
        label,
        action,
        zh,
        en,
    }
}

const HELP: Binding = b(
    &[Key::F(1), Key::Char('?')],
    "?",
    Action::Help,
    "帮助",
    "help",
);
const HELP_F1: Binding = b(&[Key::F(1)], "F1", Action::Help, "帮助", "help");
const QUIT: Binding = b(
    &[Key::CtrlQ, Key::CtrlC],
    "Ctrl-Q",
    Action::Quit,
    "退出",
    "quit",
);
const HISTORY: Binding = b(&[Key::F(2)], "F2", Action::History, "流水", "history");
const REPRINT: Binding = b(&[Key::F(5)], "F5", Action::Reprint, "重印", "reprint");
const SHIFT: Binding = b(&[Key::F(3)], "F3", Action::Shift, "班次", "shift");

/// The bindings valid in a view, in key-bar order.
pub fn bindings(view: &View) -> Vec<Binding> {
    if let Some(o) = &view.overlay {
        return match o {
            Overlay::Form => vec![
                b(&[Key::Enter], "Enter", Action::Submit, "提交", "submit"),
                b(
                    &[Key::Tab, Key::Down],
                    "Tab",
                    Action::NextField,
                    "下一项",
                    "next field",
                ),
                b(&[Key::BackTab, Key::Up], "", Action::PrevField, "", ""),
                b(&[Key::Esc], "Esc", Action::No, "取消", "cancel"),
            ],
            Overlay::Help => vec![b(
                &[Key::Esc, Key::F(1), Key::Char('?'), Key::Enter],
                "Esc",
                Action::CloseHelp,
                "关闭",
                "close",
            )],
            _ => vec![
                b(
                    &[Key::Enter, Key::Char('y'), Key::Char('Y')],
                    "Enter",
                    Action::Yes,
                    "确定",
                    "yes",
                ),
                b(
                    &[Key::Esc, Key::Char('n'), Key::Char('N')],
                    "Esc",
                    Action::No,
                    "返回",
                    "no",
                ),
            ],
        };
    }
    match &view.screen {
        Screen::OpenShift => vec![
            b(
                &[Key::Enter],
                "Enter",
                Action::OpenShift,
                "开班",
                "open shift",
            ),
            HELP_F1,
            QUIT,
        ],
        Screen::Sale if view.awaiting_scan => vec![
            b(
                &[Key::Esc],
                "Esc",
                Action::ChangeAmount,
                "修改金额",
                "change amount",
            ),
            HISTORY,
            HELP_F1,
            QUIT,
        ],
        Screen::Sale => {
            let mut v = vec![
                b(
                    &[Key::Enter],
                    "Enter",
                    Action::ConfirmAmount,
                    "确认",
                    "confirm",
                ),
                b(
                    &[Key::Tab, Key::BackTab],
                    "Tab",
                    Action::ToggleField,
                    "备注",
                    "note",
                ),
                b(&[Key::Esc], "Esc", Action::Clear, "清除", "clear"),
                HISTORY,
                SHIFT,
            ];
            // In the note field '?' is text.
            v.push(if view.note_focused { HELP_F1 } else { HELP });
            v.push(QUIT);
            v
        }
        Screen::Waiting => {
            let mut v = Vec::new();
            if view.can_cancel {
                v.push(b(
                    &[Key::Esc],
                    "Esc",
                    Action::CancelPayment,
                    "取消收款（将撤销订单）",
                    "cancel payment (reverses the order)",
                ));
            }
            v.extend([HELP_F1, QUIT]);
            v
        }
        Screen::Result => {
            let mut v = vec![b(
                &[Key::Enter],
                "Enter",
                Action::NextSale,
                "下一笔",
                "next sale",
            )];
            if view.can_reprint {
                v.push(REPRINT);
            }
            v.extend([HISTORY, SHIFT, HELP, QUIT]);
            v
        }
        Screen::History => {
            let mut v = Vec::new();
            if !view.detail_open {
                v.extend([
                    b(&[Key::Up], "↑↓", Action::Up, "选择", "select"),
                    b(&[Key::Down], "", Action::Down, "", ""),
                    b(&[Key::PageUp], "", Action::PageUp, "", ""),
                    b(&[Key::PageDown], "", Action::PageDown, "", ""),
                ]);
            }
            if !view.detail_open {
                v.push(b(
                    &[Key::Enter],
                    "Enter",
                    Action::Details,
                    "详情",
                    "details",
                ));
            }
            if view.can_reprint {
                v.push(REPRINT);
            }
            if view.can_refund {
                v.push(b(&[Key::F(7)], "F7", Action::Refund, "退款", "refund"));
            }
            if view.selected_unresolved {
                v.push(b(
                    &[Key::F(6)],
                    "F6",
                    Action::Retry,
                    "重新处理",
                    "settle again",
                ));
            }
            v.push(b(&[Key::Esc], "Esc", Action::Back, "返回", "back"));
            v.push(HELP_F1);
            v.push(QUIT);
            v
        }
        Screen::Shift => {
            let mut v = Vec::new();
            if view.shift_open {
                v.push(b(
                    &[Key::F(10)],
                    "F10",
                    Action::CloseShift,
                    "结班（Z 报表）",
                    "close shift (Z)",
                ));
                v.push(b(
                    &[Key::F(9)],
                    "F9",
                    Action::ForceClose,
                    "强制结班",
                    "force close",
                ));
            }
            v.push(b(
                &[Key::F(8)],
                "F8",
                Action::Reconcile,
                "对账（昨日）",
                "reconcile yesterday",
            ));
            v.extend([
                b(&[Key::Esc], "Esc", Action::Back, "返回", "back"),
                HELP,
                QUIT,
            ]);
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

//! Every string a cashier can see, in Simplified Chinese and English, in one place: the
//! cashier screen's texts, and the words for the engine's reasons and refusals (the command
//! line uses them too). Formatted strings are functions here too, so a translation sees the
//! whole sentence. Other modules hand over typed values; only this table turns them into words.

use crate::auth_code::{Classified, NotACode};
use crate::config::Language;
use crate::money::{AmountError, Fen};
use crate::order::Reason;
use crate::tui::form::{FieldName, FieldRefusal, FormError, SupervisorForm};
use crate::tui::keys::{Action, Key};
use crate::tui::screen::{Hint, Refusal, ResultNote, ShiftNote};

/// The fixed strings of one language.
#[derive(Debug)]
pub struct Strings {
    /// Shift label in the status line.
    pub shift: &'static str,
    /// Cashier label.
    pub cashier: &'static str,
    /// Scanner label.
    pub scanner: &'static str,
    /// Scanner connected.
    pub connected: &'static str,
    /// Scanner disconnected.
    pub disconnected: &'static str,
    /// Keyboard-wedge scanner.
    pub wedge: &'static str,
    /// Network label.
    pub network: &'static str,
    /// Network fine.
    pub online: &'static str,
    /// Network trouble.
    pub offline: &'static str,
    /// On the sale screen, before the scan, while the network badge is down.
    pub network_down_sale: &'static str,
    /// Simulator badge.
    pub simulator: &'static str,
    /// Live badge.
    pub live: &'static str,
    /// Sale title.
    pub amount_title: &'static str,
    /// Description label.
    pub description: &'static str,
    /// Description placeholder.
    pub optional: &'static str,
    /// Hint under the amount.
    pub enter_amount_hint: &'static str,
    /// Asking for the scan.
    pub scan_now: &'static str,
    /// Sub-hint while waiting for a scan.
    pub scan_now_hint: &'static str,
    /// Waiting headline.
    pub waiting: &'static str,
    /// Ask for the password.
    pub ask_password: &'static str,
    /// Waiting for the service.
    pub contacting: &'static str,
    /// Cancelling headline.
    pub cancelling: &'static str,
    /// Payment code label.
    pub code: &'static str,
    /// Order number label.
    pub order_no: &'static str,
    /// Paid headline.
    pub paid: &'static str,
    /// Not charged headline.
    pub not_charged: &'static str,
    /// Needs attention headline.
    pub attention: &'static str,
    /// WeChat transaction id label.
    pub transaction_id: &'static str,
    /// Next sale hint.
    pub next_sale_hint: &'static str,
    /// Do not charge again.
    pub do_not_recharge: &'static str,
    /// History title.
    pub history: &'static str,
    /// Search label.
    pub search: &'static str,
    /// Empty history.
    pub no_orders: &'static str,
    /// Timeline title.
    pub timeline: &'static str,
    /// Shift title.
    pub shift_title: &'static str,
    /// Open-shift title.
    pub open_shift: &'static str,
    /// Cashier id prompt.
    pub cashier_prompt: &'static str,
    /// Help title.
    pub help: &'static str,
    /// Quit confirmation.
    pub confirm_quit: &'static str,
    /// Quit confirmation with a payment in flight.
    pub confirm_quit_in_flight: &'static str,
    /// Cancel confirmation.
    pub confirm_cancel: &'static str,
    /// Close-shift confirmation.
    pub confirm_close: &'static str,
    /// Yes / no keys.
    pub yes_no: &'static str,
    /// The keys of the quit question: only the quit key again quits.
    pub quit_keys: &'static str,
    /// A fast burst that was not a payment code was thrown away.
    pub burst_discarded: &'static str,
    /// A fast burst went into a text field; its Enter/Esc/F-keys did nothing.
    pub burst_keys_ignored: &'static str,
    /// A scan arrived when no sale was waiting for one.
    pub scan_ignored: &'static str,
    /// Typed digits while waiting for a scan.
    pub type_not_scan: &'static str,
    /// The same code twice.
    pub duplicate_scan: &'static str,
    /// Loading.
    pub loading: &'static str,
    /// "orders today".
    pub stats_orders: &'static str,
    /// "collected".
    pub stats_paid: &'static str,
    /// "pending".
    pub stats_pending: &'static str,
    /// Paid total label.
    pub paid_total: &'static str,
    /// Z closed.
    pub z_closed: &'static str,
    /// Recovered orders notice.
    pub recovered: &'static str,
    /// Title of the receipt preview beside an order's details.
    pub receipt_title: &'static str,
    /// Under the forced-close form's title.
    pub force_close_note: &'static str,
    /// A supervisor form was submitted.
    pub working: &'static str,
    /// A reprint was sent.
    pub copy_sent: &'static str,
    /// A form field left blank.
    pub fill_in_every_field: &'static str,
    /// Before why the shift was not closed.
    pub not_closed: &'static str,
}

/// Chinese.
pub const ZH: Strings = Strings {
    shift: "班次",
    cashier: "收银员",
    scanner: "扫码枪",
    connected: "已连接",
    disconnected: "未连接",
    wedge: "键盘",
    network: "网络",
    online: "正常",
    offline: "异常",
    network_down_sale: "网络不通：现在收款无法到达微信支付（不会扣款）",
    simulator: "模拟器",
    live: "正式",
    amount_title: "收款金额",
    description: "备注",
    optional: "(可选)",
    enter_amount_hint: "输入金额后按 Enter，然后请顾客出示付款码",
    scan_now: "请扫描顾客的付款码",
    scan_now_hint: "用扫码枪扫描顾客微信中的付款码 · Esc 修改金额",
    waiting: "等待顾客确认",
    ask_password: "请顾客在手机上输入支付密码",
    contacting: "正在向微信支付确认…",
    cancelling: "正在撤销订单…",
    code: "付款码",
    order_no: "订单号",
    paid: "收款成功",
    not_charged: "未扣款",
    attention: "需要处理",
    transaction_id: "微信支付单号",
    next_sale_hint: "按 Enter 或直接输入金额开始下一笔",
    do_not_recharge: "请勿重复收款",
    history: "本班次流水",
    search: "搜索（金额或尾号）",
    no_orders: "本班次还没有订单",
    timeline: "订单记录",
    shift_title: "班次",
    open_shift: "开班",
    cashier_prompt: "请输入收银员编号后按 Enter",
    help: "帮助",
    confirm_quit: "确定退出收银程序？",
    confirm_quit_in_flight: "有一笔收款仍在确认中。退出后订单会在下次启动时继续处理。确定退出？",
    confirm_cancel: "确定取消这笔收款？订单将被撤销，顾客不会被扣款。",
    confirm_close: "确定结班并打印 Z 报表？",
    yes_no: "Enter 确定 · Esc 返回",
    quit_keys: "再按一次 Ctrl-Q 退出 · Esc 返回",
    burst_discarded: "快速输入不是付款码，已忽略：请手工慢慢输入或重新扫码",
    burst_keys_ignored: "快速输入已作为文字填入，其中的 Enter/Esc 等按键未执行",
    scan_ignored: "现在不能收款：请先输入金额并按 Enter",
    type_not_scan: "请用扫码枪扫描付款码（手工输入不能收款）",
    duplicate_scan: "同一付款码刚刚扫描过，请顾客刷新付款码",
    loading: "正在加载…",
    stats_orders: "笔",
    stats_paid: "已收",
    stats_pending: "笔待处理",
    paid_total: "实收合计",
    z_closed: "已结班",
    recovered: "上次未完成的订单已处理",
    receipt_title: " 小票 ",
    force_close_note: "未处理的订单会列在 Z 报表上",
    working: "正在处理（主管核验中）…",
    copy_sent: "已发送重印（标注“重印”）",
    fill_in_every_field: "请填写所有项目",
    not_closed: "无法结班（可先在流水中处理未完成的订单，或按 F9 由主管强制结班）：",
};

/// English.
pub const EN: Strings = Strings {
    shift: "Shift",
    cashier: "Cashier",
    scanner: "Scanner",
    connected: "ok",
    disconnected: "OFF",
    wedge: "keyboard",
    network: "Network",
    online: "ok",
    offline: "down",
    network_down_sale: "Network down: a payment now cannot reach WeChat Pay (not charged)",
    simulator: "SIMULATOR",
    live: "LIVE",
    amount_title: "Amount to charge",
    description: "Note",
    optional: "(optional)",
    enter_amount_hint: "Type the amount and press Enter, then ask for the payment code",
    scan_now: "Scan the customer's payment code",
    scan_now_hint: "Scan the code in the customer's WeChat · Esc to change the amount",
    waiting: "Waiting for the customer",
    ask_password: "Ask the customer to enter the password on the phone",
    contacting: "Confirming with WeChat Pay…",
    cancelling: "Cancelling the order…",
    code: "Code",
    order_no: "Order",
    paid: "PAID",
    not_charged: "NOT CHARGED",
    attention: "NEEDS ATTENTION",
    transaction_id: "WeChat Pay no.",
    next_sale_hint: "Enter, or just type the next amount, for the next sale",
    do_not_recharge: "Do not charge again",
    history: "This shift's orders",
    search: "Search (amount or last digits)",
    no_orders: "No orders in this shift yet",
    timeline: "Timeline",
    shift_title: "Shift",
    open_shift: "Open a shift",
    cashier_prompt: "Type the cashier id and press Enter",
    help: "Help",
    confirm_quit: "Quit the cashier?",
    confirm_quit_in_flight: "A payment is still being confirmed. It will carry on at the next start. Quit?",
    confirm_cancel: "Cancel this payment? The order will be reversed; the customer is not charged.",
    confirm_close: "Close the shift and print the Z report?",
    yes_no: "Enter yes · Esc no",
    quit_keys: "Press Ctrl-Q again to quit · Esc stay",
    burst_discarded: "Fast input, not a payment code: ignored. Type by hand or scan again",
    burst_keys_ignored: "Fast input taken as text; its Enter/Esc/F-keys did nothing",
    scan_ignored: "Not ready to charge: type the amount and press Enter first",
    type_not_scan: "Scan the code with the scanner (typed codes are not charged)",
    duplicate_scan: "That code was just scanned: ask the customer to refresh it",
    loading: "Loading…",
    stats_orders: "orders",
    stats_paid: "collected",
    stats_pending: "pending",
    paid_total: "Collected",
    z_closed: "Shift closed",
    recovered: "Orders left from the last run were settled",
    receipt_title: " receipt ",
    force_close_note: "Unsettled orders are listed on the Z report",
    working: "Working (checking the supervisor)…",
    copy_sent: "Copy sent to the printer (marked COPY)",
    fill_in_every_field: "fill in every field",
    not_closed: "Not closed (settle the open orders in History, or F9 for a supervisor's forced close): ",
};

/// The strings of a language.
pub fn strings(lang: Language) -> &'static Strings {
    match lang {
        Language::Zh => &ZH,
        Language::En => &EN,
    }
}

/// Why an amount was refused, in words.
pub fn amount_error(lang: Language, e: &AmountError) -> String {
    match (lang, e) {
        (Language::Zh, AmountError::Empty) => "请输入金额".into(),
        (Language::Zh, AmountError::Negative) => "金额不能为负数".into(),
        (Language::Zh, AmountError::Zero) => "金额必须大于零".into(),
        (Language::Zh, AmountError::TooManyDecimals) => "最多两位小数（分）".into(),
        (Language::Zh, AmountError::OverLimit { limit }) => format!("超过单笔限额 {limit}"),
        (Language::Zh, AmountError::Invalid) => "金额格式不正确，例如 12.30".into(),
        (Language::En, e) => e.to_string(),
    }
}

/// Why a scan is not a WeChat payment code, in words to tell the customer.
pub fn scan_refused(lang: Language, c: &Classified) -> String {
    match (lang, c) {
        (_, Classified::WeChat(_)) => String::new(),
        (Language::Zh, Classified::OtherWallet(w)) => format!(
            "这是{}付款码，不是微信付款码：请顾客打开微信付款码",
            w.name_zh()
        ),
        (Language::Zh, Classified::Invalid(NotACode::Empty)) => "没有读到内容，请重新扫描".into(),
        (Language::Zh, Classified::Invalid(NotACode::NotDigits)) => {
            "不是付款码（可能是商品条码或网址二维码）".into()
        }
        (Language::Zh, Classified::Invalid(NotACode::Repeated)) => "不是付款码（数字重复）".into(),
        (Language::Zh, Classified::Invalid(NotACode::UnknownFormat)) => {
            "不是微信付款码（微信付款码为 18 位数字，以 10–15 开头）".into()
        }
        (Language::En, c) => c.message_en().unwrap_or_default(),
    }
}

/// "Shift #N".
pub fn shift_label(lang: Language, id: i64) -> String {
    match lang {
        Language::Zh => format!("班次 #{id}"),
        Language::En => format!("Shift #{id}"),
    }
}

/// "32 s left · 3 queries".
pub fn countdown(lang: Language, seconds: i64, queries: u32) -> String {
    match lang {
        Language::Zh => format!("剩余 {seconds} 秒 · 已查询 {queries} 次"),
        Language::En => format!("{seconds} s left · {queries} queries"),
    }
}

/// "reversing, attempt N".
pub fn reversing(lang: Language, attempt: u32) -> String {
    match lang {
        Language::Zh => format!("正在撤销（第 {attempt} 次）"),
        Language::En => format!("reversing (attempt {attempt})"),
    }
}

/// The stats line.
pub fn stats(lang: Language, orders: i64, paid: Fen, pending: i64) -> String {
    let s = strings(lang);
    match lang {
        Language::Zh => format!(
            " 本班 {orders} {} · {} {} · {pending} {}",
            s.stats_orders,
            paid.grouped(),
            s.stats_paid,
            s.stats_pending
        ),
        Language::En => format!(
            " {orders} {} · {} {} · {pending} {}",
            s.stats_orders,
            paid.grouped(),
            s.stats_paid,
            s.stats_pending
        ),
    }
}

/// The name of an order state.
pub fn state_name(lang: Language, state: crate::engine::OrderState) -> &'static str {
    use crate::engine::OrderState::*;
    match (lang, state) {
        (Language::Zh, Pending) => "待确认",
        (Language::Zh, Userpaying) => "顾客确认中",
        (Language::Zh, Paid) => "已收款",
        (Language::Zh, Failed) => "未扣款",
        (Language::Zh, Reversed) => "已撤销",
        (Language::Zh, Unresolved) => "需处理",
        (Language::Zh, PartiallyRefunded) => "部分退款",
        (Language::Zh, Refunded) => "已退款",
        (Language::En, Pending) => "pending",
        (Language::En, Userpaying) => "confirming",
        (Language::En, Paid) => "paid",
        (Language::En, Failed) => "not charged",
        (Language::En, Reversed) => "reversed",
        (Language::En, Unresolved) => "attention",
        (Language::En, PartiallyRefunded) => "part refunded",
        (Language::En, Refunded) => "refunded",
    }
}

/// The name of a timeline event.
pub fn event_name(lang: Language, kind: &str) -> String {
    let zh = match kind {
        "created" => "创建订单",
        "pay_request" => "发出收款请求",
        "pay_answer" => "收款应答",
        "query_answer" => "查询结果",
        "reverse_request" => "发出撤销请求",
        "reverse_answer" => "撤销应答",
        "cancel" => "收银员取消",
        "resumed" => "重启后继续",
        "retry" => "重新处理",
        other => other,
    };
    let en = match kind {
        "created" => "order written",
        "pay_request" => "pay call sent",
        "pay_answer" => "pay answer",
        "query_answer" => "query answer",
        "reverse_request" => "reverse sent",
        "reverse_answer" => "reverse answer",
        "cancel" => "cashier cancel",
        "resumed" => "resumed after restart",
        "retry" => "settle again",
        other => other,
    };
    match lang {
        Language::Zh => zh.to_string(),
        Language::En => en.to_string(),
    }
}

/// Pads `s` with spaces to `width` terminal cells (CJK characters take two).
pub fn pad(s: &str, width: usize) -> String {
    let w = unicode_width::UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// Why a payment ended as it did (an order's reason), in words for the cashier.
pub fn reason(r: &Reason, lang: Language) -> String {
    use crate::money::Fen as F;
    match (lang, r) {
        (Language::Zh, Reason::Declined { zh, .. }) => zh.clone(),
        (Language::Zh, Reason::RequestRejected { code }) => format!(
            "微信支付拒绝了本机的请求签名（{code}），未扣款。请检查商户私钥文件、商户证书序列号和收银机时间，然后运行 scanpay check"
        ),
        (Language::Zh, Reason::CustomerCancelled) => "顾客取消支付或支付失败，未扣款".into(),
        (Language::Zh, Reason::NotConfirmedInTime) => {
            "顾客未在规定时间内确认，订单已撤销，未扣款".into()
        }
        (Language::Zh, Reason::CashierCancelled) => "收银员已取消，未扣款".into(),
        (Language::Zh, Reason::NoSuchOrder) => "微信支付未收到该笔支付，未扣款".into(),
        (Language::Zh, Reason::Closed) => "订单已关闭，未扣款".into(),
        (Language::Zh, Reason::NetworkDown) => "网络不通，支付请求未发出，未扣款".into(),
        (Language::Zh, Reason::MoneyReturned) => "该笔支付已成功，已撤销并原路退还顾客".into(),
        (Language::Zh, Reason::ReverseExhausted { attempts }) => format!(
            "无法确认扣款结果，已尝试撤销 {attempts} 次。请勿重复收款，请在「流水」中查看并稍后重试撤销，或联系店长。"
        ),
        (Language::Zh, Reason::ReverseRefused { code }) => {
            format!("微信支付拒绝撤销（{code}），请在商户平台核实")
        }
        (Language::Zh, Reason::AmountMismatch { ours, theirs }) => format!(
            "微信支付记录的金额为 {}，与本机 {} 不符，请在商户平台核实",
            F(*theirs),
            F(*ours)
        ),
        (Language::Zh, Reason::UnknownState { state }) => {
            format!("微信支付返回未知状态 {state}，请在商户平台核实")
        }
        (Language::En, Reason::Declined { en, .. }) => en.clone(),
        (Language::En, Reason::RequestRejected { code }) => format!(
            "WeChat Pay refused the till's request signature ({code}); not charged. Check the merchant key file, the merchant serial number and the till's clock, then run `scanpay check`"
        ),
        (Language::En, Reason::CustomerCancelled) => {
            "the customer cancelled or the payment failed on the phone; not charged".into()
        }
        (Language::En, Reason::NotConfirmedInTime) => {
            "the customer did not confirm in time; the order was cancelled, not charged".into()
        }
        (Language::En, Reason::CashierCancelled) => "cancelled by the cashier; not charged".into(),
        (Language::En, Reason::NoSuchOrder) => {
            "WeChat Pay never received the payment; not charged".into()
        }
        (Language::En, Reason::Closed) => "the order was closed; not charged".into(),
        (Language::En, Reason::NetworkDown) => {
            "network down: the payment request never left the till; not charged".into()
        }
        (Language::En, Reason::MoneyReturned) => {
            "the payment had gone through and was reversed; the money was returned to the customer"
                .into()
        }
        (Language::En, Reason::ReverseExhausted { attempts }) => format!(
            "the result could not be confirmed and cancelling failed {attempts} times; do not charge again — check History later or call the manager"
        ),
        (Language::En, Reason::ReverseRefused { code }) => format!(
            "WeChat refused to cancel the order ({code}); check it in the merchant platform"
        ),
        (Language::En, Reason::AmountMismatch { ours, theirs }) => format!(
            "WeChat reports {} for this order but the till charged {}; check it in the merchant platform",
            F(*theirs),
            F(*ours)
        ),
        (Language::En, Reason::UnknownState { state }) => {
            format!("WeChat reports an unknown state {state}; check it in the merchant platform")
        }
    }
}

/// Why a payment was refused before anything was sent.
pub fn refusal(lang: Language, r: &Refusal) -> String {
    match r {
        Refusal::Engine(r) => engine_refusal(lang, r),
        Refusal::Other(text) => text.clone(),
    }
}

/// Why the engine refused something, in the cashier's language (English is the refusal's
/// own `Display`, which the command line prints too).
pub fn engine_refusal(lang: Language, r: &crate::order::Refusal) -> String {
    use crate::order::Refusal as R;
    match lang {
        Language::En => r.to_string(),
        Language::Zh => match r {
            R::DuplicateCode { previous } => {
                format!("该付款码本班次已使用过（订单 {previous}），请顾客刷新付款码")
            }
            R::NoShiftOpen { terminal } => format!("{terminal} 没有打开的班次：请先开班再退款"),
            R::NoSuchOrder { out_trade_no } => format!("流水中没有订单 {out_trade_no}"),
            R::NotRefundable {
                out_trade_no,
                state,
            } => format!(
                "订单 {out_trade_no} 状态为「{}」：只有已收款的订单可以退款",
                state_name(lang, *state)
            ),
            R::RefundNotPositive => "退款金额必须大于零".into(),
            R::RefundExceeds { paid, left } => {
                format!("退款总额不能超过实收金额：实收 {paid}，最多还可退 {left}")
            }
            R::TooManyRefunds { limit } => format!("微信支付每笔订单最多退款 {limit} 次"),
            R::OtherApi {
                out_trade_no,
                made_over,
                configured,
            } => format!(
                "订单 {out_trade_no} 是通过微信支付 API{made_over} 下的，本收银机配置的是 API{configured}：请在 [wechatpay] 中设置 api = \"{made_over}\"（及其密钥）后再处理"
            ),
        },
    }
}

/// "N orders left from the last run were settled".
pub fn recovered(lang: Language, n: usize) -> String {
    format!("{} ({n})", strings(lang).recovered)
}

/// A passing message.
pub fn hint(lang: Language, h: &Hint) -> String {
    let s = strings(lang);
    match h {
        Hint::ScanIgnored => s.scan_ignored.into(),
        Hint::TypeNotScan => s.type_not_scan.into(),
        Hint::DuplicateScan => s.duplicate_scan.into(),
        Hint::NotACode(c) => scan_refused(lang, c),
        Hint::Refused(r) => refusal(lang, r),
        Hint::Field(name, why) => field_refusal(lang, *name, *why),
        Hint::Contacting => s.contacting.into(),
        Hint::CopySent => s.copy_sent.into(),
        Hint::Working => s.working.into(),
        Hint::Recovered(n) => recovered(lang, *n),
        Hint::BurstDiscarded => s.burst_discarded.into(),
        Hint::BurstKeysIgnored => s.burst_keys_ignored.into(),
        Hint::Text(text) => text.clone(),
        Hint::ConfigAlert => config_alert(lang).into(),
        Hint::Checking => match lang {
            Language::Zh => "正在检查配置…",
            Language::En => "checking the configuration…",
        }
        .into(),
    }
}

/// Why new sales are refused after WeChat refused this till's request signature.
pub fn config_alert(lang: Language) -> &'static str {
    match lang {
        Language::Zh => {
            "配置警报：微信支付拒绝了本机的请求签名，暂停收款。请检查商户私钥、证书序列号和收银机时间，然后按 F4 重新检查（或运行 scanpay check）"
        }
        Language::En => {
            "CONFIGURATION ALERT: WeChat Pay refused this till's request signature; sales are paused. Check the merchant key, serial number and the till's clock, then press F4 to check again (or run `scanpay check`)"
        }
    }
}

/// The configuration check's badge in the status line (`None`: not run yet, nothing shown).
pub fn check_badge(lang: Language, check: &crate::tui::app::ConfigCheck) -> Option<&'static str> {
    use crate::tui::app::ConfigCheck as C;
    Some(match (lang, check) {
        (_, C::NotRun) => return None,
        (Language::Zh, C::Running) => "配置检查中",
        (Language::En, C::Running) => "config…",
        (Language::Zh, C::Passed) => "✓ 配置",
        (Language::En, C::Passed) => "✓ config",
        (Language::Zh, C::Failed { .. }) => "✘ 配置有误",
        (Language::En, C::Failed { .. }) => "✘ config",
    })
}

/// A form field's label.
pub fn field_label(lang: Language, name: FieldName) -> &'static str {
    match (lang, name) {
        (Language::Zh, FieldName::Amount) => "退款金额",
        (Language::Zh, FieldName::Reason) => "退款原因",
        (Language::Zh, FieldName::Supervisor) => "主管编号",
        (Language::Zh, FieldName::Pin) => "主管密码",
        (Language::Zh, FieldName::Cashier) => "收银员",
        (Language::Zh, FieldName::Note) => "备注",
        (Language::En, FieldName::Amount) => "Amount",
        (Language::En, FieldName::Reason) => "Reason",
        (Language::En, FieldName::Supervisor) => "Supervisor",
        (Language::En, FieldName::Pin) => "PIN",
        (Language::En, FieldName::Cashier) => "Cashier",
        (Language::En, FieldName::Note) => "Note",
    }
}

/// Why a field did not take what was typed or pasted.
pub fn field_refusal(lang: Language, name: FieldName, why: FieldRefusal) -> String {
    let label = field_label(lang, name);
    match (lang, why) {
        (Language::Zh, FieldRefusal::DigitsOnly) => format!("{label}只能输入数字，其他字符未输入"),
        (Language::Zh, FieldRefusal::AmountChars) => {
            format!("{label}只能输入数字和小数点，其他字符未输入")
        }
        (Language::Zh, FieldRefusal::Full { max }) => {
            format!("{label}最多 {max} 个字符，多出的部分未输入")
        }
        (Language::Zh, FieldRefusal::Control) => format!("{label}不能输入控制字符"),
        (Language::En, FieldRefusal::DigitsOnly) => {
            format!("{label} takes digits only; the other characters were not taken")
        }
        (Language::En, FieldRefusal::AmountChars) => format!(
            "{label} takes digits and a decimal point only; the other characters were not taken"
        ),
        (Language::En, FieldRefusal::Full { max }) => {
            format!("{label} takes at most {max} characters; the rest was not taken")
        }
        (Language::En, FieldRefusal::Control) => {
            format!("{label} does not take control characters")
        }
    }
}

/// Why a form was not submitted.
pub fn form_error(lang: Language, e: &FormError) -> String {
    match e {
        FormError::Amount(e) => amount_error(lang, e),
        FormError::Missing(_) => strings(lang).fill_in_every_field.into(),
    }
}

/// A supervisor form's title.
pub fn form_title(lang: Language, f: &SupervisorForm) -> &'static str {
    match (lang, f) {
        (Language::Zh, SupervisorForm::Refund(_)) => "退款（需主管核准）",
        (Language::Zh, SupervisorForm::ForceClose(_)) => "强制结班（需主管核准）",
        (Language::En, SupervisorForm::Refund(_)) => "Refund (supervisor approves)",
        (Language::En, SupervisorForm::ForceClose(_)) => "Force close (supervisor approves)",
    }
}

/// What the shift screen reports.
pub fn shift_note(lang: Language, n: &ShiftNote) -> String {
    let s = strings(lang);
    match (lang, n) {
        (_, ShiftNote::Closed { z }) => format!("{} · Z #{z}", s.z_closed),
        (_, ShiftNote::NotClosed(e)) => format!("{}{e}", s.not_closed),
        (Language::Zh, ShiftNote::Reconciling { date }) => format!("正在对账 {date}…"),
        (Language::En, ShiftNote::Reconciling { date }) => format!("Reconciling {date}…"),
        (_, ShiftNote::Reconciled(text)) => text.clone(),
    }
}

/// What the result screen says under the amount (empty: nothing).
pub fn result_note(lang: Language, n: &ResultNote) -> String {
    match n {
        ResultNote::None => String::new(),
        ResultNote::Reason(r) => reason(r, lang),
        ResultNote::DoNotRecharge => strings(lang).do_not_recharge.into(),
        ResultNote::Broken(e) => e.clone(),
    }
}

/// The printer failed, with receipts waiting.
pub fn printer_failed(lang: Language, waiting: usize, error: &str) -> String {
    match lang {
        Language::Zh => format!(" ✘ 打印机：{error}（等待打印 {waiting} 张）"),
        Language::En => format!(" ✘ Printer: {error} ({waiting} waiting)"),
    }
}

/// The one line every command prints on stderr in simulator (training) mode, so a demo is
/// never taken for real money.
pub fn training_notice(lang: Language) -> &'static str {
    match lang {
        Language::Zh => "scanpay: 模拟模式（培训）：未连接微信支付，不会真实扣款",
        Language::En => {
            "scanpay: simulator (training) mode: not connected to WeChat Pay, no real money moves"
        }
    }
}

/// The simulator's help: which codes do what, and the demo supervisor.
pub fn demo_help(lang: Language) -> &'static [&'static str] {
    match lang {
        Language::Zh => &[
            "",
            "演示（模拟器）：付款码 18 位，以 10–15 开头，末两位决定顾客行为：",
            "  11 立即成功  01 需输密码（8 秒后成功）  02 顾客取消  03 一直不确认",
            "  04 余额不足  05 付款码过期  例：134567890123456711",
            "退款（流水 F7）与强制结班的演示主管：demo，密码 0000",
        ],
        Language::En => &[
            "",
            "Demo (simulator): 18-digit codes starting 10–15; the last two digits",
            "choose the customer: 11 paid at once · 01 password, paid after 8 s ·",
            "02 cancels · 03 never confirms · 04 no balance · 05 expired code",
            "Example: 134567890123456711",
            "Refunds (History, F7) and forced closes: supervisor demo, PIN 0000",
        ],
    }
}

/// What a key does, as the key bar and the help say it.
pub fn action(lang: Language, a: Action) -> &'static str {
    let (zh, en) = match a {
        Action::ConfirmAmount => ("确认", "confirm"),
        Action::ToggleField => ("备注", "note"),
        Action::Clear => ("清除", "clear"),
        Action::ChangeAmount => ("修改金额", "change amount"),
        Action::CancelPayment => (
            "取消收款（将撤销订单）",
            "cancel payment (reverses the order)",
        ),
        Action::NextSale => ("下一笔", "next sale"),
        Action::History => ("流水", "history"),
        Action::Shift => ("班次", "shift"),
        Action::Help => ("帮助", "help"),
        Action::Quit => ("退出", "quit"),
        Action::ConfirmQuit => ("退出", "quit"),
        Action::Up => ("选择", "select"),
        Action::Down => ("向下", "down"),
        Action::PageUp => ("上一页", "page up"),
        Action::PageDown => ("下一页", "page down"),
        Action::Details => ("详情", "details"),
        Action::Retry => ("重新处理", "settle again"),
        Action::CloseShift => ("结班（Z 报表）", "close shift (Z)"),
        Action::Back => ("返回", "back"),
        Action::OpenShift => ("开班", "open shift"),
        Action::Yes => ("确定", "yes"),
        Action::No => ("返回", "no"),
        Action::CancelForm => ("取消", "cancel"),
        Action::CloseHelp => ("关闭", "close"),
        Action::Reprint => ("重印", "reprint"),
        Action::Refund => ("退款", "refund"),
        Action::ForceClose => ("强制结班", "force close"),
        Action::NextField => ("下一项", "next field"),
        Action::PrevField => ("上一项", "previous field"),
        Action::Submit => ("提交", "submit"),
        Action::Reconcile => ("对账（昨日）", "reconcile yesterday"),
        Action::RunCheck => ("检查配置", "check configuration"),
    };
    match lang {
        Language::Zh => zh,
        Language::En => en,
    }
}

/// A key's name, as the help writes it.
pub fn key_name(k: Key) -> String {
    match k {
        Key::Char(c) => c.to_string(),
        Key::Enter => "Enter".into(),
        Key::Tab => "Tab".into(),
        Key::BackTab => "Shift-Tab".into(),
        Key::Esc => "Esc".into(),
        Key::Backspace => "Backspace".into(),
        Key::Up => "↑".into(),
        Key::Down => "↓".into(),
        Key::PageUp => "PgUp".into(),
        Key::PageDown => "PgDn".into(),
        Key::F(n) => format!("F{n}"),
        Key::CtrlQ => "Ctrl-Q".into(),
        Key::CtrlC => "Ctrl-C".into(),
    }
}

/// An order's outcome in words when it has no reason (paid, refunded, not known yet, …).
pub fn order_word(lang: Language, state: crate::order::OrderState) -> &'static str {
    use crate::order::OrderState as S;
    match (state, lang) {
        (S::Paid, Language::Zh) => "收款成功",
        (S::Paid, Language::En) => "paid",
        (S::Pending | S::Userpaying, Language::Zh) => "结果待确认",
        (S::Pending | S::Userpaying, Language::En) => "outcome not known yet",
        (S::PartiallyRefunded, Language::Zh) => "已部分退款",
        (S::PartiallyRefunded, Language::En) => "partially refunded",
        (S::Refunded, Language::Zh) => "已全额退款",
        (S::Refunded, Language::En) => "refunded",
        (_, Language::Zh) => "未扣款",
        (_, Language::En) => "not charged",
    }
}

/// A refund's status in words, where the status alone says it (success, still processing).
pub fn refund_word(lang: Language, status: crate::order::RefundStatus) -> Option<&'static str> {
    use crate::order::RefundStatus as S;
    Some(match (status, lang) {
        (S::Success, Language::Zh) => "退款成功",
        (S::Success, Language::En) => "refunded",
        (S::Processing | S::Created, Language::Zh) => "退款处理中：稍后由 scanpay recover 跟进",
        (S::Processing | S::Created, Language::En) => {
            "refund processing: `scanpay recover` follows it up"
        }
        _ => return None,
    })
}

/// The labels of an X/Z report's lines (the order states use [`state_name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportLabel {
    /// Paid total.
    Collected,
    /// Refunds made.
    Refunds,
    /// Refunds still processing or abnormal.
    RefundsOpen,
    /// Paid less refunds.
    Net,
    /// A cashier's line.
    Cashier,
    /// First and last order numbers.
    Range,
    /// A supervisor's forced close.
    Forced,
    /// The sub-merchant a service provider's till sells for.
    SubMerchant,
}

/// A report line's label.
pub fn report_label(lang: Language, label: ReportLabel) -> &'static str {
    use ReportLabel as L;
    let (zh, en) = match label {
        L::Collected => ("实收合计", "paid total"),
        L::Refunds => ("退款", "refunds"),
        L::RefundsOpen => ("退款处理中/异常", "refunds open"),
        L::Net => ("净收", "net"),
        L::Cashier => ("收银员", "cashier"),
        L::Range => ("订单", "orders"),
        L::Forced => ("强制结班", "FORCED CLOSE"),
        L::SubMerchant => ("特约商户", "sub-merchant"),
    };
    match lang {
        Language::Zh => zh,
        Language::En => en,
    }
}

/// The sub-merchant's label on a sale receipt (X/Z label it with [`ReportLabel::SubMerchant`]).
pub fn receipt_sub_merchant_label(lang: Language) -> &'static str {
    match lang {
        Language::Zh => "特约商户",
        Language::En => "Sub-merchant",
    }
}

/// The sub-merchant as receipts and X/Z show it after its label: its number, then its name
/// when configured (`1900000109 示例便利店`). The same in both languages.
pub fn sub_merchant(sub: &crate::order::SubMerchant) -> String {
    match &sub.name {
        Some(name) => format!("{} {name}", sub.sub_mchid),
        None => sub.sub_mchid.clone(),
    }
}

/// "approved by supervisor S; not settled:" on a forced close.
pub fn forced_by(lang: Language, supervisor: &str) -> String {
    match lang {
        Language::Zh => format!("主管 {supervisor} 核准；未处理："),
        Language::En => format!("approved by supervisor {supervisor}; not settled:"),
    }
}

/// The title of an X report.
pub fn x_title(lang: Language, shift_id: i64, cashier: &str) -> String {
    match lang {
        Language::Zh => format!("X 报表 · 班次 #{shift_id} · {cashier} · 未结班"),
        Language::En => format!("X report — shift #{shift_id} ({cashier}), not closed"),
    }
}

/// The title of a Z report.
pub fn z_title(lang: Language, z: i64, shift_id: i64) -> String {
    match lang {
        Language::Zh => format!("Z 报表 #{z} · 班次 #{shift_id}"),
        Language::En => format!("Z report #{z} — shift #{shift_id}"),
    }
}

/// One line of a payment's progress for the command line (`None` once it is over).
pub fn progress_line(lang: Language, p: &crate::engine::Progress) -> Option<String> {
    use crate::engine::micropay::Phase;
    use crate::order::OrderState;
    let no = &p.out_trade_no;
    Some(match (p.phase, p.state, lang) {
        (Phase::Done, _, _) => return None,
        (Phase::Reversing | Phase::Confirming, _, Language::Zh) => {
            format!("{no}: 正在撤销（第 {} 次）…", p.reverse_attempts)
        }
        (Phase::Reversing | Phase::Confirming, _, Language::En) => {
            format!("{no}: reversing (attempt {})…", p.reverse_attempts)
        }
        (_, OrderState::Userpaying, Language::Zh) => format!(
            "{no}: 请顾客在手机上输入支付密码（剩余 {} 秒，已查询 {} 次）",
            p.seconds_left, p.queries
        ),
        (_, OrderState::Userpaying, Language::En) => format!(
            "{no}: waiting for the customer to confirm ({} s left, {} queries)",
            p.seconds_left, p.queries
        ),
        (_, _, Language::Zh) => format!("{no}: 等待支付结果…"),
        (_, _, Language::En) => format!("{no}: waiting for the result…"),
    })
}

/// A request had left when the shift log failed: the order needs `scanpay recover` (or a
/// restart of the till, which recovers) before the customer is charged again.
pub fn unrecorded(lang: Language, reference: &str) -> String {
    match lang {
        Language::Zh => format!(
            "订单 {reference}：已向微信支付发出请求，但结果无法写入流水（磁盘已满或损坏）。顾客可能已被扣款：在运行 scanpay recover（或重启收银机）之前请勿重复收款，并联系店长。"
        ),
        Language::En => format!(
            "order {reference}: WeChat Pay was asked, but the outcome could not be written to the shift log (disk full or failing). The customer may have been charged: do not charge again until `scanpay recover` has run (or the till restarts); call the manager."
        ),
    }
}

//! Engine data → protocol requests: the only place the engine writes the wire's fields.

use super::MerchantInfo;
use crate::auth_code::AuthCode;
use crate::money::Fen;
use crate::store::orders::OrderRecord;
use crate::store::refunds::RefundRecord;
use crate::wechat::model::{
    CodepayPayer, CodepayRequest, RefundRequest, RefundRequestAmount, RequestAmount, SceneInfo,
    StoreInfo,
};

/// The most characters of `description` the codepay page allows (string[1,127]).
pub const DESCRIPTION_MAX_CHARS: usize = 127;

/// The most bytes of a refund's `reason` the refund page allows (80 bytes, UTF-8: 26 Chinese
/// characters).
pub const REASON_MAX_BYTES: usize = 80;

/// Text for a field that comes back in the trade bill: WeChat's bill is comma-separated with
/// every cell led by a backtick, so a comma becomes a full-width comma (，) and a backtick an
/// apostrophe; emoji (outside the Basic Multilingual Plane) and control characters are
/// dropped; the rest is trimmed.
fn bill_safe(s: &str) -> String {
    s.chars()
        .filter(|c| (*c as u32) <= 0xFFFF && !c.is_control())
        .map(|c| match c {
            ',' => '，',
            '`' => '\'',
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A goods description as sent: bill-safe (see above), then cut to 127 characters.
pub fn sanitize_description(s: &str) -> String {
    bill_safe(s)
        .chars()
        .take(DESCRIPTION_MAX_CHARS)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// A refund reason as sent: bill-safe, then cut to at most 80 bytes on a character boundary.
pub fn sanitize_reason(s: &str) -> String {
    let mut out = String::new();
    for c in bill_safe(s).chars() {
        if out.len() + c.len_utf8() > REASON_MAX_BYTES {
            break;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

/// The one pay call of an order.
pub(super) fn codepay(m: &MerchantInfo, order: &OrderRecord, code: &AuthCode) -> CodepayRequest {
    let mut description = sanitize_description(&order.description);
    if description.is_empty() {
        description = sanitize_description(&m.store_name);
    }
    CodepayRequest {
        appid: m.appid.clone(),
        mchid: m.mchid.clone(),
        description,
        out_trade_no: order.out_trade_no.clone(),
        attach: None,
        payer: CodepayPayer {
            auth_code: code.expose().to_string(),
        },
        amount: RequestAmount {
            total: order.amount.0,
            currency: Some("CNY".into()),
        },
        scene_info: SceneInfo {
            store_info: StoreInfo {
                out_id: Some(m.store_id.clone()),
                id: None,
            },
            device_ip: Some(m.device_ip.clone()),
            device_id: Some(m.terminal_id.clone()),
        },
    }
}

/// A refund's request (always the same out_refund_no).
pub(super) fn refund(r: &RefundRecord, order_total: Fen) -> RefundRequest {
    RefundRequest {
        transaction_id: None,
        out_trade_no: Some(r.out_trade_no.clone()),
        out_refund_no: r.out_refund_no.clone(),
        reason: Some(sanitize_reason(&r.reason)).filter(|s| !s.is_empty()),
        amount: RefundRequestAmount {
            refund: r.amount.0,
            total: order_total.0,
            currency: "CNY".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_is_cut_to_80_bytes_on_a_character_boundary() {
        let zh = "顾客不想要了".repeat(10);
        let r = sanitize_reason(&zh);
        assert!(r.len() <= REASON_MAX_BYTES, "{} bytes", r.len());
        assert_eq!(r.chars().count(), 26, "26 three-byte characters fit");
        assert!(zh.starts_with(&r));
        assert_eq!(sanitize_reason("damaged"), "damaged");
    }

    #[test]
    fn bill_fields_carry_no_commas_or_backticks() {
        let d = sanitize_description("`cola, 2 cans`😀\n");
        assert_eq!(d, "'cola， 2 cans'");
        assert!(!sanitize_reason("a,b`c").contains([',', '`']));
        assert_eq!(sanitize_description(&"长".repeat(200)).chars().count(), 127);
    }
}

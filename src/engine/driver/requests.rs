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

/// WeChat accepts 1–127 characters of the Basic Multilingual Plane: drop emoji and control
/// characters, trim, cut.
pub fn sanitize_description(s: &str) -> String {
    s.chars()
        .filter(|c| (*c as u32) <= 0xFFFF && !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(127)
        .collect()
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
        reason: Some(sanitize_description(&r.reason)).filter(|s| !s.is_empty()),
        amount: RefundRequestAmount {
            refund: r.amount.0,
            total: order_total.0,
            currency: "CNY".into(),
        },
    }
}

//! Engine data → protocol requests: the only place the engine writes the wire's fields.

use super::MerchantInfo;
use crate::auth_code::AuthCode;
use crate::config::Api;
use crate::money::Fen;
use crate::order::Refusal;
use crate::store::orders::OrderRecord;
use crate::store::refunds::RefundRecord;
use crate::wechat::PayRequest;
use crate::wechat::client::Protocol;
use crate::wechat::model::{
    CodepayPayer, CodepayRequest, RefundRequest, RefundRequestAmount, RequestAmount, SceneInfo,
    StoreInfo,
};

/// The API a client speaks, as the shift log records it.
pub fn api_of(client: &crate::wechat::Client) -> Api {
    match client.settings().protocol {
        Protocol::V3 => Api::V3,
        Protocol::V2(_) => Api::V2,
    }
}

/// An order is queried, reversed and refunded over the API it was made over, never the other
/// one: the other API's keys may be absent, and a till switched from one to the other must
/// not guess about an order it cannot read (docs/protocol.md, "APIv2 wiring": ours).
pub fn same_api(order: &OrderRecord, client: &crate::wechat::Client) -> Result<(), Refusal> {
    let configured = api_of(client);
    if order.protocol == configured {
        Ok(())
    } else {
        Err(Refusal::OtherApi {
            out_trade_no: order.out_trade_no.clone(),
            made_over: order.protocol.as_str(),
            configured: configured.as_str(),
        })
    }
}

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

/// The one pay call of an order, addressed as the till's party says (a directly connected
/// merchant's codepay, or a service provider's partner codepay for its sub-merchant).
pub(super) fn codepay(m: &MerchantInfo, order: &OrderRecord, code: &AuthCode) -> PayRequest {
    let mut description = sanitize_description(&order.description);
    if description.is_empty() {
        description = sanitize_description(&m.store_name);
    }
    let order = CodepayRequest {
        // Addressed by `PayRequest::new` below.
        appid: String::new(),
        mchid: String::new(),
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
    };
    PayRequest::new(&m.party, order)
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

    fn merchant(party: crate::wechat::Party) -> MerchantInfo {
        MerchantInfo {
            party,
            store_id: "SZ-001".into(),
            store_name: "Shop".into(),
            terminal_id: "POS01".into(),
            device_ip: "10.0.0.8".into(),
        }
    }

    fn order() -> OrderRecord {
        OrderRecord {
            id: 1,
            out_trade_no: "POS01A0001".into(),
            shift_id: 1,
            terminal_id: "POS01".into(),
            cashier: "c".into(),
            amount: Fen(100),
            description: "cola".into(),
            party: crate::order::PartyKind::Direct,
            sub_mchid: None,
            code_masked: String::new(),
            state: crate::order::OrderState::Pending,
            snapshot: String::new(),
            transaction_id: None,
            reason_code: None,
            reason: None,
            created_at: 0,
            updated_at: 0,
            protocol: Api::V3,
        }
    }

    #[test]
    fn the_pay_request_is_addressed_as_the_party_says() {
        use crate::wechat::{Party, PayRequest};
        let code = AuthCode::parse("134567890123456789").unwrap();
        let direct = Party::Direct {
            mchid: "1900000001".into(),
            appid: "wxd678efh567hg6787".into(),
        };
        match codepay(&merchant(direct), &order(), &code) {
            PayRequest::Direct(r) => {
                assert_eq!(
                    (r.mchid.as_str(), r.appid.as_str()),
                    ("1900000001", "wxd678efh567hg6787")
                );
                assert_eq!(r.out_trade_no, "POS01A0001");
            }
            other => panic!("{other:?}"),
        }
        let partner = Party::Partner {
            sp_mchid: "1230000109".into(),
            sp_appid: "wx8888888888888888".into(),
            sub_mchid: "1900000109".into(),
            sub_appid: None,
        };
        let req = codepay(&merchant(partner.clone()), &order(), &code);
        match &req {
            PayRequest::Partner(r) => {
                assert_eq!(r.sp_mchid, "1230000109");
                assert_eq!(r.sub_mchid, "1900000109");
                assert_eq!(r.sub_appid, None);
                assert_eq!(r.amount.total, 100);
                assert_eq!(r.scene_info.device_id.as_deref(), Some("POS01"));
            }
            other => panic!("{other:?}"),
        }
        let (path, _) = req.wire(&partner).unwrap();
        assert_eq!(path, "/v3/pay/partner/transactions/codepay");
    }
}

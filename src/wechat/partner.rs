//! Who the till charges for — a directly connected merchant (直连商户) or a service provider's
//! sub-merchant (服务商 / 特约商户) — and what that changes on the wire: each call's path, query
//! parameters and body fields, and which identifiers an answer must carry back.
//!
//! Sources, one per endpoint and field, are in `docs/protocol.md` "Service-provider (partner)
//! mode". In short: the pay, query and reverse calls have partner paths
//! (`/v3/pay/partner/transactions/…`) and carry `sp_mchid`/`sub_mchid` (pay and reverse also
//! `sp_appid` and the optional `sub_appid`); refund, refund query and trade bill keep their
//! paths and add `sub_mchid`. The requests are signed by the service provider (the
//! `Authorization` header's `mchid` is `sp_mchid`), with the service provider's key.
//!
//! An answer that names another merchant than the request did is not a result: it is
//! [`ApiError::WrongParty`], whatever its signature (a signed answer about someone else's
//! order still says nothing about ours).

use serde::Serialize;

use super::bill::BillType;
use super::client::{ApiError, path_segment};
use super::model::{
    CodepayPayer, CodepayRequest, RefundRequest, RequestAmount, ReverseAnswer, SceneInfo,
    Transaction,
};
use crate::auth_code::Masked;

/// The party a till acts for. Built from the configuration by `crate::connect::client_settings`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Party {
    /// A directly connected merchant (普通商户).
    Direct {
        /// The merchant id (`mchid`).
        mchid: String,
        /// The merchant's AppID (`appid`).
        appid: String,
    },
    /// A service provider (普通服务商) charging for one of its sub-merchants (特约商户).
    Partner {
        /// The service provider's merchant id (`sp_mchid`); it signs every request.
        sp_mchid: String,
        /// The service provider's AppID (`sp_appid`).
        sp_appid: String,
        /// The sub-merchant's id (`sub_mchid`).
        sub_mchid: String,
        /// The sub-merchant's AppID (`sub_appid`), when it has one bound.
        sub_appid: Option<String>,
    },
}

/// Which order a query names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRef<'a> {
    /// By merchant order number.
    OutTradeNo(&'a str),
    /// By WeChat Pay order number.
    TransactionId(&'a str),
}

impl Party {
    /// The merchant id that signs requests (`Authorization: … mchid="…"`): the merchant's own,
    /// or the service provider's.
    pub fn signing_mchid(&self) -> &str {
        match self {
            Party::Direct { mchid, .. } => mchid,
            Party::Partner { sp_mchid, .. } => sp_mchid,
        }
    }

    /// The sub-merchant, in service-provider mode.
    pub fn sub_mchid(&self) -> Option<&str> {
        match self {
            Party::Direct { .. } => None,
            Party::Partner { sub_mchid, .. } => Some(sub_mchid),
        }
    }

    /// The pay call's path.
    pub fn pay_path(&self) -> &'static str {
        match self {
            Party::Direct { .. } => "/v3/pay/transactions/codepay",
            Party::Partner { .. } => "/v3/pay/partner/transactions/codepay",
        }
    }

    /// The order query's path and query string.
    pub fn query_path(&self, order: OrderRef<'_>) -> Result<String, ApiError> {
        let (kind, id) = match order {
            OrderRef::OutTradeNo(no) => ("out-trade-no", path_segment(no)?),
            OrderRef::TransactionId(id) => ("id", path_segment(id)?),
        };
        Ok(match self {
            Party::Direct { mchid, .. } => format!(
                "/v3/pay/transactions/{kind}/{id}?mchid={}",
                path_segment(mchid)?
            ),
            Party::Partner {
                sp_mchid,
                sub_mchid,
                ..
            } => format!(
                "/v3/pay/partner/transactions/{kind}/{id}?sp_mchid={}&sub_mchid={}",
                path_segment(sp_mchid)?,
                path_segment(sub_mchid)?
            ),
        })
    }

    /// The reverse call's path.
    pub fn reverse_path(&self, out_trade_no: &str) -> Result<String, ApiError> {
        let no = path_segment(out_trade_no)?;
        Ok(match self {
            Party::Direct { .. } => format!("/v3/pay/transactions/out-trade-no/{no}/reverse"),
            Party::Partner { .. } => {
                format!("/v3/pay/partner/transactions/out-trade-no/{no}/reverse")
            }
        })
    }

    /// The reverse call's body.
    pub fn reverse_body(&self) -> Result<Vec<u8>, ApiError> {
        let body = match self {
            Party::Direct { mchid, appid } => serde_json::to_vec(&DirectReverse { appid, mchid }),
            Party::Partner {
                sp_mchid,
                sp_appid,
                sub_mchid,
                sub_appid,
            } => serde_json::to_vec(&PartnerReverse {
                sp_appid,
                sp_mchid,
                sub_appid: sub_appid.as_deref(),
                sub_mchid,
            }),
        };
        body.map_err(|e| ApiError::Request(e.to_string()))
    }

    /// The refund call's body: the request, led by `sub_mchid` in service-provider mode.
    pub fn refund_body(&self, req: &RefundRequest) -> Result<Vec<u8>, ApiError> {
        let body = match self {
            Party::Direct { .. } => serde_json::to_vec(req),
            Party::Partner { sub_mchid, .. } => serde_json::to_vec(&PartnerRefund {
                sub_mchid,
                request: req,
            }),
        };
        body.map_err(|e| ApiError::Request(e.to_string()))
    }

    /// The refund query's path (and, in service-provider mode, query string).
    pub fn refund_query_path(&self, out_refund_no: &str) -> Result<String, ApiError> {
        let no = path_segment(out_refund_no)?;
        Ok(match self {
            Party::Direct { .. } => format!("/v3/refund/domestic/refunds/{no}"),
            Party::Partner { sub_mchid, .. } => format!(
                "/v3/refund/domestic/refunds/{no}?sub_mchid={}",
                path_segment(sub_mchid)?
            ),
        })
    }

    /// The trade bill's path and query string; `bill_date` is already checked (YYYY-MM-DD).
    /// A service provider names its sub-merchant: without `sub_mchid` the bill would be every
    /// sub-merchant's.
    pub fn trade_bill_path(
        &self,
        bill_date: &str,
        bill_type: BillType,
    ) -> Result<String, ApiError> {
        Ok(match self {
            Party::Direct { .. } => format!(
                "/v3/bill/tradebill?bill_date={bill_date}&bill_type={}",
                bill_type.as_query()
            ),
            Party::Partner { sub_mchid, .. } => format!(
                "/v3/bill/tradebill?bill_date={bill_date}&sub_mchid={}&bill_type={}",
                path_segment(sub_mchid)?,
                bill_type.as_query()
            ),
        })
    }

    /// Checks that an order answer (pay 200, query) is about this party's order.
    pub fn check_transaction(&self, t: &Transaction) -> Result<(), ApiError> {
        self.check(&Named {
            mchid: t.mchid.as_deref(),
            appid: t.appid.as_deref(),
            sp_mchid: t.sp_mchid.as_deref(),
            sp_appid: t.sp_appid.as_deref(),
            sub_mchid: t.sub_mchid.as_deref(),
            sub_appid: t.sub_appid.as_deref(),
        })
    }

    /// Checks that a reverse answer (200 with a body) is about this party's order.
    pub fn check_reverse(&self, a: &ReverseAnswer) -> Result<(), ApiError> {
        self.check(&Named {
            mchid: a.mchid.as_deref(),
            appid: a.appid.as_deref(),
            sp_mchid: a.sp_mchid.as_deref(),
            sp_appid: a.sp_appid.as_deref(),
            sub_mchid: a.sub_mchid.as_deref(),
            sub_appid: a.sub_appid.as_deref(),
        })
    }

    /// The rule (docs/protocol.md "Service-provider (partner) mode", answer checks):
    /// - direct: `mchid`/`appid`, when present, are ours; no `sp_*`/`sub_*` field at all;
    /// - partner: `sp_mchid` and `sub_mchid` are present (the pages mark them required) and
    ///   ours; `sp_appid`, when present, ours; `sub_appid` is returned only when it was sent
    ///   ("若下单未传该参数，则不会返回"), so present it must be the one we sent, and we must
    ///   have sent one; no direct `mchid`.
    fn check(&self, got: &Named<'_>) -> Result<(), ApiError> {
        let wrong = |field: &'static str, expected: Option<&str>, got: Option<&str>| {
            Err(ApiError::WrongParty {
                field,
                expected: expected.map(str::to_string),
                got: got.map(str::to_string),
            })
        };
        match self {
            Party::Direct { mchid, appid } => {
                if got.mchid.is_some_and(|m| m != mchid) {
                    return wrong("mchid", Some(mchid), got.mchid);
                }
                if got.appid.is_some_and(|a| a != appid) {
                    return wrong("appid", Some(appid), got.appid);
                }
                for (field, v) in [
                    ("sp_mchid", got.sp_mchid),
                    ("sp_appid", got.sp_appid),
                    ("sub_mchid", got.sub_mchid),
                    ("sub_appid", got.sub_appid),
                ] {
                    if v.is_some() {
                        return wrong(field, None, v);
                    }
                }
                Ok(())
            }
            Party::Partner {
                sp_mchid,
                sp_appid,
                sub_mchid,
                sub_appid,
            } => {
                if got.sp_mchid != Some(sp_mchid.as_str()) {
                    return wrong("sp_mchid", Some(sp_mchid), got.sp_mchid);
                }
                if got.sub_mchid != Some(sub_mchid.as_str()) {
                    return wrong("sub_mchid", Some(sub_mchid), got.sub_mchid);
                }
                if got.sp_appid.is_some_and(|a| a != sp_appid) {
                    return wrong("sp_appid", Some(sp_appid), got.sp_appid);
                }
                if got.sub_appid.is_some() && got.sub_appid != sub_appid.as_deref() {
                    return wrong("sub_appid", sub_appid.as_deref(), got.sub_appid);
                }
                if got.mchid.is_some() {
                    return wrong("mchid", None, got.mchid);
                }
                Ok(())
            }
        }
    }
}

/// The identifiers an answer names.
struct Named<'a> {
    mchid: Option<&'a str>,
    appid: Option<&'a str>,
    sp_mchid: Option<&'a str>,
    sp_appid: Option<&'a str>,
    sub_mchid: Option<&'a str>,
    sub_appid: Option<&'a str>,
}

#[derive(Serialize)]
struct DirectReverse<'a> {
    appid: &'a str,
    mchid: &'a str,
}

/// Field order as on the partner reverse page.
#[derive(Serialize)]
struct PartnerReverse<'a> {
    sp_appid: &'a str,
    sp_mchid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_appid: Option<&'a str>,
    sub_mchid: &'a str,
}

#[derive(Serialize)]
struct PartnerRefund<'a> {
    sub_mchid: &'a str,
    #[serde(flatten)]
    request: &'a RefundRequest,
}

/// `POST /v3/pay/partner/transactions/codepay` body. Field order matches the official example.
#[derive(Clone, Serialize)]
pub struct PartnerCodepayRequest {
    /// The service provider's AppID.
    pub sp_appid: String,
    /// The service provider's merchant id.
    pub sp_mchid: String,
    /// The sub-merchant's AppID (optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_appid: Option<String>,
    /// The sub-merchant's id.
    pub sub_mchid: String,
    /// Goods description (BMP characters only, ≤ 127).
    pub description: String,
    /// Merchant order number.
    pub out_trade_no: String,
    /// Echoed back in queries once paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// The payer's payment code.
    pub payer: CodepayPayer,
    /// The amount.
    pub amount: RequestAmount,
    /// Where the customer pays.
    pub scene_info: SceneInfo,
}

impl std::fmt::Debug for PartnerCodepayRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerCodepayRequest")
            .field("sub_mchid", &self.sub_mchid)
            .field("out_trade_no", &self.out_trade_no)
            .field("amount", &self.amount.total)
            .field("auth_code", &Masked::of(&self.payer.auth_code))
            .finish_non_exhaustive()
    }
}

/// The pay call's body, for either party.
#[derive(Clone, Debug)]
pub enum PayRequest {
    /// `POST /v3/pay/transactions/codepay`.
    Direct(CodepayRequest),
    /// `POST /v3/pay/partner/transactions/codepay`.
    Partner(PartnerCodepayRequest),
}

impl PayRequest {
    /// The order's content (description, number, code, amount, scene) addressed as `party`
    /// says: the `appid`/`mchid` of `order` are replaced by the party's identifiers.
    pub fn new(party: &Party, order: CodepayRequest) -> PayRequest {
        match party {
            Party::Direct { mchid, appid } => PayRequest::Direct(CodepayRequest {
                appid: appid.clone(),
                mchid: mchid.clone(),
                ..order
            }),
            Party::Partner {
                sp_mchid,
                sp_appid,
                sub_mchid,
                sub_appid,
            } => PayRequest::Partner(PartnerCodepayRequest {
                sp_appid: sp_appid.clone(),
                sp_mchid: sp_mchid.clone(),
                sub_appid: sub_appid.clone(),
                sub_mchid: sub_mchid.clone(),
                description: order.description,
                out_trade_no: order.out_trade_no,
                attach: order.attach,
                payer: order.payer,
                amount: order.amount,
                scene_info: order.scene_info,
            }),
        }
    }

    /// The merchant order number.
    pub fn out_trade_no(&self) -> &str {
        match self {
            PayRequest::Direct(r) => &r.out_trade_no,
            PayRequest::Partner(r) => &r.out_trade_no,
        }
    }

    /// The request's path and body for a client acting for `party`. A request of the other
    /// kind (a direct request to a service provider's client, or the reverse) is refused,
    /// never sent: its path and its answer check would disagree. The identifiers themselves
    /// are the request's (the engine addresses it with [`PayRequest::new`]; the simulator's
    /// tests send wrong ones on purpose); the answer is checked against the client's party.
    pub fn wire(&self, party: &Party) -> Result<(&'static str, Vec<u8>), ApiError> {
        let same_kind = matches!(
            (self, party),
            (PayRequest::Direct(_), Party::Direct { .. })
                | (PayRequest::Partner(_), Party::Partner { .. })
        );
        if !same_kind {
            return Err(ApiError::Request(
                "a direct merchant's pay request cannot go through a service provider's client, \
                 nor the reverse"
                    .into(),
            ));
        }
        let body = match self {
            PayRequest::Direct(r) => serde_json::to_vec(r),
            PayRequest::Partner(r) => serde_json::to_vec(r),
        }
        .map_err(|e| ApiError::Request(e.to_string()))?;
        Ok((party.pay_path(), body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::model::{RefundRequestAmount, StoreInfo, TradeState};

    fn direct() -> Party {
        Party::Direct {
            mchid: "1900000001".into(),
            appid: "wxd678efh567hg6787".into(),
        }
    }

    fn partner(sub_appid: Option<&str>) -> Party {
        Party::Partner {
            sp_mchid: "1230000109".into(),
            sp_appid: "wx8888888888888888".into(),
            sub_mchid: "1900000109".into(),
            sub_appid: sub_appid.map(str::to_string),
        }
    }

    fn order() -> CodepayRequest {
        CodepayRequest {
            appid: String::new(),
            mchid: String::new(),
            description: "cola".into(),
            out_trade_no: "POS01A1".into(),
            attach: None,
            payer: CodepayPayer {
                auth_code: "134567890123456789".into(),
            },
            amount: RequestAmount {
                total: 100,
                currency: Some("CNY".into()),
            },
            scene_info: SceneInfo {
                store_info: StoreInfo {
                    out_id: Some("SZ-001".into()),
                    id: None,
                },
                device_ip: Some("10.0.0.8".into()),
                device_id: Some("POS01".into()),
            },
        }
    }

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn pay_path_and_body_in_both_modes() {
        let tail = r#""description":"cola","out_trade_no":"POS01A1","payer":{"auth_code":"134567890123456789"},"amount":{"total":100,"currency":"CNY"},"scene_info":{"store_info":{"out_id":"SZ-001"},"device_ip":"10.0.0.8","device_id":"POS01"}}"#;
        let (path, body) = PayRequest::new(&direct(), order()).wire(&direct()).unwrap();
        assert_eq!(path, "/v3/pay/transactions/codepay");
        assert_eq!(
            text(body),
            format!(r#"{{"appid":"wxd678efh567hg6787","mchid":"1900000001",{tail}"#)
        );
        let p = partner(Some("wxd678efh567hg6787"));
        let (path, body) = PayRequest::new(&p, order()).wire(&p).unwrap();
        assert_eq!(path, "/v3/pay/partner/transactions/codepay");
        assert_eq!(
            text(body),
            format!(
                r#"{{"sp_appid":"wx8888888888888888","sp_mchid":"1230000109","sub_appid":"wxd678efh567hg6787","sub_mchid":"1900000109",{tail}"#
            )
        );
        let p = partner(None);
        let (_, body) = PayRequest::new(&p, order()).wire(&p).unwrap();
        assert_eq!(
            text(body),
            format!(
                r#"{{"sp_appid":"wx8888888888888888","sp_mchid":"1230000109","sub_mchid":"1900000109",{tail}"#
            )
        );
    }

    #[test]
    fn a_pay_request_for_the_other_kind_of_party_is_not_sent() {
        let to_partner = PayRequest::new(&partner(None), order());
        assert!(matches!(
            to_partner.wire(&direct()),
            Err(ApiError::Request(_))
        ));
        let to_direct = PayRequest::new(&direct(), order());
        assert!(matches!(
            to_direct.wire(&partner(None)),
            Err(ApiError::Request(_))
        ));
        let debug = format!("{:?}", to_partner);
        assert!(!debug.contains("134567890123456789"), "{debug}");
    }

    #[test]
    fn query_paths_in_both_modes() {
        assert_eq!(
            direct()
                .query_path(OrderRef::OutTradeNo("POS01A1"))
                .unwrap(),
            "/v3/pay/transactions/out-trade-no/POS01A1?mchid=1900000001"
        );
        assert_eq!(
            direct()
                .query_path(OrderRef::TransactionId("4200000001"))
                .unwrap(),
            "/v3/pay/transactions/id/4200000001?mchid=1900000001"
        );
        assert_eq!(
            partner(None)
                .query_path(OrderRef::OutTradeNo("POS01A1"))
                .unwrap(),
            "/v3/pay/partner/transactions/out-trade-no/POS01A1?sp_mchid=1230000109&sub_mchid=1900000109"
        );
        assert_eq!(
            partner(None)
                .query_path(OrderRef::TransactionId("4200000001"))
                .unwrap(),
            "/v3/pay/partner/transactions/id/4200000001?sp_mchid=1230000109&sub_mchid=1900000109"
        );
        assert!(matches!(
            partner(None).query_path(OrderRef::OutTradeNo("a/b")),
            Err(ApiError::Request(_))
        ));
    }

    #[test]
    fn reverse_path_and_body_in_both_modes() {
        assert_eq!(
            direct().reverse_path("POS01A1").unwrap(),
            "/v3/pay/transactions/out-trade-no/POS01A1/reverse"
        );
        assert_eq!(
            text(direct().reverse_body().unwrap()),
            r#"{"appid":"wxd678efh567hg6787","mchid":"1900000001"}"#
        );
        assert_eq!(
            partner(None).reverse_path("POS01A1").unwrap(),
            "/v3/pay/partner/transactions/out-trade-no/POS01A1/reverse"
        );
        assert_eq!(
            text(partner(None).reverse_body().unwrap()),
            r#"{"sp_appid":"wx8888888888888888","sp_mchid":"1230000109","sub_mchid":"1900000109"}"#
        );
        assert_eq!(
            text(partner(Some("wxd678efh567hg6787")).reverse_body().unwrap()),
            r#"{"sp_appid":"wx8888888888888888","sp_mchid":"1230000109","sub_appid":"wxd678efh567hg6787","sub_mchid":"1900000109"}"#
        );
    }

    #[test]
    fn refund_body_refund_query_and_bill_in_both_modes() {
        let req = RefundRequest {
            transaction_id: None,
            out_trade_no: Some("POS01A1".into()),
            out_refund_no: "POS01R1".into(),
            reason: None,
            amount: RefundRequestAmount {
                refund: 50,
                total: 100,
                currency: "CNY".into(),
            },
        };
        let rest = r#""out_trade_no":"POS01A1","out_refund_no":"POS01R1","amount":{"refund":50,"total":100,"currency":"CNY"}}"#;
        assert_eq!(
            text(direct().refund_body(&req).unwrap()),
            format!("{{{rest}")
        );
        assert_eq!(
            text(partner(None).refund_body(&req).unwrap()),
            format!(r#"{{"sub_mchid":"1900000109",{rest}"#)
        );
        assert_eq!(
            direct().refund_query_path("POS01R1").unwrap(),
            "/v3/refund/domestic/refunds/POS01R1"
        );
        assert_eq!(
            partner(None).refund_query_path("POS01R1").unwrap(),
            "/v3/refund/domestic/refunds/POS01R1?sub_mchid=1900000109"
        );
        assert_eq!(
            direct()
                .trade_bill_path("2026-11-29", BillType::All)
                .unwrap(),
            "/v3/bill/tradebill?bill_date=2026-11-29&bill_type=ALL"
        );
        assert_eq!(
            partner(None)
                .trade_bill_path("2026-11-29", BillType::All)
                .unwrap(),
            "/v3/bill/tradebill?bill_date=2026-11-29&sub_mchid=1900000109&bill_type=ALL"
        );
        assert_eq!(direct().signing_mchid(), "1900000001");
        assert_eq!(partner(None).signing_mchid(), "1230000109");
    }

    fn answer(json: &str) -> Transaction {
        serde_json::from_str(json).unwrap()
    }

    fn wrong_field(r: Result<(), ApiError>) -> &'static str {
        match r {
            Err(ApiError::WrongParty { field, .. }) => field,
            other => panic!("expected WrongParty, got {other:?}"),
        }
    }

    #[test]
    fn partner_answers_must_name_our_provider_and_sub_merchant() {
        let ok = r#"{"sp_appid":"wx8888888888888888","sp_mchid":"1230000109","sub_mchid":"1900000109","out_trade_no":"POS01A1","trade_state":"SUCCESS"}"#;
        let t = answer(ok);
        assert_eq!(t.trade_state, TradeState::Success);
        partner(None).check_transaction(&t).unwrap();
        let with_sub_appid = ok.replace(
            r#""sub_mchid""#,
            r#""sub_appid":"wxd678efh567hg6787","sub_mchid""#,
        );
        partner(Some("wxd678efh567hg6787"))
            .check_transaction(&answer(&with_sub_appid))
            .unwrap();
        // sub_appid comes back only when sent: unasked, or another one, it is not our order.
        assert_eq!(
            wrong_field(partner(None).check_transaction(&answer(&with_sub_appid))),
            "sub_appid"
        );
        assert_eq!(
            wrong_field(
                partner(Some("wx0000000000000001")).check_transaction(&answer(&with_sub_appid))
            ),
            "sub_appid"
        );
        let other_sub = ok.replace("1900000109", "1900000110");
        assert_eq!(
            wrong_field(partner(None).check_transaction(&answer(&other_sub))),
            "sub_mchid"
        );
        let other_sp = ok.replace("1230000109", "1230000110");
        assert_eq!(
            wrong_field(partner(None).check_transaction(&answer(&other_sp))),
            "sp_mchid"
        );
        let other_app = ok.replace("wx8888888888888888", "wx8888888888888889");
        assert_eq!(
            wrong_field(partner(None).check_transaction(&answer(&other_app))),
            "sp_appid"
        );
        let missing_sub = r#"{"sp_mchid":"1230000109","trade_state":"SUCCESS"}"#;
        assert_eq!(
            wrong_field(partner(None).check_transaction(&answer(missing_sub))),
            "sub_mchid"
        );
        // A direct merchant's answer is not a partner answer.
        let direct_shape =
            r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","trade_state":"SUCCESS"}"#;
        assert_eq!(
            wrong_field(partner(None).check_transaction(&answer(direct_shape))),
            "sp_mchid"
        );
    }

    #[test]
    fn direct_answers_must_name_our_merchant_and_no_sub_merchant() {
        let ok = r#"{"appid":"wxd678efh567hg6787","mchid":"1900000001","trade_state":"NOTPAY"}"#;
        direct().check_transaction(&answer(ok)).unwrap();
        direct()
            .check_transaction(&answer(r#"{"trade_state":"NOTPAY"}"#))
            .unwrap();
        assert_eq!(
            wrong_field(
                direct().check_transaction(&answer(&ok.replace("1900000001", "1900000002")))
            ),
            "mchid"
        );
        assert_eq!(
            wrong_field(direct().check_transaction(&answer(&ok.replace("wxd678", "wxd679")))),
            "appid"
        );
        let partner_shape =
            r#"{"sp_mchid":"1900000001","sub_mchid":"1900000109","trade_state":"NOTPAY"}"#;
        assert_eq!(
            wrong_field(direct().check_transaction(&answer(partner_shape))),
            "sp_mchid"
        );
    }

    #[test]
    fn reverse_answers_are_checked_the_same_way() {
        let ok: ReverseAnswer = serde_json::from_str(
            r#"{"sp_appid":"wx8888888888888888","sp_mchid":"1230000109","sub_mchid":"1900000109","out_trade_no":"POS01A1"}"#,
        )
        .unwrap();
        partner(None).check_reverse(&ok).unwrap();
        assert_eq!(wrong_field(direct().check_reverse(&ok)), "sp_mchid");
        let other: ReverseAnswer = serde_json::from_str(
            r#"{"sp_appid":"wx8888888888888888","sp_mchid":"1230000109","sub_mchid":"1900000999","out_trade_no":"POS01A1"}"#,
        )
        .unwrap();
        assert_eq!(
            wrong_field(partner(None).check_reverse(&other)),
            "sub_mchid"
        );
        let direct_ok: ReverseAnswer = serde_json::from_str(
            r#"{"appid":"wxd678efh567hg6787","mchid":"1900000001","out_trade_no":"POS01A1"}"#,
        )
        .unwrap();
        direct().check_reverse(&direct_ok).unwrap();
        assert_eq!(
            wrong_field(partner(None).check_reverse(&direct_ok)),
            "sp_mchid"
        );
    }
}

//! Typed APIv2 requests, serialised to the sorted, signed XML (protocol reference §9.3–§9.4;
//! `docs/protocol.md`, "APIv2 (XML)").
//!
//! Every request carries `appid`, `mch_id`, `nonce_str` and `sign`; `sign_type` is sent only for
//! `HMAC-SHA256` (the service takes `MD5` when it is absent). Optional fields that are `None`
//! or empty are left out of both the XML and the signature. The nonce is an argument so that
//! the output is a pure function of the inputs; [`nonce`] makes a fresh one.

use super::Fields;
use super::sign::{self, ApiKey, SIGN_FIELD, SIGN_TYPE_FIELD, SignType};
use super::xml::{self, XmlError};

/// Who is asking: the AppID and merchant number every request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merchant {
    /// `appid`.
    pub appid: String,
    /// `mch_id`.
    pub mch_id: String,
}

/// Why a request could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// A required field is empty.
    #[error("field {0} is required")]
    Missing(&'static str),
    /// A field is longer than the documented maximum (in bytes).
    #[error("field {field} is longer than {max} bytes")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its documented maximum.
        max: usize,
    },
    /// A field not in its documented format.
    #[error("field {0} is not in the documented format")]
    Format(&'static str),
    /// An amount of zero fen.
    #[error("field {0} must be at least 1 fen")]
    ZeroAmount(&'static str),
    /// The XML could not be written.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// No randomness for the nonce.
    #[error("no random numbers for the nonce")]
    Random,
}

/// One APIv2 call: its path, whether it needs the client certificate, and its own fields.
pub trait V2Request {
    /// Path under the API host, e.g. `/pay/micropay`.
    const PATH: &'static str;
    /// Whether the call must be sent with the merchant's client certificate (`/secapi/*`).
    const CLIENT_CERT: bool;
    /// The call's own fields (not `appid`, `mch_id`, `nonce_str`, `sign_type`, `sign`),
    /// checked against the documented limits.
    fn fields(&self) -> Result<Fields, RequestError>;
}

/// The full signed field set of `request` (what [`signed_xml`] writes).
pub fn signed_fields<R: V2Request>(
    request: &R,
    merchant: &Merchant,
    nonce: &str,
    key: &ApiKey,
    sign_type: SignType,
) -> Result<Fields, RequestError> {
    let mut f = request.fields()?;
    put(&mut f, "appid", &merchant.appid, 32)?;
    put(&mut f, "mch_id", &merchant.mch_id, 32)?;
    put(&mut f, "nonce_str", nonce, 32)?;
    // Values are sent and signed trimmed, and blank ones left out: the official SDK trims when
    // it signs and when it writes (`WXPayUtil.generateSignature`, `mapToXml`), WxJava does not,
    // so only a trimmed value reads the same under both.
    for v in f.values_mut() {
        let t = v.trim();
        if t.len() != v.len() {
            *v = t.to_string();
        }
    }
    f.retain(|_, v| !v.is_empty());
    if sign_type != SignType::Md5 {
        f.insert(SIGN_TYPE_FIELD.into(), sign_type.as_str().into());
    }
    let s = sign::sign(&f, key, sign_type);
    f.insert(SIGN_FIELD.into(), s);
    Ok(f)
}

/// The request body: the signed fields as `<xml>…</xml>`, sorted, every value in CDATA.
pub fn signed_xml<R: V2Request>(
    request: &R,
    merchant: &Merchant,
    nonce: &str,
    key: &ApiKey,
    sign_type: SignType,
) -> Result<String, RequestError> {
    let f = signed_fields(request, merchant, nonce, key, sign_type)?;
    Ok(xml::write(&f)?)
}

/// A fresh `nonce_str`: 32 random letters and digits.
pub fn nonce() -> Result<String, RequestError> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(32);
    while out.len() < 32 {
        let mut buf = [0u8; 32];
        aws_lc_rs::rand::fill(&mut buf).map_err(|_| RequestError::Random)?;
        // 62 * 4 = 248: bytes at or above it are dropped so every letter is equally likely.
        for b in buf.into_iter().filter(|b| *b < 248) {
            if out.len() < 32 {
                out.push(ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

fn put(f: &mut Fields, name: &'static str, value: &str, max: usize) -> Result<(), RequestError> {
    if value.is_empty() {
        return Err(RequestError::Missing(name));
    }
    put_opt(f, name, Some(value), max)
}

fn put_opt(
    f: &mut Fields,
    name: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<(), RequestError> {
    match value {
        Some(v) if !v.is_empty() => {
            if v.len() > max {
                return Err(RequestError::TooLong { field: name, max });
            }
            f.insert(name.into(), v.into());
            Ok(())
        }
        _ => Ok(()),
    }
}

fn put_fen(f: &mut Fields, name: &'static str, fen: u64) -> Result<(), RequestError> {
    if fen == 0 {
        return Err(RequestError::ZeroAmount(name));
    }
    f.insert(name.into(), fen.to_string());
    Ok(())
}

/// Which order a query, reverse or refund is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderRef {
    /// WeChat's `transaction_id` (preferred by the service when both are known).
    TransactionId(String),
    /// Our `out_trade_no`.
    OutTradeNo(String),
}

impl OrderRef {
    fn put(&self, f: &mut Fields) -> Result<(), RequestError> {
        match self {
            OrderRef::TransactionId(id) => put(f, "transaction_id", id, 32),
            OrderRef::OutTradeNo(no) => put(f, "out_trade_no", no, 32),
        }
    }
}

/// `POST /pay/micropay` (提交付款码支付), §9.3.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Micropay {
    /// `body`* (128): what is sold.
    pub body: String,
    /// `out_trade_no`* (32).
    pub out_trade_no: String,
    /// `total_fee`*: fen.
    pub total_fee: u64,
    /// `spbill_create_ip`* (64): the till's IP address.
    pub spbill_create_ip: String,
    /// `auth_code`* (128): the scanned payment code.
    pub auth_code: String,
    /// `device_info` (32): the till's id.
    pub device_info: Option<String>,
    /// `detail` (6000): goods detail JSON.
    pub detail: Option<String>,
    /// `attach` (127): returned as given.
    pub attach: Option<String>,
    /// `fee_type` (16): `CNY` when absent.
    pub fee_type: Option<String>,
    /// `goods_tag` (32).
    pub goods_tag: Option<String>,
    /// `limit_pay` (32): `no_credit` forbids credit cards.
    pub limit_pay: Option<String>,
    /// `time_start` (14): `yyyyMMddHHmmss`, Beijing time.
    pub time_start: Option<String>,
    /// `time_expire` (14): `yyyyMMddHHmmss`, Beijing time.
    pub time_expire: Option<String>,
    /// `receipt` (8): `Y` to offer an e-invoice.
    pub receipt: Option<String>,
    /// `scene_info` (256): store JSON.
    pub scene_info: Option<String>,
}

impl V2Request for Micropay {
    const PATH: &'static str = "/pay/micropay";
    const CLIENT_CERT: bool = false;
    fn fields(&self) -> Result<Fields, RequestError> {
        let mut f = Fields::new();
        put(&mut f, "body", &self.body, 128)?;
        put(&mut f, "out_trade_no", &self.out_trade_no, 32)?;
        put_fen(&mut f, "total_fee", self.total_fee)?;
        put(&mut f, "spbill_create_ip", &self.spbill_create_ip, 64)?;
        put(&mut f, "auth_code", &self.auth_code, 128)?;
        put_opt(&mut f, "device_info", self.device_info.as_deref(), 32)?;
        put_opt(&mut f, "detail", self.detail.as_deref(), 6000)?;
        put_opt(&mut f, "attach", self.attach.as_deref(), 127)?;
        put_opt(&mut f, "fee_type", self.fee_type.as_deref(), 16)?;
        put_opt(&mut f, "goods_tag", self.goods_tag.as_deref(), 32)?;
        put_opt(&mut f, "limit_pay", self.limit_pay.as_deref(), 32)?;
        put_opt(&mut f, "time_start", self.time_start.as_deref(), 14)?;
        put_opt(&mut f, "time_expire", self.time_expire.as_deref(), 14)?;
        put_opt(&mut f, "receipt", self.receipt.as_deref(), 8)?;
        put_opt(&mut f, "scene_info", self.scene_info.as_deref(), 256)?;
        Ok(f)
    }
}

/// `POST /pay/orderquery`, §9.4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderQuery {
    /// The order.
    pub order: OrderRef,
}

impl V2Request for OrderQuery {
    const PATH: &'static str = "/pay/orderquery";
    const CLIENT_CERT: bool = false;
    fn fields(&self) -> Result<Fields, RequestError> {
        let mut f = Fields::new();
        self.order.put(&mut f)?;
        Ok(f)
    }
}

/// `POST /secapi/pay/reverse` (client certificate), §9.4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reverse {
    /// The order.
    pub order: OrderRef,
}

impl V2Request for Reverse {
    const PATH: &'static str = "/secapi/pay/reverse";
    const CLIENT_CERT: bool = true;
    fn fields(&self) -> Result<Fields, RequestError> {
        let mut f = Fields::new();
        self.order.put(&mut f)?;
        Ok(f)
    }
}

/// `POST /secapi/pay/refund` (client certificate), §9.4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    /// The paid order.
    pub order: OrderRef,
    /// `out_refund_no`* (64): reuse it for every retry of the same refund.
    pub out_refund_no: String,
    /// `total_fee`*: the order's amount in fen.
    pub total_fee: u64,
    /// `refund_fee`*: this refund in fen.
    pub refund_fee: u64,
    /// `refund_desc` (80): shown to the customer.
    pub refund_desc: Option<String>,
    /// `notify_url` (256).
    pub notify_url: Option<String>,
}

impl V2Request for Refund {
    const PATH: &'static str = "/secapi/pay/refund";
    const CLIENT_CERT: bool = true;
    fn fields(&self) -> Result<Fields, RequestError> {
        let mut f = Fields::new();
        self.order.put(&mut f)?;
        put(&mut f, "out_refund_no", &self.out_refund_no, 64)?;
        put_fen(&mut f, "total_fee", self.total_fee)?;
        put_fen(&mut f, "refund_fee", self.refund_fee)?;
        put_opt(&mut f, "refund_desc", self.refund_desc.as_deref(), 80)?;
        put_opt(&mut f, "notify_url", self.notify_url.as_deref(), 256)?;
        Ok(f)
    }
}

/// Which refund(s) a refund query is about (the service takes the most specific it is given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundRef {
    /// WeChat's `refund_id`.
    RefundId(String),
    /// Our `out_refund_no`.
    OutRefundNo(String),
    /// Every refund of the order with this `transaction_id`.
    TransactionId(String),
    /// Every refund of the order with this `out_trade_no`.
    OutTradeNo(String),
}

/// `POST /pay/refundquery`, §9.4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundQuery {
    /// The refund(s).
    pub refund: RefundRef,
    /// `offset`: the first refund to list when an order has many.
    pub offset: Option<u32>,
}

impl V2Request for RefundQuery {
    const PATH: &'static str = "/pay/refundquery";
    const CLIENT_CERT: bool = false;
    fn fields(&self) -> Result<Fields, RequestError> {
        let mut f = Fields::new();
        match &self.refund {
            RefundRef::RefundId(v) => put(&mut f, "refund_id", v, 32)?,
            RefundRef::OutRefundNo(v) => put(&mut f, "out_refund_no", v, 64)?,
            RefundRef::TransactionId(v) => put(&mut f, "transaction_id", v, 32)?,
            RefundRef::OutTradeNo(v) => put(&mut f, "out_trade_no", v, 32)?,
        }
        if let Some(o) = self.offset {
            f.insert("offset".into(), o.to_string());
        }
        Ok(f)
    }
}

/// Which trades a bill lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillType {
    /// `ALL`.
    All,
    /// `SUCCESS`: paid orders.
    Success,
    /// `REFUND`.
    Refund,
}

/// `POST /pay/downloadbill`, §9.4. A success answer is the bill text itself, not XML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadBill {
    /// `bill_date`*: `yyyyMMdd`.
    pub bill_date: String,
    /// `bill_type`.
    pub bill_type: BillType,
}

impl V2Request for DownloadBill {
    const PATH: &'static str = "/pay/downloadbill";
    const CLIENT_CERT: bool = false;
    fn fields(&self) -> Result<Fields, RequestError> {
        let mut f = Fields::new();
        if self.bill_date.len() != 8 || !self.bill_date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RequestError::Format("bill_date"));
        }
        f.insert("bill_date".into(), self.bill_date.clone());
        let t = match self.bill_type {
            BillType::All => "ALL",
            BillType::Success => "SUCCESS",
            BillType::Refund => "REFUND",
        };
        f.insert("bill_type".into(), t.into());
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::new("192006250b4c09247ec02edce69f6a2d").unwrap()
    }

    fn merchant() -> Merchant {
        Merchant {
            appid: "wx1".into(),
            mch_id: "100".into(),
        }
    }

    #[test]
    fn every_request_is_signed_and_verifies() {
        let order = OrderRef::OutTradeNo("A1".into());
        let check = |f: Fields, own: &[&str]| {
            for k in own.iter().chain(&["appid", "mch_id", "nonce_str", "sign"]) {
                assert!(f.contains_key(*k), "{k} missing from {f:?}");
            }
            assert_eq!(sign::verify(&f, &key(), SignType::Md5), Ok(()));
        };
        let s = |r: &dyn Fn() -> Result<Fields, RequestError>| r().unwrap();
        check(
            s(&|| {
                signed_fields(
                    &OrderQuery {
                        order: order.clone(),
                    },
                    &merchant(),
                    "n",
                    &key(),
                    SignType::Md5,
                )
            }),
            &["out_trade_no"],
        );
        check(
            s(&|| {
                signed_fields(
                    &Reverse {
                        order: OrderRef::TransactionId("42".into()),
                    },
                    &merchant(),
                    "n",
                    &key(),
                    SignType::Md5,
                )
            }),
            &["transaction_id"],
        );
        let refund = Refund {
            order: order.clone(),
            out_refund_no: "R1".into(),
            total_fee: 100,
            refund_fee: 40,
            refund_desc: Some("退货".into()),
            notify_url: None,
        };
        check(
            s(&|| signed_fields(&refund, &merchant(), "n", &key(), SignType::Md5)),
            &[
                "out_trade_no",
                "out_refund_no",
                "total_fee",
                "refund_fee",
                "refund_desc",
            ],
        );
        check(
            s(&|| {
                signed_fields(
                    &RefundQuery {
                        refund: RefundRef::OutRefundNo("R1".into()),
                        offset: Some(0),
                    },
                    &merchant(),
                    "n",
                    &key(),
                    SignType::Md5,
                )
            }),
            &["out_refund_no", "offset"],
        );
        check(
            s(&|| {
                signed_fields(
                    &DownloadBill {
                        bill_date: "20261130".into(),
                        bill_type: BillType::All,
                    },
                    &merchant(),
                    "n",
                    &key(),
                    SignType::Md5,
                )
            }),
            &["bill_date", "bill_type"],
        );
        const { assert!(Reverse::CLIENT_CERT && Refund::CLIENT_CERT) };
        const {
            assert!(!Micropay::CLIENT_CERT && !OrderQuery::CLIENT_CERT && !RefundQuery::CLIENT_CERT)
        };
        assert_eq!(Reverse::PATH, "/secapi/pay/reverse");
    }

    #[test]
    fn hmac_requests_name_their_sign_type_and_sign_it() {
        let q = OrderQuery {
            order: OrderRef::OutTradeNo("A1".into()),
        };
        let f = signed_fields(&q, &merchant(), "n", &key(), SignType::HmacSha256).unwrap();
        assert_eq!(f["sign_type"], "HMAC-SHA256");
        assert!(sign::string_a(&f).contains("sign_type=HMAC-SHA256"));
        assert_eq!(sign::verify(&f, &key(), SignType::HmacSha256), Ok(()));
        let md5 = signed_fields(&q, &merchant(), "n", &key(), SignType::Md5).unwrap();
        assert!(!md5.contains_key("sign_type"));
    }

    #[test]
    fn limits_are_checked_before_anything_is_signed() {
        let ok = Micropay {
            body: "b".into(),
            out_trade_no: "A1".into(),
            total_fee: 1,
            spbill_create_ip: "10.0.0.1".into(),
            auth_code: "134512345678901234".into(),
            ..Micropay::default()
        };
        assert!(ok.fields().is_ok());
        let no_code = Micropay {
            auth_code: String::new(),
            ..ok.clone()
        };
        assert_eq!(no_code.fields(), Err(RequestError::Missing("auth_code")));
        let zero = Micropay {
            total_fee: 0,
            ..ok.clone()
        };
        assert_eq!(zero.fields(), Err(RequestError::ZeroAmount("total_fee")));
        let long = Micropay {
            out_trade_no: "9".repeat(33),
            ..ok.clone()
        };
        assert_eq!(
            long.fields(),
            Err(RequestError::TooLong {
                field: "out_trade_no",
                max: 32
            })
        );
        let cr = Micropay {
            body: "a\rb".into(),
            ..ok
        };
        assert!(matches!(
            signed_xml(&cr, &merchant(), "n", &key(), SignType::Md5),
            Err(RequestError::Xml(XmlError::Unwritable(_)))
        ));
        let bad_date = DownloadBill {
            bill_date: "2026-11-30".into(),
            bill_type: BillType::Success,
        };
        assert_eq!(bad_date.fields(), Err(RequestError::Format("bill_date")));
        let m = Merchant {
            appid: String::new(),
            mch_id: "1".into(),
        };
        assert_eq!(
            signed_fields(
                &OrderQuery {
                    order: OrderRef::OutTradeNo("A".into())
                },
                &m,
                "n",
                &key(),
                SignType::Md5
            ),
            Err(RequestError::Missing("appid"))
        );
    }

    #[test]
    fn values_are_trimmed_and_blank_ones_left_out() {
        let q = Micropay {
            body: " 咖啡 ".into(),
            out_trade_no: "A1".into(),
            total_fee: 1,
            spbill_create_ip: "10.0.0.1".into(),
            auth_code: "134512345678901234".into(),
            device_info: Some("   ".into()),
            ..Micropay::default()
        };
        let f = signed_fields(&q, &merchant(), "n", &key(), SignType::Md5).unwrap();
        assert_eq!(f["body"], "咖啡");
        assert!(!f.contains_key("device_info"));
        assert!(sign::string_a(&f).contains("body=咖啡&"));
    }

    #[test]
    fn nonces_are_32_alphanumerics_and_differ() {
        let a = nonce().unwrap();
        let b = nonce().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}

//! Request and answer bodies of the APIv3 calls scanpay makes (protocol reference §3–§7), and
//! every documented error code with what it means for the caller.
//!
//! Answers are parsed leniently: unknown fields are ignored and optional fields default, as the
//! service adds fields at any time. Requests never contain `null` (optional fields are omitted).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::auth_code::Masked;

/// `POST /v3/pay/transactions/codepay` body. Field order matches the official examples.
#[derive(Clone, Serialize)]
pub struct CodepayRequest {
    /// AppID.
    pub appid: String,
    /// Merchant id.
    pub mchid: String,
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

impl std::fmt::Debug for CodepayRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodepayRequest")
            .field("out_trade_no", &self.out_trade_no)
            .field("amount", &self.amount.total)
            .field("auth_code", &Masked::of(&self.payer.auth_code))
            .finish_non_exhaustive()
    }
}

/// `payer` of a codepay request.
#[derive(Clone, Serialize, Deserialize)]
pub struct CodepayPayer {
    /// The scanned code. Never logged: `Debug` is masked.
    pub auth_code: String,
}

impl std::fmt::Debug for CodepayPayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodepayPayer({})", Masked::of(&self.auth_code))
    }
}

/// `amount` of a codepay request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestAmount {
    /// Fen.
    pub total: i64,
    /// `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// `scene_info` of a codepay request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SceneInfo {
    /// The store.
    pub store_info: StoreInfo,
    /// The till's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_ip: Option<String>,
    /// The till's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// `scene_info.store_info`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoreInfo {
    /// The merchant's own store code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_id: Option<String>,
    /// WeChat Pay's offline-site id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `trade_state` of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TradeState {
    /// Paid.
    Success,
    /// Paid, and a refund exists.
    Refund,
    /// Created, not paid.
    NotPay,
    /// Closed.
    Closed,
    /// Reversed (cancelled; refunded if it had been paid).
    Revoked,
    /// The customer is confirming (password, card choice).
    UserPaying,
    /// Payment failed (bank refusal, customer cancelled).
    PayError,
    /// Accepted, debit pending (APIv2 only).
    Accept,
    /// A state this version does not know.
    Other(String),
}

impl TradeState {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::NotPay => "NOTPAY",
            TradeState::Closed => "CLOSED",
            TradeState::Revoked => "REVOKED",
            TradeState::UserPaying => "USERPAYING",
            TradeState::PayError => "PAYERROR",
            TradeState::Accept => "ACCEPT",
            TradeState::Other(s) => s,
        }
    }

    /// From the wire name.
    pub fn from_wire(s: &str) -> TradeState {
        match s {
            "SUCCESS" => TradeState::Success,
            "REFUND" => TradeState::Refund,
            "NOTPAY" => TradeState::NotPay,
            "CLOSED" => TradeState::Closed,
            "REVOKED" => TradeState::Revoked,
            "USERPAYING" => TradeState::UserPaying,
            "PAYERROR" => TradeState::PayError,
            "ACCEPT" => TradeState::Accept,
            other => TradeState::Other(other.to_string()),
        }
    }
}

impl Serialize for TradeState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TradeState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TradeState::from_wire(&String::deserialize(d)?))
    }
}

/// An order as the codepay (200) and query answers describe it, in either mode (a
/// directly connected merchant's answer names `appid`/`mchid`, a service provider's the
/// `sp_*`/`sub_*` fields; `crate::wechat::partner::Party::check_transaction` checks them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// AppID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// Merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mchid: Option<String>,
    /// Service-provider mode: the service provider's AppID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_appid: Option<String>,
    /// Service-provider mode: the service provider's merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// Service-provider mode: the sub-merchant's AppID (only when the request sent one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_appid: Option<String>,
    /// Service-provider mode: the sub-merchant's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    /// Merchant order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    /// WeChat Pay order number (only once paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// `MICROPAY` for payment-code orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<String>,
    /// The order's state.
    pub trade_state: TradeState,
    /// A description of the state, from WeChat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_state_desc: Option<String>,
    /// Paying bank, e.g. `CCB_DEBIT`, `OTHERS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    /// Echo of the request's attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// RFC 3339 time of payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// The payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<PayerInfo>,
    /// Amounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<AnswerAmount>,
}

/// `payer` of an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerInfo {
    /// The payer's openid under the AppID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
}

/// `amount` of an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerAmount {
    /// Order total, fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// What the customer paid, fen (lower than total with WeChat-funded coupons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    /// `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The payer's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// `POST …/reverse` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReverseRequest {
    /// AppID.
    pub appid: String,
    /// Merchant id.
    pub mchid: String,
}

/// The reverse answer (200).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReverseAnswer {
    /// AppID (optional in the answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// Merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mchid: Option<String>,
    /// Service-provider mode: the service provider's AppID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_appid: Option<String>,
    /// Service-provider mode: the service provider's merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// Service-provider mode: the sub-merchant's AppID (only when the request sent one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_appid: Option<String>,
    /// Service-provider mode: the sub-merchant's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    /// The reversed order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
}

/// `POST /v3/refund/domestic/refunds` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefundRequest {
    /// The original order by WeChat id…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// …or by merchant order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    /// Our refund number (≤ 64); reused when retrying.
    pub out_refund_no: String,
    /// Shown to the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Amounts.
    pub amount: RefundRequestAmount,
}

/// `amount` of a refund request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefundRequestAmount {
    /// Refund, fen.
    pub refund: i64,
    /// Original order total, fen.
    pub total: i64,
    /// `CNY`.
    pub currency: String,
}

/// Refund `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundStatus {
    /// Money returned.
    Success,
    /// Refund closed.
    Closed,
    /// In progress.
    Processing,
    /// Failed at the bank (card frozen or closed): handle by hand in the merchant platform.
    Abnormal,
    /// Unknown to this version.
    Other(String),
}

impl RefundStatus {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Closed => "CLOSED",
            RefundStatus::Processing => "PROCESSING",
            RefundStatus::Abnormal => "ABNORMAL",
            RefundStatus::Other(s) => s,
        }
    }
}

impl Serialize for RefundStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RefundStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "SUCCESS" => RefundStatus::Success,
            "CLOSED" => RefundStatus::Closed,
            "PROCESSING" => RefundStatus::Processing,
            "ABNORMAL" => RefundStatus::Abnormal,
            _ => RefundStatus::Other(s),
        })
    }
}

/// A refund, as the create and query answers describe it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    /// WeChat's refund id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// Our refund number.
    pub out_refund_no: String,
    /// The original order's WeChat id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The original order's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    /// `ORIGINAL`, `BALANCE`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Where the money went, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    /// RFC 3339 time the refund succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// RFC 3339 time the refund was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// The refund's state.
    pub status: RefundStatus,
    /// Amounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<RefundAmount>,
}

/// `amount` of a refund answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmount {
    /// Original order total, fen.
    #[serde(default)]
    pub total: i64,
    /// Refund, fen.
    #[serde(default)]
    pub refund: i64,
    /// What the payer paid, fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    /// What the payer gets back, fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_refund: Option<i64>,
    /// `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// The trade-bill answer: where to download the day's bill and its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeBillAnswer {
    /// `SHA1`.
    pub hash_type: String,
    /// Hex SHA-1 of the (uncompressed) bill.
    pub hash_value: String,
    /// Valid for a few minutes; download with a signed GET.
    pub download_url: String,
}

/// An error answer body: `{code, message, detail}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code; branch on this (with the HTTP status), never on `message`.
    pub code: String,
    /// Human text from WeChat.
    #[serde(default)]
    pub message: String,
    /// Field-level detail, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// Which call an error came from: the same code means different things to different calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `POST /v3/pay/transactions/codepay`.
    Pay,
    /// Order query.
    Query,
    /// `POST …/reverse`.
    Reverse,
    /// Refund create.
    Refund,
    /// Refund query.
    RefundQuery,
    /// Trade-bill request or download.
    Bill,
}

/// What the caller should do after an error. (Whether an order must be reversed is decided by
/// the payment engine from the order's state — PAYERROR, the deadline, a cashier's cancel —
/// never from an error code alone.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    /// Try the same call again later (idempotent calls only).
    Retry,
    /// The outcome is unknown: query the order; never resend a pay call.
    Query,
    /// Definitely not done: report the reason.
    Failed,
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal $(| $alt:literal)*, $en:literal, $zh:literal; )*) => {
        /// Every documented APIv3 error code scanpay may see. Codes that the APIv2 pages spell
        /// without underscores (`NOTENOUGH`, `SYSTEMERROR`, `BANKERROR`, `ORDERCLOSED` …) and the
        /// APIv3 tables spell with them (`NOT_ENOUGH`, `SYSTEM_ERROR`, `BANK_ERROR`,
        /// `ORDER_CLOSED` …) parse to one variant; unknown codes keep their text. The spelling
        /// that came over the wire is kept by [`crate::wechat::ApiError::Service`] for the log.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code this version does not know.
            Other(String),
        }

        impl ErrorCode {
            /// From the wire spelling (APIv3 or APIv2).
            pub fn from_wire(s: &str) -> ErrorCode {
                match s {
                    $( $wire $(| $alt)* => ErrorCode::$variant, )*
                    other => ErrorCode::Other(other.to_string()),
                }
            }
            /// The APIv3 spelling (the one the simulator answers with).
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$variant => $wire, )*
                    ErrorCode::Other(s) => s,
                }
            }
            /// The APIv2 spelling, where the service is documented to use another one.
            pub fn v2_spelling(&self) -> Option<&'static str> {
                match self {
                    $( ErrorCode::$variant => {
                        let alts: &[&'static str] = &[$($alt),*];
                        alts.first().copied()
                    } )*
                    ErrorCode::Other(_) => None,
                }
            }
            /// The code as it came over the wire: `v2` says whether the APIv2 spelling was used.
            pub fn spelled(&self, v2: bool) -> &str {
                match self.v2_spelling() {
                    Some(s) if v2 => s,
                    _ => self.as_str(),
                }
            }
            /// Every spelling the service is documented to use, APIv3 first.
            pub fn spellings(&self) -> Vec<&str> {
                match self {
                    $( ErrorCode::$variant => vec![$wire $(, $alt)*], )*
                    ErrorCode::Other(s) => vec![s.as_str()],
                }
            }
            /// Every known code (for tests and documentation).
            pub fn known() -> Vec<ErrorCode> {
                vec![$( ErrorCode::$variant, )*]
            }
            fn table_meaning(&self) -> (&'static str, &'static str) {
                match self {
                    $( ErrorCode::$variant => ($en, $zh), )*
                    ErrorCode::Other(_) => ("WeChat Pay refused the request", "微信支付拒绝了请求"),
                }
            }
        }
    };
}

error_codes! {
    /// 400: a field is wrong (program or configuration error).
    ParamError = "PARAM_ERROR", "request parameters are invalid", "请求参数错误";
    /// 400: the request breaks protocol or business rules.
    InvalidRequest = "INVALID_REQUEST", "the request was refused by WeChat Pay's rules", "请求不符合微信支付规则";
    /// 401: our signature or timestamp was rejected.
    SignError = "SIGN_ERROR" | "SIGNERROR", "signature rejected: check the till's clock and the merchant key", "签名错误，请检查收银机时间和商户密钥";
    /// 403: no permission for this API.
    NoAuth = "NO_AUTH" | "NOAUTH", "this merchant may not use payment-code payments", "商户无此接口权限";
    /// 404: no such order.
    OrderNotExist = "ORDER_NOT_EXIST" | "ORDERNOTEXIST", "no such order", "订单不存在";
    /// 404: no such resource (refund, bill).
    ResourceNotExists = "RESOURCE_NOT_EXISTS" | "REFUNDNOTEXIST", "no such record", "记录不存在";
    /// 429: too many requests.
    FrequencyLimited = "FREQUENCY_LIMITED", "too many requests, try again shortly", "请求过于频繁，请稍后再试";
    /// 429: too many requests (other spelling).
    RateLimitExceeded = "RATELIMIT_EXCEEDED", "too many requests, try again shortly", "请求过于频繁，请稍后再试";
    /// 500: WeChat-side system error; outcome unknown (APIv2: `SYSTEMERROR`).
    SystemError = "SYSTEM_ERROR" | "SYSTEMERROR", "WeChat Pay system busy; result unknown", "微信支付系统繁忙，结果未知";
    /// 502/503: service unavailable; outcome unknown.
    ServiceUnavailable = "SERVICE_UNAVAILABLE", "WeChat Pay unavailable; result unknown", "微信支付服务不可用，结果未知";
    /// 500: bank timeout; outcome unknown (APIv2: `BANKERROR`).
    BankError = "BANK_ERROR" | "BANKERROR", "the bank did not answer in time; result unknown", "银行系统超时，结果未知";
    /// 202: the customer must confirm on the phone.
    UserPaying = "USERPAYING", "the customer is confirming the payment", "顾客正在确认支付";
    /// The payment code expired.
    AuthCodeExpire = "AUTHCODEEXPIRE", "the payment code has expired: ask the customer to refresh it", "付款码已过期，请顾客刷新后重新出示";
    /// 403: insufficient balance: the customer's on a payment, the merchant's on a refund
    /// (APIv2: `NOTENOUGH`).
    NotEnough = "NOT_ENOUGH" | "NOTENOUGH", "the customer's balance is not enough: ask them to pick another card", "顾客余额不足，请顾客更换付款方式";
    /// Card type not supported.
    NotSupportCard = "NOTSUPORTCARD", "this card type is not supported: ask for another card", "不支持该卡类型，请顾客更换银行卡";
    /// The code was already used or is malformed.
    AuthCodeError = "AUTH_CODE_ERROR", "the payment code is not valid: ask the customer to refresh it", "付款码无效，请顾客刷新后重新出示";
    /// Not a WeChat payment code.
    AuthCodeInvalid = "AUTH_CODE_INVALID", "not a valid WeChat payment code", "付款码无效";
    /// The order number was already paid.
    OrderPaid = "ORDERPAID", "this order is already paid", "订单已支付";
    /// 400: the order is closed (APIv2: `ORDERCLOSED`).
    OrderClosed = "ORDER_CLOSED" | "ORDERCLOSED", "this order is closed", "订单已关闭";
    /// The order was reversed.
    OrderReversed = "ORDERREVERSED", "this order was cancelled", "订单已撤销";
    /// 403: the order number was used with other parameters.
    OutTradeNoUsed = "OUT_TRADE_NO_USED", "this order number was already used", "商户订单号重复";
    /// A different payer for the same order.
    BuyerMismatch = "BUYER_MISMATCH", "a different customer already paid on this order", "支付账号不一致";
    /// 403: risk control or business rule.
    TradeError = "TRADE_ERROR", "the payment was refused by WeChat Pay: ask for another payment method", "交易被微信支付拒绝，请顾客更换付款方式";
    /// 403: a business rule limit (e.g. a payer's or merchant's limit).
    RuleLimit = "RULE_LIMIT", "refused by a WeChat Pay limit: ask for another payment method", "超出微信支付业务规则限制，请顾客更换付款方式";
    /// 403: the payer's account is abnormal (frozen, restricted).
    AccountError = "ACCOUNT_ERROR", "the customer's WeChat account cannot pay: ask for another payment method", "顾客微信账号异常，请顾客更换付款方式";
    /// 500 (v3) / 400 (v2 reverse): an invalid transaction id.
    InvalidTransactionId = "INVALID_TRANSACTIONID", "WeChat Pay rejected the transaction number", "微信支付订单号无效";
    /// The order is older than 7 days and can no longer be reversed.
    ReverseExpire = "REVERSE_EXPIRE", "the order is too old to cancel; refund it instead", "订单已超过撤销期限，请改用退款";
    /// The payer's account is abnormal.
    UserAccountAbnormal = "USER_ACCOUNT_ABNORMAL", "the customer's account cannot receive the refund", "顾客账户异常，无法退款";
    /// No such merchant.
    MchNotExists = "MCH_NOT_EXISTS" | "MCHID_NOT_EXIST", "merchant id not found: check the configuration", "商户号不存在，请检查配置";
    /// The AppID and merchant id do not belong together.
    AppidMchidNotMatch = "APPID_MCHID_NOT_MATCH", "appid and mchid do not match: check the configuration", "appid 与 mchid 不匹配，请检查配置";
    /// The bill is not ready yet.
    StatementCreating = "STATEMENT_CREATING", "the bill is still being generated; try after 10:00 the next day", "账单生成中，请次日10点后再试";
    /// No trades that day.
    NoStatementExist = "NO_STATEMENT_EXIST", "no bill: there were no trades that day", "当日无交易，没有账单";
}

impl ErrorCode {
    /// What it means to a caller of `call`, in English words a cashier can read out. The same
    /// code can mean different things: `NOT_ENOUGH` on a payment is the customer's balance, on
    /// a refund the merchant's.
    pub fn meaning_en(&self, call: Call) -> &'static str {
        self.meaning(call).0
    }

    /// What it means to a caller of `call`, in Chinese.
    pub fn meaning_zh(&self, call: Call) -> &'static str {
        self.meaning(call).1
    }

    fn meaning(&self, call: Call) -> (&'static str, &'static str) {
        match (call, self) {
            (Call::Refund | Call::RefundQuery, ErrorCode::NotEnough) => (
                "the merchant account balance is too low for this refund",
                "商户账户余额不足，无法退款",
            ),
            (Call::Refund | Call::RefundQuery, ErrorCode::AccountError) => (
                "the customer's account cannot receive the refund",
                "顾客账户异常，无法退款",
            ),
            (Call::Refund | Call::RefundQuery, ErrorCode::TradeError) => {
                ("the refund was refused by WeChat Pay", "退款被微信支付拒绝")
            }
            _ => self.table_meaning(),
        }
    }

    /// What a caller of `call` should do after this code.
    pub fn advice(&self, call: Call) -> Advice {
        use ErrorCode::*;
        match (call, self) {
            // Anything that may mean "the service did something we did not hear about".
            (
                Call::Pay,
                SystemError | BankError | ServiceUnavailable | UserPaying | FrequencyLimited
                | RateLimitExceeded | OrderPaid | OutTradeNoUsed | Other(_),
            ) => Advice::Query,
            (Call::Pay, _) => Advice::Failed,
            (
                Call::Reverse,
                SystemError | BankError | ServiceUnavailable | UserPaying | FrequencyLimited
                | RateLimitExceeded | Other(_),
            ) => Advice::Retry,
            (Call::Reverse, _) => Advice::Failed,
            (Call::Refund, FrequencyLimited | RateLimitExceeded) => Advice::Query,
            // The same out_refund_no refunds at most once: retrying it is safe.
            (Call::Refund, SystemError | BankError | ServiceUnavailable | Other(_)) => {
                Advice::Retry
            }
            (Call::Refund, _) => Advice::Failed,
            (
                Call::Query | Call::RefundQuery | Call::Bill,
                SystemError | BankError | ServiceUnavailable | FrequencyLimited | RateLimitExceeded
                | StatementCreating | Other(_),
            ) => Advice::Retry,
            (Call::Query | Call::RefundQuery | Call::Bill, _) => Advice::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_survive() {
        for code in ErrorCode::known() {
            for spelling in code.spellings() {
                assert_eq!(ErrorCode::from_wire(spelling), code, "{spelling}");
            }
            assert_eq!(ErrorCode::from_wire(code.as_str()), code);
            for spelling in code.spellings() {
                let v2 = spelling != code.as_str();
                assert_eq!(code.spelled(v2), spelling, "what came over the wire");
            }
        }
        assert_eq!(
            ErrorCode::from_wire("NEW_CODE_2027"),
            ErrorCode::Other("NEW_CODE_2027".into())
        );
    }

    /// The APIv3 spelling of every code named in the v3 payment error tables, and the APIv2
    /// spelling of the same code, are one variant, with one piece of advice for every call.
    #[test]
    fn both_spellings_give_the_same_advice_per_call() {
        let pairs = [
            ("NOT_ENOUGH", "NOTENOUGH"),
            ("SYSTEM_ERROR", "SYSTEMERROR"),
            ("BANK_ERROR", "BANKERROR"),
            ("ORDER_CLOSED", "ORDERCLOSED"),
            ("ORDER_NOT_EXIST", "ORDERNOTEXIST"),
            ("SIGN_ERROR", "SIGNERROR"),
        ];
        let calls = [
            Call::Pay,
            Call::Query,
            Call::Reverse,
            Call::Refund,
            Call::RefundQuery,
            Call::Bill,
        ];
        for (v3, v2) in pairs {
            let (a, b) = (ErrorCode::from_wire(v3), ErrorCode::from_wire(v2));
            assert!(!matches!(a, ErrorCode::Other(_)), "{v3} is known");
            assert_eq!(a, b, "{v3} = {v2}");
            assert_eq!(a.as_str(), v3, "the v3 spelling is the canonical one");
            for call in calls {
                assert_eq!(a.advice(call), b.advice(call), "{v3}/{v2} on {call:?}");
                assert_eq!(a.meaning_en(call), b.meaning_en(call));
            }
        }
        // Every known code, in every documented spelling, for every call.
        for code in ErrorCode::known() {
            for spelling in code.spellings() {
                let parsed = ErrorCode::from_wire(spelling);
                for call in calls {
                    assert_eq!(
                        parsed.advice(call),
                        code.advice(call),
                        "{spelling} {call:?}"
                    );
                    assert_eq!(parsed.meaning_zh(call), code.meaning_zh(call), "{spelling}");
                }
            }
        }
        for v3 in [
            "TRADE_ERROR",
            "RULE_LIMIT",
            "ACCOUNT_ERROR",
            "OUT_TRADE_NO_USED",
            "USERPAYING",
            "INVALID_TRANSACTIONID",
        ] {
            assert!(
                !matches!(ErrorCode::from_wire(v3), ErrorCode::Other(_)),
                "{v3} is known"
            );
        }
    }

    #[test]
    fn every_definite_refusal_of_a_payment_fails_at_once_with_its_own_words() {
        use ErrorCode::*;
        for code in [
            NotEnough,
            OrderClosed,
            AccountError,
            RuleLimit,
            TradeError,
            AuthCodeExpire,
        ] {
            assert_eq!(code.advice(Call::Pay), Advice::Failed, "{code:?}");
            assert_ne!(
                code.meaning_en(Call::Pay),
                Other(String::new()).meaning_en(Call::Pay)
            );
        }
        for code in [
            SystemError,
            BankError,
            UserPaying,
            OrderPaid,
            OutTradeNoUsed,
        ] {
            assert_eq!(code.advice(Call::Pay), Advice::Query, "{code:?}");
        }
        // NOT_ENOUGH is the customer's balance on a payment, the merchant's on a refund.
        assert!(NotEnough.meaning_en(Call::Pay).contains("customer"));
        assert!(NotEnough.meaning_zh(Call::Pay).contains("顾客余额不足"));
        assert!(NotEnough.meaning_en(Call::Refund).contains("merchant"));
        assert!(NotEnough.meaning_zh(Call::Refund).contains("商户"));
        assert_eq!(NotEnough.advice(Call::Refund), Advice::Failed);
    }

    #[test]
    fn advice_per_call() {
        use ErrorCode::*;
        assert_eq!(NotEnough.advice(Call::Pay), Advice::Failed);
        assert_eq!(SystemError.advice(Call::Pay), Advice::Query);
        assert_eq!(OrderPaid.advice(Call::Pay), Advice::Query);
        assert_eq!(Other("X".into()).advice(Call::Pay), Advice::Query);
        assert_eq!(SystemError.advice(Call::Reverse), Advice::Retry);
        assert_eq!(BankError.advice(Call::Reverse), Advice::Retry);
        assert_eq!(OrderNotExist.advice(Call::Reverse), Advice::Failed);
        assert_eq!(FrequencyLimited.advice(Call::Refund), Advice::Query);
        assert_eq!(SystemError.advice(Call::Refund), Advice::Retry);
        assert_eq!(BankError.advice(Call::Refund), Advice::Retry);
        assert_eq!(StatementCreating.advice(Call::Bill), Advice::Retry);
    }

    #[test]
    fn lenient_answers() {
        let t: Transaction = serde_json::from_str(r#"{"trade_state":"USERPAYING"}"#).unwrap();
        assert_eq!(t.trade_state, TradeState::UserPaying);
        let t: Transaction =
            serde_json::from_str(r#"{"trade_state":"FUTURE","new_field":{"x":1}}"#).unwrap();
        assert_eq!(t.trade_state, TradeState::Other("FUTURE".into()));
    }

    #[test]
    fn request_debug_is_masked() {
        let req = CodepayRequest {
            appid: "a".into(),
            mchid: "1".into(),
            description: "d".into(),
            out_trade_no: "POS01".into(),
            attach: None,
            payer: CodepayPayer {
                auth_code: "130061098828009406".into(),
            },
            amount: RequestAmount {
                total: 1,
                currency: Some("CNY".into()),
            },
            scene_info: SceneInfo {
                store_info: StoreInfo {
                    out_id: Some("S".into()),
                    id: None,
                },
                device_ip: None,
                device_id: None,
            },
        };
        let dbg = format!("{req:?} {:?}", req.payer);
        assert!(!dbg.contains("130061098828009406"), "{dbg}");
        assert!(dbg.contains("1300 **** **** 9406"), "{dbg}");
    }
}

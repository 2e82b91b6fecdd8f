//! Typed forms: every form is a struct with named fields, edited through one small helper
//! ([`Field`], and the [`Form`] trait for focus), and validated into typed results or a typed
//! [`FormError`]. No words here: labels and errors are put into words by `crate::i18n`.

use crate::money::{AmountError, Fen};

/// The name of a field (its label comes from `i18n::field_label`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldName {
    /// An amount (refund).
    Amount,
    /// Why (refund).
    Reason,
    /// The supervisor's id.
    Supervisor,
    /// The supervisor's PIN.
    Pin,
    /// The cashier's id (open shift).
    Cashier,
    /// The sale's optional note.
    Note,
}

/// What a field accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Any printable text.
    Text,
    /// ASCII digits, shown masked.
    Pin,
    /// ASCII digits and a decimal point (refund amount).
    Amount,
    /// The sale's amount: digits (also full-width), separators and the yuan sign, parsed later.
    SaleAmount,
}

/// Why a field did not take a character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldRefusal {
    /// Only digits go here.
    DigitsOnly,
    /// Only digits and a decimal point go here.
    AmountChars,
    /// The field is full.
    Full {
        /// Its length limit, in characters.
        max: usize,
    },
    /// A control character.
    Control,
}

/// One field: its text, what it accepts and how long it may be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    name: FieldName,
    kind: FieldKind,
    max: usize,
    value: String,
}

impl Field {
    /// An empty field.
    pub const fn new(name: FieldName, kind: FieldKind, max: usize) -> Field {
        Field {
            name,
            kind,
            max,
            value: String::new(),
        }
    }

    /// Its name.
    pub fn name(&self) -> FieldName {
        self.name
    }

    /// What it accepts.
    pub fn kind(&self) -> FieldKind {
        self.kind
    }

    /// The text as typed.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Whether the value is hidden on screen (a PIN).
    pub fn is_masked(&self) -> bool {
        self.kind == FieldKind::Pin
    }

    /// Whether a fast burst of keys is text for this field. Amount fields never take bursts:
    /// a burst there is a scan, and a scan never becomes an amount.
    pub fn takes_bursts(&self) -> bool {
        matches!(self.kind, FieldKind::Text | FieldKind::Pin)
    }

    /// Adds a character, or says why not.
    pub fn push(&mut self, c: char) -> Result<(), FieldRefusal> {
        if c.is_control() {
            return Err(FieldRefusal::Control);
        }
        let allowed = match self.kind {
            FieldKind::Text => Ok(()),
            FieldKind::Pin if c.is_ascii_digit() => Ok(()),
            FieldKind::Pin => Err(FieldRefusal::DigitsOnly),
            FieldKind::Amount if c.is_ascii_digit() || c == '.' => Ok(()),
            FieldKind::Amount => Err(FieldRefusal::AmountChars),
            FieldKind::SaleAmount
                if c.is_ascii_digit() || ".,-¥￥．，".contains(c) || ('０'..='９').contains(&c) =>
            {
                Ok(())
            }
            FieldKind::SaleAmount => Err(FieldRefusal::AmountChars),
        };
        allowed?;
        if self.value.chars().count() >= self.max {
            return Err(FieldRefusal::Full { max: self.max });
        }
        self.value.push(c);
        Ok(())
    }

    /// Adds what it can of `text`, character by character; the first refusal says why the
    /// rest (or some) did not go in.
    pub fn push_str(&mut self, text: &str) -> Result<(), FieldRefusal> {
        let mut first = None;
        for c in text.chars() {
            if let Err(e) = self.push(c) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Deletes the last character.
    pub fn pop(&mut self) {
        self.value.pop();
    }

    /// The value, trimmed, or `Missing` when blank.
    fn required(&self) -> Result<String, FormError> {
        let v = self.value.trim();
        if v.is_empty() {
            Err(FormError::Missing(self.name))
        } else {
            Ok(v.to_string())
        }
    }
}

/// Why a form was not submitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormError {
    /// The amount is not acceptable.
    Amount(AmountError),
    /// A required field is blank.
    Missing(FieldName),
}

/// The focus and field access every form shares.
pub trait Form {
    /// The fields in order.
    fn fields(&self) -> Vec<&Field>;
    /// The fields in order, mutable.
    fn fields_mut(&mut self) -> Vec<&mut Field>;
    /// The focused field's name.
    fn focus(&self) -> FieldName;
    /// Moves the focus (to a field of this form).
    fn set_focus(&mut self, name: FieldName);

    /// The focused field.
    fn focused(&self) -> Option<&Field> {
        let focus = self.focus();
        self.fields().into_iter().find(|f| f.name == focus)
    }

    /// The focused field, mutable.
    fn focused_mut(&mut self) -> Option<&mut Field> {
        let focus = self.focus();
        self.fields_mut().into_iter().find(|f| f.name == focus)
    }

    /// Focus on the next field (wrapping).
    fn next_field(&mut self) {
        self.step(1);
    }

    /// Focus on the previous field (wrapping).
    fn prev_field(&mut self) {
        let n = self.fields().len();
        self.step(n.saturating_sub(1));
    }

    /// Moves the focus `by` fields forward (wrapping).
    fn step(&mut self, by: usize) {
        let names: Vec<FieldName> = self.fields().iter().map(|f| f.name).collect();
        if names.is_empty() {
            return;
        }
        let at = names.iter().position(|n| *n == self.focus()).unwrap_or(0);
        self.set_focus(names[(at + by) % names.len()]);
    }
}

/// The refund form: for one paid order, how much and why, approved by a supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundForm {
    /// The order's row id.
    pub order_id: i64,
    /// The order's number.
    pub out_trade_no: String,
    /// What the order paid (the most a refund can be).
    pub paid: Fen,
    /// How much to refund.
    pub amount: Field,
    /// Why.
    pub reason: Field,
    /// The supervisor's id.
    pub supervisor: Field,
    /// The supervisor's PIN.
    pub pin: Field,
    /// The focused field.
    pub focus: FieldName,
    /// Why the last submit was refused.
    pub error: Option<FormError>,
}

/// A refund, as the form submits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRequest {
    /// The order's number.
    pub out_trade_no: String,
    /// How much.
    pub amount: Fen,
    /// Why (trimmed).
    pub reason: String,
    /// The supervisor's id (trimmed).
    pub supervisor: String,
    /// The PIN as typed.
    pub pin: String,
}

impl RefundForm {
    /// An empty form for a paid order.
    pub fn new(order_id: i64, out_trade_no: String, paid: Fen) -> RefundForm {
        RefundForm {
            order_id,
            out_trade_no,
            paid,
            amount: Field::new(FieldName::Amount, FieldKind::Amount, 12),
            reason: Field::new(FieldName::Reason, FieldKind::Text, 60),
            supervisor: Field::new(FieldName::Supervisor, FieldKind::Text, 60),
            pin: Field::new(FieldName::Pin, FieldKind::Pin, 12),
            focus: FieldName::Amount,
            error: None,
        }
    }

    /// The refund, or why not: the amount first (never more than was paid), then every
    /// other field is required.
    pub fn validate(&self) -> Result<RefundRequest, FormError> {
        let amount = Fen::parse(self.amount.value(), self.paid).map_err(FormError::Amount)?;
        let reason = self.reason.required()?;
        let supervisor = self.supervisor.required()?;
        self.pin.required()?;
        Ok(RefundRequest {
            out_trade_no: self.out_trade_no.clone(),
            amount,
            reason,
            supervisor,
            pin: self.pin.value().to_string(),
        })
    }
}

impl Form for RefundForm {
    fn fields(&self) -> Vec<&Field> {
        vec![&self.amount, &self.reason, &self.supervisor, &self.pin]
    }
    fn fields_mut(&mut self) -> Vec<&mut Field> {
        vec![
            &mut self.amount,
            &mut self.reason,
            &mut self.supervisor,
            &mut self.pin,
        ]
    }
    fn focus(&self) -> FieldName {
        self.focus
    }
    fn set_focus(&mut self, name: FieldName) {
        self.focus = name;
    }
}

/// The forced-close form: a supervisor closes the shift over unsettled orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForceCloseForm {
    /// The supervisor's id.
    pub supervisor: Field,
    /// The supervisor's PIN.
    pub pin: Field,
    /// The focused field.
    pub focus: FieldName,
    /// Why the last submit was refused.
    pub error: Option<FormError>,
}

/// A supervisor's id and PIN, as a form submits them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// The supervisor's id (trimmed).
    pub supervisor: String,
    /// The PIN as typed.
    pub pin: String,
}

impl Default for ForceCloseForm {
    fn default() -> Self {
        ForceCloseForm {
            supervisor: Field::new(FieldName::Supervisor, FieldKind::Text, 60),
            pin: Field::new(FieldName::Pin, FieldKind::Pin, 12),
            focus: FieldName::Supervisor,
            error: None,
        }
    }
}

impl ForceCloseForm {
    /// The approval, or which field is missing.
    pub fn validate(&self) -> Result<Approval, FormError> {
        let supervisor = self.supervisor.required()?;
        self.pin.required()?;
        Ok(Approval {
            supervisor,
            pin: self.pin.value().to_string(),
        })
    }
}

impl Form for ForceCloseForm {
    fn fields(&self) -> Vec<&Field> {
        vec![&self.supervisor, &self.pin]
    }
    fn fields_mut(&mut self) -> Vec<&mut Field> {
        vec![&mut self.supervisor, &mut self.pin]
    }
    fn focus(&self) -> FieldName {
        self.focus
    }
    fn set_focus(&mut self, name: FieldName) {
        self.focus = name;
    }
}

/// The open-shift form: the cashier's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenShiftForm {
    /// The cashier's id.
    pub cashier: Field,
}

impl Default for OpenShiftForm {
    fn default() -> Self {
        OpenShiftForm {
            cashier: Field::new(FieldName::Cashier, FieldKind::Text, 32),
        }
    }
}

impl OpenShiftForm {
    /// The cashier id (trimmed), or `Missing`.
    pub fn validate(&self) -> Result<String, FormError> {
        self.cashier.required()
    }
}

impl Form for OpenShiftForm {
    fn fields(&self) -> Vec<&Field> {
        vec![&self.cashier]
    }
    fn fields_mut(&mut self) -> Vec<&mut Field> {
        vec![&mut self.cashier]
    }
    fn focus(&self) -> FieldName {
        FieldName::Cashier
    }
    fn set_focus(&mut self, _: FieldName) {}
}

/// A form that needs a supervisor, shown as a popup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SupervisorForm {
    /// Refund part or all of a paid order.
    Refund(RefundForm),
    /// Close the shift although orders are not settled.
    ForceClose(ForceCloseForm),
}

impl SupervisorForm {
    /// The form, for focus and editing.
    pub fn form(&self) -> &dyn Form {
        match self {
            SupervisorForm::Refund(f) => f,
            SupervisorForm::ForceClose(f) => f,
        }
    }

    /// The form, mutable.
    pub fn form_mut(&mut self) -> &mut dyn Form {
        match self {
            SupervisorForm::Refund(f) => f,
            SupervisorForm::ForceClose(f) => f,
        }
    }

    /// Why the last submit was refused.
    pub fn error(&self) -> Option<&FormError> {
        match self {
            SupervisorForm::Refund(f) => f.error.as_ref(),
            SupervisorForm::ForceClose(f) => f.error.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_filter_and_say_why() {
        let mut pin = Field::new(FieldName::Pin, FieldKind::Pin, 4);
        assert_eq!(pin.push_str("0x0a0"), Err(FieldRefusal::DigitsOnly));
        assert_eq!(pin.value(), "000");
        assert_eq!(pin.push_str("12"), Err(FieldRefusal::Full { max: 4 }));
        assert_eq!(pin.value(), "0001");
        let mut amount = Field::new(FieldName::Amount, FieldKind::Amount, 12);
        assert_eq!(amount.push('x'), Err(FieldRefusal::AmountChars));
        assert!(amount.push_str("2.50").is_ok());
        assert!(!amount.takes_bursts() && pin.takes_bursts());
    }

    #[test]
    fn focus_wraps_both_ways() {
        let mut f = RefundForm::new(1, "X".into(), Fen(100));
        f.prev_field();
        assert_eq!(f.focus, FieldName::Pin);
        f.next_field();
        f.next_field();
        assert_eq!(f.focus, FieldName::Reason);
    }

    #[test]
    fn refund_validation_is_typed() {
        let mut f = RefundForm::new(1, "X".into(), Fen(1234));
        assert_eq!(
            f.validate(),
            Err(FormError::Amount(AmountError::Empty)),
            "amount first"
        );
        f.amount.push_str("20").ok();
        assert!(matches!(
            f.validate(),
            Err(FormError::Amount(AmountError::OverLimit { .. }))
        ));
        f.amount = Field::new(FieldName::Amount, FieldKind::Amount, 12);
        f.amount.push_str("2.5").ok();
        f.reason.push_str("  ").ok();
        assert_eq!(f.validate(), Err(FormError::Missing(FieldName::Reason)));
        f.reason.push_str("return ").ok();
        f.supervisor.push_str("demo").ok();
        assert_eq!(f.validate(), Err(FormError::Missing(FieldName::Pin)));
        f.pin.push_str("0000").ok();
        assert_eq!(
            f.validate(),
            Ok(RefundRequest {
                out_trade_no: "X".into(),
                amount: Fen(250),
                reason: "return".into(),
                supervisor: "demo".into(),
                pin: "0000".into(),
            })
        );
    }
}

//! The contract's scalars: `DateTime` (RFC 3339 or a bare date) and `Position` (a decimal
//! string, because it is 64-bit).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime, Utc};

/// An instant, RFC 3339 (`2024-05-01T12:00:00Z`, any offset). A bare date `YYYY-MM-DD` means
/// the start of that day, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instant(pub DateTime<Utc>);

pub use crate::archive::parse_instant;

#[Scalar(name = "DateTime")]
/// An instant, RFC 3339 (`2024-05-01T12:00:00Z`, any offset). A bare date `YYYY-MM-DD` means
/// the start of that day, UTC.
impl ScalarType for Instant {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => parse_instant(s).map(Instant).map_err(InputValueError::custom),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

/// A global log position: a decimal string, because it is a 64-bit number. Gapless, from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos(pub crate::Position);

#[Scalar(name = "Position")]
/// A global log position: a decimal string, because it is a 64-bit number. Gapless, from 1.
impl ScalarType for Pos {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse()
                .map(Pos)
                .map_err(|_| InputValueError::custom(format!("{s:?} is not a position (a decimal number)"))),
            Value::Number(n) => n.as_u64().map(|n| Pos(crate::Position(n))).ok_or_else(|| {
                InputValueError::custom(format!("{n} is not a position (a non-negative integer)"))
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

//! Lenient deserializers for values encoded by Proxmox VE's Perl backend.
//!
//! The backend emits booleans as the integers `0`/`1` and copies some numbers verbatim from
//! text files (`loadavg`, `cpuinfo.mhz`, LXC pressure values, config `number` keys), so a field
//! documented as a number may arrive as `"0.15"`. Use these with `#[serde(deserialize_with)]`.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Deserializes a Perl boolean: `0`/`1` (number or string), JSON `true`/`false`, or `""`
/// (what a failed Perl regex match yields, read as false).
pub fn bool_01<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    d.deserialize_any(BoolVisitor)
}

/// Like [`bool_01`] for optional fields (`null` or absent reads as `None`).
pub fn opt_bool_01<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_option(OptVisitor(BoolVisitor))
}

/// Deserializes a number that may be sent as a JSON number or a numeric string.
pub fn f64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(F64Visitor)
}

/// Like [`f64_lenient`] for optional fields.
pub fn opt_f64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_option(OptVisitor(F64Visitor))
}

/// Deserializes a non-negative integer sent as a number (possibly `1.0`) or a numeric string.
pub fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = d.deserialize_any(F64Visitor)?;
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u64::MAX as f64 {
        Ok(v as u64)
    } else {
        Err(de::Error::custom(format!(
            "expected a non-negative integer, got {v}"
        )))
    }
}

/// Like [`u64_lenient`] for optional fields.
pub fn opt_u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match opt_f64_lenient(d)? {
        None => Ok(None),
        Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u64::MAX as f64 => {
            Ok(Some(v as u64))
        }
        Some(v) => Err(de::Error::custom(format!(
            "expected a non-negative integer, got {v}"
        ))),
    }
}

/// Encodes a boolean the only way Proxmox VE accepts it in a query string or form body.
pub fn encode_bool(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Perl boolean (0/1)")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        Ok(v != 0)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        Ok(v != 0)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        Ok(v != 0.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v.trim() {
            "" | "0" => Ok(false),
            "1" => Ok(true),
            other => other
                .parse::<f64>()
                .map(|n| n != 0.0)
                .map_err(|_| E::custom(format!("expected 0 or 1, got {other:?}"))),
        }
    }
}

struct F64Visitor;

impl<'de> Visitor<'de> for F64Visitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or a numeric string")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(0.0);
        }
        t.parse::<f64>()
            .map_err(|_| E::custom(format!("expected a numeric string, got {v:?}")))
    }
}

struct OptVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for OptVisitor<V> {
    type Value = Option<V::Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self.0).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::bool_01")]
        b: bool,
        #[serde(deserialize_with = "super::f64_lenient")]
        f: f64,
        #[serde(default, deserialize_with = "super::opt_u64_lenient")]
        u: Option<u64>,
    }

    #[test]
    fn accepts_perl_shapes() {
        let t: T = serde_json::from_str(r#"{"b":1,"f":"0.15","u":"42"}"#).unwrap();
        assert!(t.b);
        assert_eq!(t.f, 0.15);
        assert_eq!(t.u, Some(42));
        let t: T = serde_json::from_str(r#"{"b":"","f":3,"u":null}"#).unwrap();
        assert!(!t.b);
        assert_eq!(t.f, 3.0);
        assert_eq!(t.u, None);
        let t: T = serde_json::from_str(r#"{"b":false,"f":1e3}"#).unwrap();
        assert!(!t.b);
        assert_eq!(t.u, None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(serde_json::from_str::<T>(r#"{"b":"yes","f":1}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"b":1,"f":"x"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"b":1,"f":1,"u":-1}"#).is_err());
    }
}

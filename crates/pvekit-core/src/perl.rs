//! Lenient decoding of values encoded by Proxmox VE's Perl backend.
//!
//! Proxmox VE's API is Perl, and its JSON encoder writes a scalar the way it was last used:
//! a number that went through string interpolation or a regex (termproxy's `port`, `loadavg`,
//! `cpuinfo.mhz`, LXC pressure values, config `number` keys) is sent as a JSON string, so any
//! field the schema documents as an integer may arrive as `"5900"`. go-proxmox types
//! termproxy's `port` as `StringOrInt` for this reason (luthermonson/go-proxmox, `types.go`).
//! Booleans come as `0`/`1`, `"0"`/`"1"`, `""` (a failed regex match) or JSON booleans.
//!
//! The one mechanism for every response type is [`from_slice`] / [`from_value`]: they feed
//! the type through a deserializer that accepts, wherever the type asks for a number or a
//! boolean, a JSON number, a numeric string, or a Perl boolean, and wherever it asks for a
//! string, a number too. Types therefore need no per-field attributes, and a new field is
//! lenient without anyone remembering to make it so. Perl's `undef` (`null`) reads as
//! `None` for optional fields and as zero or false for plain numbers and booleans, as Perl
//! itself reads it.
//!
//! The per-field functions ([`bool_01`], [`f64_lenient`], ...) remain for inputs that are
//! not API responses (configuration files).

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Decodes a JSON body sent by Proxmox VE into `T`, leniently (see the module docs).
///
/// # Errors
/// The body is not JSON, or does not fit `T` even leniently.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    // Straight from the bytes: no `Value` tree in between (it costs about 2.5 KB and much
    // allocator work per item of `/cluster/resources`).
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(Streaming(&mut de))?;
    de.end()?;
    Ok(value)
}

/// Decodes the items of a `{"data": [...]}` answer leniently (as [`from_slice`] does) while its
/// bytes arrive, so a long list (`/cluster/resources` of 10,000 guests is about 3 MiB) is
/// never held whole, neither as bytes nor as a `Vec` of items: each item is handed on as soon
/// as it is complete, and only the bytes of an incomplete item are kept.
///
/// The items are read where the answer starts with the `data` list, as Proxmox VE writes it;
/// any other shape is kept whole and decoded at [`DataItems::finish`] as an
/// [`Envelope`](crate::Envelope) of a list, so every answer reads exactly as [`from_slice`]
/// reads it, errors included.
#[derive(Debug)]
pub struct DataItems<T> {
    /// Bytes not yet decoded (everything, in [`Items::Whole`]).
    buf: Vec<u8>,
    state: Items,
    /// After an item found incomplete, the buffered length at which to try again (so an
    /// item that spans many chunks is not decoded over and over).
    retry_at: usize,
    _item: std::marker::PhantomData<fn() -> T>,
}

/// One item of a `data` list, as [`DataItems::feed_raw`] hands it on.
#[derive(Debug)]
pub enum RawItem<'a, T> {
    /// The item's JSON text as it came. It was only delimited, not checked: decode it with
    /// [`RawItem::decode`] (or [`from_slice`]), or compare it with one decoded before.
    Text(&'a [u8]),
    /// The item, decoded (the answer had another shape and was decoded whole).
    Decoded(T),
}

impl<T: DeserializeOwned> RawItem<'_, T> {
    /// The item, decoded leniently as [`from_slice`] does.
    ///
    /// # Errors
    /// The text is not JSON or does not fit `T` even leniently.
    pub fn decode(self) -> Result<T, serde_json::Error> {
        match self {
            RawItem::Text(text) => from_slice(text),
            RawItem::Decoded(item) => Ok(item),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Items {
    /// Before the list: the start of the answer is checked.
    Start,
    /// In the list, where an item or its end may come.
    First,
    /// In the list, after a comma: an item must come.
    Item,
    /// In the list, after an item: a comma or the end.
    AfterItem,
    /// After the list: the rest of the envelope, checked at the end.
    Tail,
    /// Not the usual shape: kept whole for [`from_slice`].
    Whole,
}

/// What a `T` reads as leniently, for serde_json's own value-by-value reader.
struct PerlItem<T>(T);

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for PerlItem<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(Streaming(d)).map(PerlItem)
    }
}

/// The members of an envelope after its `data` list (`"total"`), read as [`crate::Envelope`]
/// reads them.
#[derive(serde::Deserialize)]
struct Tail {
    #[serde(default)]
    data: Option<de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    total: Option<u64>,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// Where the `data` list's first item may start, if the answer starts as
/// `{"data":[` (whitespace allowed); `Err(true)` when more bytes are needed to tell, `Err(false)`
/// when it starts otherwise.
fn list_start(b: &[u8]) -> Result<usize, bool> {
    let mut i = 0;
    for expected in [&b"{"[..], b"\"data\"", b":", b"["] {
        i = skip_ws(b, i);
        let have = &b[i..b.len().min(i + expected.len())];
        if have != &expected[..have.len()] {
            return Err(false);
        }
        if have.len() < expected.len() {
            return Err(true);
        }
        i += expected.len();
    }
    Ok(i)
}

/// The length of the JSON value at the start of `b` (after whitespace), if it is complete;
/// only used to tell an incomplete item from a broken one.
fn complete_value_len(b: &[u8]) -> Option<usize> {
    let start = skip_ws(b, 0);
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for (i, &c) in b.iter().enumerate().skip(start) {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_str = false;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            // A bare scalar ends at a delimiter.
            b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

impl<T: DeserializeOwned> Default for DataItems<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: DeserializeOwned> DataItems<T> {
    /// A reader at the start of an answer.
    pub fn new() -> Self {
        DataItems {
            buf: Vec::new(),
            state: Items::Start,
            retry_at: 0,
            _item: std::marker::PhantomData,
        }
    }

    /// Takes the next bytes of the answer and hands on every item they complete.
    ///
    /// # Errors
    /// The answer is not JSON or an item does not fit `T` even leniently; or what `each`
    /// returns.
    pub fn feed<E: From<serde_json::Error>>(
        &mut self,
        bytes: &[u8],
        mut each: impl FnMut(T) -> Result<(), E>,
    ) -> Result<(), E> {
        self.feed_items(bytes, false, &mut |item| each(item.decode()?))
    }

    /// Like [`DataItems::feed`], but hands on each item's JSON text as it came, undecoded
    /// (found by its brackets and quotes only), so that the caller may skip decoding an
    /// item it has seen before. An answer of another shape is decoded whole at
    /// [`DataItems::finish_raw`], which hands on its items decoded.
    ///
    /// # Errors
    /// The answer is not JSON where it was read; or what `each` returns.
    pub fn feed_raw<E: From<serde_json::Error>>(
        &mut self,
        bytes: &[u8],
        mut each: impl FnMut(RawItem<'_, T>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.feed_items(bytes, true, &mut each)
    }

    fn feed_items<E: From<serde_json::Error>>(
        &mut self,
        bytes: &[u8],
        raw: bool,
        each: &mut impl FnMut(RawItem<'_, T>) -> Result<(), E>,
    ) -> Result<(), E> {
        match self.state {
            Items::Start => {
                self.buf.extend_from_slice(bytes);
                return match list_start(&self.buf) {
                    Ok(at) => {
                        let first = std::mem::take(&mut self.buf);
                        self.state = Items::First;
                        self.feed_items(&first[at..], raw, each)
                    }
                    Err(true) => Ok(()),
                    Err(false) => {
                        self.state = Items::Whole;
                        Ok(())
                    }
                };
            }
            Items::Whole | Items::Tail => {
                self.buf.extend_from_slice(bytes);
                return Ok(());
            }
            _ => {}
        }
        // An incomplete item is completed from the new bytes, taken in growing steps; the rest
        // of them is decoded where it lies, and only what is incomplete then is kept.
        let mut rest = bytes;
        while !self.buf.is_empty() && !rest.is_empty() {
            let n = rest.len().min(self.buf.len().max(4096));
            let had = self.buf.len();
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.buf.len() < self.retry_at {
                continue;
            }
            let buf = std::mem::take(&mut self.buf);
            let mut pos = 0;
            let result = self.items(&buf, &mut pos, raw, each);
            self.buf = buf;
            result?;
            if self.state == Items::Tail {
                self.buf.drain(..pos);
                self.buf.extend_from_slice(rest);
                return Ok(());
            }
            if pos >= had {
                // The kept item is done: what is left are new bytes, decoded where they lie.
                let left = self.buf.len() - pos;
                rest = &bytes[bytes.len() - rest.len() - left..];
                self.buf.clear();
                self.retry_at = 0;
            } else {
                self.buf.drain(..pos);
            }
        }
        if !self.buf.is_empty() {
            return Ok(());
        }
        let mut pos = 0;
        let result = self.items(rest, &mut pos, raw, each);
        if self.state == Items::Tail || result.is_ok() {
            self.buf.extend_from_slice(&rest[pos..]);
        }
        result
    }

    /// Hands on the complete items of `b` from `pos` on, decoded or (`raw`) as text; `pos` is
    /// left after the last one taken (at the list's end in [`Items::Tail`]).
    fn items<E: From<serde_json::Error>>(
        &mut self,
        b: &[u8],
        pos: &mut usize,
        raw: bool,
        each: &mut impl FnMut(RawItem<'_, T>) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            let i = skip_ws(b, *pos);
            let Some(&c) = b.get(i) else {
                *pos = i;
                return Ok(());
            };
            match self.state {
                Items::First | Items::AfterItem if c == b']' => {
                    *pos = i + 1;
                    self.state = Items::Tail;
                    return Ok(());
                }
                Items::AfterItem if c == b',' => {
                    *pos = i + 1;
                    self.state = Items::Item;
                }
                Items::AfterItem => {
                    return Err(<serde_json::Error as de::Error>::custom(
                        "expected `,` or `]` after an item of the data list",
                    )
                    .into());
                }
                _ if raw => {
                    let rest = &b[i..];
                    // A bare scalar's end is only known at the delimiter after it.
                    let Some(len) = complete_value_len(rest) else {
                        // Incomplete: wait until it has doubled (or for the end).
                        *pos = i;
                        self.retry_at = 2 * rest.len().max(128);
                        return Ok(());
                    };
                    if len == 0 {
                        return Err(<serde_json::Error as de::Error>::custom(
                            "expected an item of the data list",
                        )
                        .into());
                    }
                    *pos = i + len;
                    self.state = Items::AfterItem;
                    self.retry_at = 0;
                    each(RawItem::Text(&rest[..len]))?;
                }
                _ => {
                    let rest = &b[i..];
                    let mut items =
                        serde_json::Deserializer::from_slice(rest).into_iter::<PerlItem<T>>();
                    match items.next() {
                        Some(Ok(item)) => {
                            let len = items.byte_offset();
                            // A bare scalar may go on in the next bytes.
                            let delimited = matches!(c, b'{' | b'[' | b'"');
                            if !delimited && len == rest.len() {
                                *pos = i;
                                return Ok(());
                            }
                            *pos = i + len;
                            self.state = Items::AfterItem;
                            self.retry_at = 0;
                            each(RawItem::Decoded(item.0))?;
                        }
                        Some(Err(e)) if e.is_eof() || complete_value_len(rest).is_none() => {
                            // Incomplete: wait until it has doubled (or for the end).
                            *pos = i;
                            self.retry_at = 2 * rest.len().max(128);
                            return Ok(());
                        }
                        Some(Err(e)) => return Err(e.into()),
                        None => {
                            *pos = i;
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// Ends the answer: hands on the items not handed on yet (all of them when the answer had
    /// another shape) and checks that the answer was complete.
    ///
    /// # Errors
    /// As [`DataItems::feed`]; also when the answer ends early.
    pub fn finish<E: From<serde_json::Error>>(
        self,
        mut each: impl FnMut(T) -> Result<(), E>,
    ) -> Result<(), E> {
        self.finish_items(false, &mut |item| each(item.decode()?))
    }

    /// Ends an answer read with [`DataItems::feed_raw`], as [`DataItems::finish`] does.
    ///
    /// # Errors
    /// As [`DataItems::finish`].
    pub fn finish_raw<E: From<serde_json::Error>>(
        self,
        mut each: impl FnMut(RawItem<'_, T>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.finish_items(true, &mut each)
    }

    fn finish_items<E: From<serde_json::Error>>(
        mut self,
        raw: bool,
        each: &mut impl FnMut(RawItem<'_, T>) -> Result<(), E>,
    ) -> Result<(), E> {
        match self.state {
            Items::Whole | Items::Start => {
                let envelope: crate::Envelope<Vec<T>> = from_slice(&self.buf)?;
                envelope
                    .data
                    .into_iter()
                    .try_for_each(|item| each(RawItem::Decoded(item)))
            }
            Items::Tail => {
                let tail = &self.buf[skip_ws(&self.buf, 0)..];
                let tail: Tail = match tail.first() {
                    Some(b'}') => {
                        // Nothing but whitespace may follow.
                        let mut de = serde_json::Deserializer::from_slice(&tail[1..]);
                        de.end()?;
                        return Ok(());
                    }
                    Some(b',') => {
                        let mut rest = Vec::with_capacity(tail.len());
                        rest.push(b'{');
                        rest.extend_from_slice(&tail[1..]);
                        from_slice(&rest)?
                    }
                    _ => from_slice(tail)?,
                };
                if tail.data.is_some() {
                    return Err(<serde_json::Error as de::Error>::duplicate_field("data").into());
                }
                Ok(())
            }
            _ => {
                let buf = std::mem::take(&mut self.buf);
                let mut pos = 0;
                self.items(&buf, &mut pos, raw, each)?;
                if self.state == Items::Tail {
                    self.buf = buf[pos..].to_vec();
                    return self.finish_items(raw, each);
                }
                // The list never ended: the answer is cut short.
                let mut de = serde_json::Deserializer::from_slice(&buf[pos..]);
                Err(
                    match <de::IgnoredAny as de::Deserialize>::deserialize(&mut de) {
                        Err(e) => e,
                        Ok(_) => <serde_json::Error as de::Error>::custom(
                            "the answer ends inside the data list",
                        ),
                    }
                    .into(),
                )
            }
        }
    }
}

/// Decodes an already parsed JSON value into `T`, leniently (see the module docs).
///
/// # Errors
/// The value does not fit `T` even leniently.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    T::deserialize(Lenient(value))
}

/// A deserializer over a JSON value that reads numbers and booleans the way Perl writes them.
#[derive(Debug)]
pub struct Lenient(pub Value);

/// A number read from a JSON number or a numeric string.
enum Num {
    U(u64),
    I(i64),
    F(f64),
}

fn parse_num(text: &str) -> Option<Num> {
    let t = text.trim();
    if t.is_empty() {
        return Some(Num::U(0));
    }
    if let Ok(u) = t.parse::<u64>() {
        return Some(Num::U(u));
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Num::I(i));
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite()).map(Num::F)
}

fn json_num(n: &Number) -> Num {
    if let Some(u) = n.as_u64() {
        Num::U(u)
    } else if let Some(i) = n.as_i64() {
        Num::I(i)
    } else {
        Num::F(n.as_f64().unwrap_or(f64::NAN))
    }
}

impl Lenient {
    /// The value as a number, if it is one in any of Perl's spellings.
    fn number(&self) -> Option<Num> {
        match &self.0 {
            Value::Number(n) => Some(json_num(n)),
            Value::String(s) => parse_num(s),
            Value::Bool(b) => Some(Num::U(u64::from(*b))),
            Value::Null => Some(Num::U(0)),
            _ => None,
        }
    }

    /// Visits an integer: integral floats (`1.0`, `1e3`) count as integers.
    fn visit_integer<'de, V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        match self.number() {
            Some(Num::U(u)) => visitor.visit_u64(u),
            Some(Num::I(i)) => visitor.visit_i64(i),
            Some(Num::F(f)) if f.fract() == 0.0 && f >= 0.0 && f <= u64::MAX as f64 => {
                visitor.visit_u64(f as u64)
            }
            Some(Num::F(f)) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < 0.0 => {
                visitor.visit_i64(f as i64)
            }
            Some(Num::F(f)) => visitor.visit_f64(f),
            None => self.0.deserialize_any(visitor),
        }
    }

    fn visit_float<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        match self.number() {
            Some(Num::U(u)) => visitor.visit_f64(u as f64),
            Some(Num::I(i)) => visitor.visit_f64(i as f64),
            Some(Num::F(f)) => visitor.visit_f64(f),
            None => self.0.deserialize_any(visitor),
        }
    }
}

macro_rules! lenient_integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.visit_integer(visitor)
        }
    )*};
}

macro_rules! forward_to_value {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for Lenient {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(LenientSeq(items.into_iter())),
            Value::Object(map) => visitor.visit_map(LenientMap {
                iter: map.into_iter(),
                value: None,
            }),
            other => other.deserialize_any(visitor),
        }
    }

    lenient_integers! {
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.visit_float(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.visit_float(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match &self.0 {
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => visitor.visit_bool(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => visitor.visit_bool(false),
            Value::Number(_) | Value::String(_) | Value::Null => match self.number() {
                Some(Num::U(u)) => visitor.visit_bool(u != 0),
                Some(Num::I(i)) => visitor.visit_bool(i != 0),
                Some(Num::F(f)) => visitor.visit_bool(f != 0.0),
                None => Err(de::Error::custom(format!(
                    "expected a Perl boolean (0/1), got {}",
                    self.0
                ))),
            },
            _ => self.0.deserialize_any(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Number(n) => visitor.visit_string(n.to_string()),
            other => other.deserialize_str(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Lenient(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    forward_to_value! {
        deserialize_char deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_identifier
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }
}

/// The lenient reading of [`Lenient`], over any deserializer (here serde_json's, reading
/// bytes): wherever the type asks for a number, a boolean or a string, the value is read
/// with `deserialize_any` and converted as Perl would have meant it; sequences, maps,
/// options and newtypes pass the same leniency on to their contents.
struct Streaming<D>(D);

/// Converts whatever scalar comes into what the wrapped visitor asked for.
enum Want {
    Integer,
    Float,
    Bool,
    Str,
}

struct Convert<V> {
    want: Want,
    visitor: V,
}

impl<V> Convert<V> {
    fn number<'de, E: de::Error>(self, n: Num) -> Result<V::Value, E>
    where
        V: Visitor<'de>,
    {
        match (self.want, n) {
            (Want::Bool, Num::U(u)) => self.visitor.visit_bool(u != 0),
            (Want::Bool, Num::I(i)) => self.visitor.visit_bool(i != 0),
            (Want::Bool, Num::F(f)) => self.visitor.visit_bool(f != 0.0),
            (Want::Str, Num::U(u)) => self.visitor.visit_string(u.to_string()),
            (Want::Str, Num::I(i)) => self.visitor.visit_string(i.to_string()),
            (Want::Str, Num::F(f)) => self.visitor.visit_string(f.to_string()),
            (Want::Float, Num::U(u)) => self.visitor.visit_f64(u as f64),
            (Want::Float, Num::I(i)) => self.visitor.visit_f64(i as f64),
            (Want::Float, Num::F(f)) => self.visitor.visit_f64(f),
            (Want::Integer, Num::U(u)) => self.visitor.visit_u64(u),
            (Want::Integer, Num::I(i)) => self.visitor.visit_i64(i),
            (Want::Integer, Num::F(f)) if f.fract() == 0.0 && f >= 0.0 && f <= u64::MAX as f64 => {
                self.visitor.visit_u64(f as u64)
            }
            (Want::Integer, Num::F(f)) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < 0.0 => {
                self.visitor.visit_i64(f as i64)
            }
            (Want::Integer, Num::F(f)) => self.visitor.visit_f64(f),
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Convert<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<V::Value, E> {
        self.number(Num::U(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<V::Value, E> {
        self.number(Num::I(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<V::Value, E> {
        self.number(Num::F(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        match self.want {
            Want::Str => self.visitor.visit_bool(v),
            _ => self.number(Num::U(u64::from(v))),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        match self.want {
            Want::Str => self.visitor.visit_str(v),
            Want::Bool if v.trim().eq_ignore_ascii_case("true") => self.visitor.visit_bool(true),
            Want::Bool if v.trim().eq_ignore_ascii_case("false") => self.visitor.visit_bool(false),
            _ => match parse_num(v) {
                Some(n) => self.number(n),
                None => self.visitor.visit_str(v),
            },
        }
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        match self.want {
            Want::Str => self.visitor.visit_string(v),
            _ => self.visit_str(&v),
        }
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        match self.want {
            Want::Str => self.visitor.visit_borrowed_str(v),
            _ => self.visit_str(v),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        // Perl's undef read as a plain number or boolean: zero, false.
        match self.want {
            Want::Str => self.visitor.visit_unit(),
            _ => self.number(Num::U(0)),
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visit_unit()
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(map)
    }
}

/// Passes the leniency on to the contents of sequences, maps, options and newtypes.
struct Nested<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Nested<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        self.0.visit_bool(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<V::Value, E> {
        self.0.visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<V::Value, E> {
        self.0.visit_u64(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<V::Value, E> {
        self.0.visit_f64(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.0.visit_str(v)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.0.visit_borrowed_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        self.0.visit_string(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Streaming(d))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(Streaming(d))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(StreamingSeq(seq))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(StreamingMap(map))
    }
}

struct StreamingSeq<A>(A);

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for StreamingSeq<A> {
    type Error = A::Error;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct StreamingMap<A>(A);

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for StreamingMap<A> {
    type Error = A::Error;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        // Keys are strings in JSON: read as they are.
        self.0.next_key_seed(seed)
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// A seed whose deserializer is wrapped in [`Streaming`].
struct Seed<S>(S);

impl<'de, S: de::DeserializeSeed<'de>> de::DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Streaming(d))
    }
}

macro_rules! streaming_convert {
    ($want:ident: $($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.deserialize_any(Convert { want: Want::$want, visitor })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Streaming<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(Nested(visitor))
    }

    streaming_convert! { Integer:
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
    }
    streaming_convert! { Float: deserialize_f32 deserialize_f64 }
    streaming_convert! { Bool: deserialize_bool }
    streaming_convert! { Str: deserialize_str deserialize_string }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_option(Nested(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_seq(Nested(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Nested(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Nested(visitor))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(Nested(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, Nested(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_char(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_bytes(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_byte_buf(visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_identifier(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_ignored_any(visitor)
    }
}

struct LenientSeq(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for LenientSeq {
    type Error = serde_json::Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(Lenient(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct LenientMap {
    iter: <Map<String, Value> as IntoIterator>::IntoIter,
    value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for LenientMap {
    type Error = serde_json::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                let key: StringDeserializer<serde_json::Error> = k.into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let v = self
            .value
            .take()
            .ok_or_else(|| <serde_json::Error as de::Error>::custom("a map value without key"))?;
        seed.deserialize(Lenient(v))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

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

    #[derive(Debug, PartialEq, Deserialize)]
    struct Item {
        id: String,
        #[serde(default)]
        n: Option<u64>,
        #[serde(default)]
        f: Option<f64>,
    }

    /// The items of `body` read in pieces cut at `cuts`, or the error.
    fn items_in_pieces(body: &[u8], cuts: &[usize]) -> Result<Vec<Item>, serde_json::Error> {
        let mut reader = super::DataItems::<Item>::new();
        let mut out = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([&body.len()]) {
            reader.feed(&body[from..cut], |i| {
                out.push(i);
                Ok::<_, serde_json::Error>(())
            })?;
            from = cut;
        }
        reader.finish(|i| {
            out.push(i);
            Ok::<_, serde_json::Error>(())
        })?;
        Ok(out)
    }

    #[test]
    fn data_items_read_in_pieces_as_the_whole_answer_reads() {
        let bodies: &[&str] = &[
            r#"{"data":[{"id":"a","n":"5","f":1.5e3},{"id":"b\"}]","n":7,"f":-0.25}]}"#,
            " { \"data\" : [ { \"id\" : \"a\" } , {\"id\":\"\\u00e9\",\"n\":12345678} ] } \n",
            r#"{"data":[]}"#,
            r#"{"data":[{"id":"x","n":1.0}],"total":"2"}"#,
            r#"{"total":2,"data":[{"id":"x"}]}"#,
            r#"{"data":[{"id":"x"}],"total":"abc"}"#,
            r#"{"data":[{"id":"x"}],"data":[]}"#,
            r#"{"data":null}"#,
            r#"{"data":[{"id":"x"},]}"#,
            r#"{"data":[{"id":"x"}"#,
            r#"{"data":[{"id":"x"}]"#,
            r#"{"data":[{"id":"x"}]} x"#,
            r#"{"data":[{"id":"x"} {"id":"y"}]}"#,
            r#"{"data":[{"n":1}]}"#,
            r#"{"data":[1]}"#,
            r#"{"data":[12,{"id":"y"}]}"#,
            r#"{"data":[{"id":"x","n":-1.5}]}"#,
            r#"{"data":[{"id":"x","f":1.}]}"#,
            r#"{"dat":[]}"#,
            "",
        ];
        for body in bodies {
            let b = body.as_bytes();
            let whole = super::from_slice::<crate::Envelope<Vec<Item>>>(b).map(|e| e.data);
            let check = |cuts: &[usize]| {
                let pieces = items_in_pieces(b, cuts);
                match (&whole, &pieces) {
                    (Ok(a), Ok(p)) => assert_eq!(a, p, "{body} cut at {cuts:?}"),
                    (Err(_), Err(_)) => {}
                    _ => panic!("{body} cut at {cuts:?}: whole {whole:?}, in pieces {pieces:?}"),
                }
            };
            check(&[]);
            for cut in 0..=b.len() {
                check(&[cut]);
            }
            check(&(0..b.len()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn data_items_read_a_long_list_in_chunks_of_any_size() {
        let mut body = String::from(r#"{"data":["#);
        for i in 0..2000u64 {
            if i > 0 {
                body.push(',');
            }
            // Now and then an item much longer than the chunks.
            let id = if i % 500 == 7 {
                "x".repeat(20_000)
            } else {
                format!("item{i}")
            };
            body.push_str(&format!(r#"{{"id":"{id}","n":"{i}","f":{i}.5}}"#));
        }
        body.push_str(r#"],"total":2000}"#);
        let b = body.as_bytes();
        let whole = super::from_slice::<crate::Envelope<Vec<Item>>>(b)
            .unwrap()
            .data;
        let mut seed = 12345u64;
        for max in [1usize, 7, 300, 4096, 70_000] {
            let mut cuts = Vec::new();
            let mut at = 0;
            loop {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                at += 1 + (seed >> 33) as usize % max;
                if at >= b.len() {
                    break;
                }
                cuts.push(at);
            }
            assert_eq!(
                items_in_pieces(b, &cuts).unwrap(),
                whole,
                "chunks up to {max}"
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(serde_json::from_str::<T>(r#"{"b":"yes","f":1}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"b":1,"f":"x"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"b":1,"f":1,"u":-1}"#).is_err());
    }
}

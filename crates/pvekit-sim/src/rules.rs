//! Parameter rules of API methods, and the validation Proxmox VE applies to them.
//!
//! One [`EndpointRule`] describes a method (`GET /nodes/{node}/lxc`): its parameters with type,
//! optionality, enumeration, bounds, length and format. The simulator's own table is written by
//! hand (see [`crate::endpoint_rules`]); [`crate::conformance`] builds the same structures from the
//! official schema file, so the two can be compared and the same validator can check requests
//! against either.
//!
//! [`validate`] reproduces pve-common's JSONSchema checks and their error texts, for example
//! `type check ('boolean') failed - got 'true'` or
//! `property is not defined in schema and the schema does not allow additional properties`.

use std::collections::BTreeMap;

use serde_json::Value;

/// JSON schema types of parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// `string`
    String,
    /// `integer`
    Integer,
    /// `number`
    Number,
    /// `boolean` (`1`/`0` in form or query encoding)
    Boolean,
}

impl ParamType {
    /// The schema's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
        }
    }

    /// Parses a schema type name.
    pub fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "string" => ParamType::String,
            "integer" => ParamType::Integer,
            "number" => ParamType::Number,
            "boolean" => ParamType::Boolean,
            _ => return None,
        })
    }
}

/// One key of a property-string format (`name=eth0,bridge=vmbr0,...`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyRule {
    /// The key.
    pub name: String,
    /// Whether the key may be left out.
    pub optional: bool,
    /// Whether a bare value (without `key=`) means this key.
    pub default_key: bool,
}

/// The `format` of a string parameter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum ParamFormat {
    /// A named format such as `pve-node` or `dns-name`.
    Named(String),
    /// A property string with these keys.
    PropertyString(Vec<KeyRule>),
}

/// The rule for one parameter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParamRule {
    /// The parameter name; indexed families are written like the schema, `net[n]`.
    pub name: String,
    /// The value type.
    pub ty: ParamType,
    /// Whether it may be left out.
    pub optional: bool,
    /// Allowed values, if restricted.
    pub enum_values: Option<Vec<String>>,
    /// Smallest allowed value (integer/number).
    pub minimum: Option<f64>,
    /// Largest allowed value (integer/number).
    pub maximum: Option<f64>,
    /// Longest allowed string.
    pub max_length: Option<u64>,
    /// The format of a string.
    pub format: Option<ParamFormat>,
    /// A regular expression the value must match (checked for the few patterns the simulator
    /// knows; others are accepted).
    pub pattern: Option<String>,
    /// Another parameter this one requires.
    pub requires: Option<String>,
    /// For `name[n]` families: how many indexes exist (`net0`..`net31` is 32); `None` accepts
    /// any index.
    pub index_count: Option<u32>,
}

impl ParamRule {
    /// A new required parameter of the given type.
    pub fn new(name: &str, ty: ParamType) -> ParamRule {
        ParamRule {
            name: name.to_string(),
            ty,
            optional: false,
            enum_values: None,
            minimum: None,
            maximum: None,
            max_length: None,
            format: None,
            pattern: None,
            requires: None,
            index_count: None,
        }
    }

    /// The family prefix of an indexed parameter (`net` for `net[n]`).
    pub fn family(&self) -> Option<&str> {
        self.name.strip_suffix("[n]")
    }

    /// Whether a concrete parameter name belongs to this rule (`net3` to `net[n]`).
    pub fn matches(&self, name: &str) -> bool {
        match self.family() {
            None => self.name == name,
            Some(prefix) => name
                .strip_prefix(prefix)
                .filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
                .filter(|d| d.len() == 1 || !d.starts_with('0'))
                .and_then(|d| d.parse::<u32>().ok())
                .is_some_and(|i| self.index_count.is_none_or(|n| i < n)),
        }
    }
}

/// The rule for one API method.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EndpointRule {
    /// HTTP method.
    pub method: String,
    /// Path template below `/api2/json`, such as `/nodes/{node}/lxc/{vmid}/config`.
    pub path: String,
    /// Whether API tokens may call it.
    pub allow_token: bool,
    /// Whether the call is proxied to the node named in `{node}`.
    pub proxy_to_node: bool,
    /// The parameters, path placeholders included.
    pub params: Vec<ParamRule>,
    /// Who may call it.
    pub permission: Permission,
}

/// Who may call a method: the schema's `permissions`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// `user: world`: anyone, without logging in.
    World,
    /// `user: all`: anyone logged in; the handler shows only what the caller may see.
    All,
    /// `check: [perm, PATH, PRIVS]`: every privilege on the path (or, with `any`, one of
    /// them). The path may hold `{node}` and `{vmid}`, filled from the request.
    Check {
        /// The ACL path template.
        path: String,
        /// The privileges.
        privs: Vec<String>,
        /// Whether one of them is enough.
        any: bool,
    },
    /// `check: [or, CHECK, CHECK, ...]`: one of the checks passes.
    Or(Vec<Permission>),
    /// `[userid-param, self]`: the `userid` parameter is the caller, an existing user.
    UseridSelf,
    /// `[userid-group, PRIVS]`: one of the privileges on `/access/groups` (or on a group of
    /// the user named by the `userid` parameter, which must exist).
    UseridGroup {
        /// The privileges.
        privs: Vec<String>,
    },
    /// `check: [perm-modify, PATH]`: `Permissions.Modify` on the path, or the privilege
    /// that allocates what the path names (`VM.Allocate` below `/vms`, ...).
    PermModify {
        /// The ACL path template (`{path}`: the `path` parameter).
        path: String,
    },
}

impl Permission {
    /// `check` with every privilege required.
    pub fn check(path: &str, privs: &[&str]) -> Permission {
        Permission::Check {
            path: path.to_string(),
            privs: privs.iter().map(|p| p.to_string()).collect(),
            any: false,
        }
    }

    /// `check` with one of the privileges enough.
    pub fn check_any(path: &str, privs: &[&str]) -> Permission {
        Permission::Check {
            path: path.to_string(),
            privs: privs.iter().map(|p| p.to_string()).collect(),
            any: true,
        }
    }

    /// Reads the schema's `permissions` object; `None` for a form this table does not know.
    pub fn from_schema(v: &serde_json::Value) -> Option<Permission> {
        if let Some(user) = v.get("user").and_then(serde_json::Value::as_str) {
            return match user {
                "world" => Some(Permission::World),
                "all" => Some(Permission::All),
                _ => None,
            };
        }
        Permission::from_check(v.get("check")?.as_array()?)
    }

    /// Reads one `check` array (pve-access-control's `exec_api2_perm_check` forms: `perm`,
    /// `or`, `userid-param self`, `userid-group`, `perm-modify`).
    fn from_check(check: &[serde_json::Value]) -> Option<Permission> {
        let strs = |v: &serde_json::Value| {
            v.as_array()?
                .iter()
                .map(|p| p.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        };
        match check.first()?.as_str()? {
            "perm" => {}
            "or" => {
                return check[1..]
                    .iter()
                    .map(|c| Permission::from_check(c.as_array()?))
                    .collect::<Option<Vec<_>>>()
                    .map(Permission::Or);
            }
            "userid-param" if check.len() == 2 && check[1].as_str() == Some("self") => {
                return Some(Permission::UseridSelf);
            }
            "userid-group" if check.len() == 2 => {
                return Some(Permission::UseridGroup {
                    privs: strs(&check[1])?,
                });
            }
            "perm-modify" if check.len() == 2 => {
                return Some(Permission::PermModify {
                    path: check[1].as_str()?.to_string(),
                });
            }
            _ => return None,
        }
        let path = check.get(1)?.as_str()?.to_string();
        let privs = check
            .get(2)?
            .as_array()?
            .iter()
            .map(|p| p.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?;
        let any = match (check.get(3), check.get(4)) {
            (None, _) => false,
            (Some(k), Some(v)) if k.as_str() == Some("any") => {
                v.as_u64() == Some(1) || v.as_bool() == Some(true)
            }
            _ => return None,
        };
        Some(Permission::Check { path, privs, any })
    }
}

impl EndpointRule {
    /// The rule of a concrete parameter name.
    pub fn param(&self, name: &str) -> Option<&ParamRule> {
        self.params.iter().find(|p| p.matches(name))
    }

    /// Matches a concrete path (below `/api2/json`) and returns the placeholder values.
    pub fn match_path(&self, path: &str) -> Option<Vec<(String, String)>> {
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        let mut out = Vec::new();
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(out),
                (Some(w), Some(g)) => {
                    if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                        if g.is_empty() {
                            return None;
                        }
                        out.push((name.to_string(), g.to_string()));
                    } else if w != g {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

/// Finds the rule for a method and a concrete path; returns it with the placeholder values.
pub fn find<'a>(
    rules: &'a [EndpointRule],
    method: &str,
    path: &str,
) -> Option<(&'a EndpointRule, Vec<(String, String)>)> {
    rules
        .iter()
        .filter(|r| r.method == method)
        .find_map(|r| r.match_path(path).map(|m| (r, m)))
}

/// Checks parameters (path placeholders merged in) against a rule. Values are JSON: form and
/// query values are strings, a JSON body may carry numbers and booleans. Returns the `errors`
/// map of a 400 "Parameter verification failed." on failure.
pub fn validate(
    rule: &EndpointRule,
    params: &BTreeMap<String, Value>,
) -> Result<(), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    for (name, value) in params {
        match rule.param(name) {
            None => {
                errors.insert(
                    name.clone(),
                    "property is not defined in schema and the schema does not allow additional properties"
                        .to_string(),
                );
            }
            Some(p) => {
                if let Err(e) = check_value(p, value) {
                    errors.insert(name.clone(), e);
                } else if let Some(req) = &p.requires
                    && !params.contains_key(req)
                {
                    errors.insert(
                        req.clone(),
                        format!("missing property - '{name}' requires this property"),
                    );
                }
            }
        }
    }
    for p in &rule.params {
        if !p.optional && p.family().is_none() && !params.contains_key(&p.name) {
            errors.insert(
                p.name.clone(),
                "property is missing and it is not optional".to_string(),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}

fn is_integer_text(s: &str) -> bool {
    let d = s.strip_prefix(['-', '+']).unwrap_or(s);
    !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
}

fn is_number_text(s: &str) -> bool {
    let d = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match d.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (d, None),
    };
    let mant_ok = match mant.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => !mant.is_empty() && mant.bytes().all(|c| c.is_ascii_digit()),
    };
    mant_ok && exp.is_none_or(is_integer_text)
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Checks one value against its rule; the error text is pve-common's.
fn check_value(p: &ParamRule, value: &Value) -> Result<(), String> {
    let ty = p.ty.as_str();
    let text = match (p.ty, value) {
        (ParamType::Boolean, Value::Bool(b)) => Some(if *b { "1" } else { "0" }.to_string()),
        (_, v) => scalar_text(v),
    };
    let Some(text) = text else {
        let got = if value.is_array() { "ARRAY" } else { "HASH" };
        return Err(format!("type check ('{ty}') failed - got {got}"));
    };
    let type_err = || format!("type check ('{ty}') failed - got '{text}'");
    match p.ty {
        ParamType::Boolean => {
            if text != "1" && text != "0" {
                return Err(type_err());
            }
        }
        ParamType::Integer | ParamType::Number => {
            let ok = if p.ty == ParamType::Integer {
                is_integer_text(&text)
            } else {
                is_number_text(&text)
            };
            if !ok {
                return Err(type_err());
            }
            let x: f64 = text.parse().map_err(|_| type_err())?;
            if let Some(min) = p.minimum
                && x < min
            {
                return Err(format!(
                    "value must have a minimum value of {}",
                    fmt_num(min)
                ));
            }
            if let Some(max) = p.maximum
                && x > max
            {
                return Err(format!(
                    "value must have a maximum value of {}",
                    fmt_num(max)
                ));
            }
        }
        ParamType::String => {
            if let Some(max) = p.max_length
                && text.chars().count() as u64 > max
            {
                return Err(format!("value may only be {max} characters long"));
            }
        }
    }
    if let Some(values) = &p.enum_values
        && !values.contains(&text)
    {
        return Err(format!(
            "value '{text}' does not have a value in the enumeration '{}'",
            values.join(", ")
        ));
    }
    if let Some(pattern) = &p.pattern
        && !crate::formats::check_pattern(pattern, &text)
    {
        return Err("value does not match the regex pattern".to_string());
    }
    match &p.format {
        None => {}
        Some(ParamFormat::Named(f)) => {
            crate::formats::check_named(f, &text).map_err(|e| format!("invalid format - {e}\n"))?
        }
        Some(ParamFormat::PropertyString(keys)) => {
            crate::formats::check_property_string(keys, &text)
                .map_err(|e| format!("invalid format - {e}\n"))?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert!(is_number_text("1.5"));
        assert!(is_number_text("-2"));
        assert!(is_number_text(".5"));
        assert!(is_number_text("1e3"));
        assert!(!is_number_text("abc"));
        assert!(!is_number_text("."));
        assert!(is_integer_text("100"));
        assert!(!is_integer_text("1.0"));
    }

    #[test]
    fn indexed_names() {
        let mut r = ParamRule::new("net[n]", ParamType::String);
        r.index_count = Some(32);
        assert!(r.matches("net0"));
        assert!(r.matches("net31"));
        assert!(!r.matches("net32"));
        assert!(!r.matches("net"));
        assert!(!r.matches("net01"));
        assert!(!r.matches("netx"));
    }
}

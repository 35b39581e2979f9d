//! Cross-checks against the official Proxmox VE API schema file.
//!
//! [`SchemaSet::load`] reads `schema-subset.json` (the endpoints pvekit uses, taken from
//! pve-docs' apidata.js) and turns each method's parameters into the same [`EndpointRule`]s the
//! simulator's hand-written table uses. With it, tests can
//!
//! - compare the simulator's table with the schema ([`SchemaSet::compare_rules`]),
//! - check any request a client sent ([`SchemaSet::check_request`], e.g. over
//!   [`RunningSim::requests`](crate::RunningSim::requests)),
//! - check a response's `data` against the method's `returns` ([`SchemaSet::check_response`]).
//!
//! ```no_run
//! # fn demo() -> Result<(), String> {
//! let schema = pvekit_sim::conformance::SchemaSet::load(&pvekit_sim::conformance::SchemaSet::default_path())?;
//! let params = vec![("type".to_string(), "vm".to_string())];
//! schema.check_request("GET", "/cluster/resources", &params).map_err(|e| e.join("; "))?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::rules::{self, EndpointRule, KeyRule, ParamFormat, ParamRule, ParamType, Permission};

/// One method of the schema file.
#[derive(Debug, Clone)]
struct SchemaEndpoint {
    rule: EndpointRule,
    returns: Value,
}

/// The methods of a schema file, ready for checks.
#[derive(Debug, Clone)]
pub struct SchemaSet {
    endpoints: Vec<SchemaEndpoint>,
}

fn as_f64(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "1",
        _ => false,
    }
}

fn param_from_schema(name: &str, s: &Value) -> Result<ParamRule, String> {
    let ty = s
        .get("type")
        .and_then(Value::as_str)
        .and_then(ParamType::parse)
        .ok_or_else(|| format!("parameter {name}: unsupported type {:?}", s.get("type")))?;
    let mut p = ParamRule::new(name, ty);
    p.optional = truthy(s.get("optional"));
    p.enum_values = s.get("enum").and_then(Value::as_array).map(|a| {
        a.iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect()
    });
    p.minimum = as_f64(s.get("minimum"));
    p.maximum = as_f64(s.get("maximum"));
    p.max_length = s.get("maxLength").and_then(Value::as_u64);
    p.pattern = s.get("pattern").and_then(Value::as_str).map(str::to_string);
    p.requires = s
        .get("requires")
        .and_then(Value::as_str)
        .map(str::to_string);
    p.format = match s.get("format") {
        Some(Value::String(f)) => Some(ParamFormat::Named(f.clone())),
        Some(Value::Object(keys)) => Some(ParamFormat::PropertyString(
            keys.iter()
                .map(|(k, v)| KeyRule {
                    name: k.clone(),
                    optional: truthy(v.get("optional")),
                    default_key: truthy(v.get("default_key")),
                })
                .collect(),
        )),
        _ => None,
    };
    Ok(p)
}

/// Endpoints the simulator serves that the schema subset lacks, each with the source its
/// rule was written from: (method, path, source). [`SchemaSet::compare_rules`] tolerates them.
pub const EXTENSIONS: &[(&str, &str, &str)] = &[(
    "GET",
    "/nodes/{node}/journal",
    "pve-manager PVE/API2/Nodes.pm `journal` (since, until, lastentries, startcursor, endcursor; \
     proxyto node; returns an array of lines)",
)];

/// Whether a concrete request (path below `/api2/json`, query ignored) is one of the
/// [`EXTENSIONS`], which the simulator validates with its own rules.
pub fn is_extension(method: &str, path: &str) -> bool {
    let path = path.strip_prefix("/api2/json").unwrap_or(path);
    let path = path.split('?').next().unwrap_or(path);
    EXTENSIONS.iter().any(|(m, template, _)| {
        m.eq_ignore_ascii_case(method) && {
            let want: Vec<&str> = template.split('/').collect();
            let got: Vec<&str> = path.split('/').collect();
            want.len() == got.len()
                && want.iter().zip(&got).all(|(w, g)| {
                    if w.starts_with('{') {
                        !g.is_empty()
                    } else {
                        w == g
                    }
                })
        }
    })
}

impl SchemaSet {
    /// Where the schema file lives: `$PVEKIT_SCHEMA`, else the project's own copy,
    /// `crates/pvekit-sim/schema/schema-subset.json` (see the README beside it).
    pub fn default_path() -> PathBuf {
        match std::env::var_os("PVEKIT_SCHEMA") {
            Some(p) => PathBuf::from(p),
            None => Self::project_copy(),
        }
    }

    /// The project's copy of the schema subset.
    pub fn project_copy() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/schema-subset.json")
    }

    /// Loads the schema file at [`SchemaSet::default_path`].
    ///
    /// # Errors
    /// The file is missing, unreadable or malformed.
    pub fn load_default() -> Result<SchemaSet, String> {
        SchemaSet::load(&SchemaSet::default_path())
    }

    /// Loads a schema file.
    ///
    /// # Errors
    /// The file cannot be read or does not have the expected shape.
    pub fn load(path: &Path) -> Result<SchemaSet, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read schema {}: {e}", path.display()))?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| format!("schema {}: {e}", path.display()))?;
        let list = doc
            .get("endpoints")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("schema {}: no `endpoints` array", path.display()))?;
        let mut endpoints = Vec::with_capacity(list.len());
        for e in list {
            let method = e
                .get("method")
                .and_then(Value::as_str)
                .ok_or("endpoint without method")?;
            let path = e
                .get("path")
                .and_then(Value::as_str)
                .ok_or("endpoint without path")?;
            let mut params = Vec::new();
            if let Some(props) = e
                .pointer("/parameters/properties")
                .and_then(Value::as_object)
            {
                for (name, s) in props {
                    params.push(
                        param_from_schema(name, s).map_err(|m| format!("{method} {path}: {m}"))?,
                    );
                }
            }
            params.sort_by(|a, b| a.name.cmp(&b.name));
            endpoints.push(SchemaEndpoint {
                rule: EndpointRule {
                    method: method.to_string(),
                    path: path.to_string(),
                    allow_token: truthy(e.get("allowtoken")),
                    proxy_to_node: e.get("proxyto").and_then(Value::as_str) == Some("node"),
                    params,
                    permission: e
                        .get("permissions")
                        .and_then(Permission::from_schema)
                        .ok_or_else(|| format!("{method} {path}: unknown permissions form"))?,
                },
                returns: e.get("returns").cloned().unwrap_or(Value::Null),
            });
        }
        Ok(SchemaSet { endpoints })
    }

    /// The rules of all methods in the file.
    pub fn rules(&self) -> Vec<EndpointRule> {
        self.endpoints.iter().map(|e| e.rule.clone()).collect()
    }

    fn find(&self, method: &str, path: &str) -> Option<(&SchemaEndpoint, Vec<(String, String)>)> {
        let path = path.strip_prefix("/api2/json").unwrap_or(path);
        let path = path.split('?').next().unwrap_or(path);
        self.endpoints
            .iter()
            .filter(|e| e.rule.method.eq_ignore_ascii_case(method))
            .find_map(|e| {
                if e.rule.path == path {
                    return Some((e, Vec::new()));
                }
                e.rule.match_path(path).map(|m| (e, m))
            })
    }

    /// Lists every difference between `ours` and the schema: missing or extra methods and
    /// parameters, and parameters whose type, optionality, enumeration, bounds, length, format,
    /// `requires` or token permission differ. Empty means the tables agree.
    pub fn compare_rules(&self, ours: &[EndpointRule]) -> Vec<String> {
        let mut diffs = Vec::new();
        for e in &self.endpoints {
            let theirs = &e.rule;
            let Some(mine) = ours
                .iter()
                .find(|r| r.method == theirs.method && r.path == theirs.path)
            else {
                diffs.push(format!(
                    "{} {}: missing from the table",
                    theirs.method, theirs.path
                ));
                continue;
            };
            let at = format!("{} {}", theirs.method, theirs.path);
            if mine.allow_token != theirs.allow_token {
                diffs.push(format!("{at}: allowtoken differs"));
            }
            if mine.proxy_to_node != theirs.proxy_to_node {
                diffs.push(format!("{at}: proxyto differs"));
            }
            if mine.permission != theirs.permission {
                diffs.push(format!(
                    "{at}: permissions {:?} vs schema {:?}",
                    mine.permission, theirs.permission
                ));
            }
            let a: BTreeSet<&str> = mine.params.iter().map(|p| p.name.as_str()).collect();
            let b: BTreeSet<&str> = theirs.params.iter().map(|p| p.name.as_str()).collect();
            for extra in a.difference(&b) {
                diffs.push(format!("{at}: parameter {extra} is not in the schema"));
            }
            for missing in b.difference(&a) {
                diffs.push(format!(
                    "{at}: parameter {missing} is missing from the table"
                ));
            }
            for t in &theirs.params {
                let Some(m) = mine.params.iter().find(|p| p.name == t.name) else {
                    continue;
                };
                let n = &t.name;
                // Each attribute the table states must equal the schema's.
                let mut differ = |what: &str, mine: String, schema: String| {
                    if mine != schema {
                        diffs.push(format!("{at}: {n}: {what} {mine} vs schema {schema}"));
                    }
                };
                differ("type", format!("{:?}", m.ty), format!("{:?}", t.ty));
                differ("optional", m.optional.to_string(), t.optional.to_string());
                differ(
                    "enum",
                    format!("{:?}", m.enum_values),
                    format!("{:?}", t.enum_values),
                );
                differ(
                    "minimum",
                    format!("{:?}", m.minimum),
                    format!("{:?}", t.minimum),
                );
                differ(
                    "maximum",
                    format!("{:?}", m.maximum),
                    format!("{:?}", t.maximum),
                );
                differ(
                    "maxLength",
                    format!("{:?}", m.max_length),
                    format!("{:?}", t.max_length),
                );
                differ(
                    "requires",
                    format!("{:?}", m.requires),
                    format!("{:?}", t.requires),
                );
                differ(
                    "pattern",
                    format!("{:?}", m.pattern),
                    format!("{:?}", t.pattern),
                );
                let same_format = match (&m.format, &t.format) {
                    (None, None) => true,
                    (Some(ParamFormat::Named(x)), Some(ParamFormat::Named(y))) => x == y,
                    (
                        Some(ParamFormat::PropertyString(x)),
                        Some(ParamFormat::PropertyString(y)),
                    ) => {
                        let norm = |k: &[KeyRule]| {
                            let mut v: Vec<(String, bool, bool)> = k
                                .iter()
                                .map(|k| (k.name.clone(), k.optional, k.default_key))
                                .collect();
                            v.sort();
                            v
                        };
                        norm(x) == norm(y)
                    }
                    _ => false,
                };
                if !same_format {
                    diffs.push(format!(
                        "{at}: {n}: format {:?} vs schema {:?}",
                        m.format, t.format
                    ));
                }
            }
        }
        for r in ours {
            let extension = EXTENSIONS
                .iter()
                .any(|(m, p, _)| *m == r.method && *p == r.path);
            if !extension
                && !self
                    .endpoints
                    .iter()
                    .any(|e| e.rule.method == r.method && e.rule.path == r.path)
            {
                diffs.push(format!("{} {}: not in the schema", r.method, r.path));
            }
        }
        diffs
    }

    /// One line per recorded request outside the schema (the simulator's documented
    /// [`EXTENSIONS`] excepted, its own rules check those): `METHOD PATH: problems`.
    pub fn off_schema(&self, requests: &[crate::RecordedRequest]) -> Vec<String> {
        requests
            .iter()
            .filter(|r| !is_extension(&r.method, &r.path))
            .filter_map(|r| {
                self.check_request(&r.method, &r.path, &r.params)
                    .err()
                    .map(|errs| format!("{} {}: {}", r.method, r.path, errs.join("; ")))
            })
            .collect()
    }

    /// Checks a request against the schema: `path` is concrete (`/nodes/pve1/lxc/101/config`,
    /// with or without `/api2/json`) or a template; `params` are the query and body
    /// parameters as sent. Returns every problem found.
    ///
    /// # Errors
    /// Unknown method/path, or the parameter errors the real server would report.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        params: &[(String, String)],
    ) -> Result<(), Vec<String>> {
        let Some((e, path_params)) = self.find(method, path) else {
            return Err(vec![format!("{method} {path}: not in the schema")]);
        };
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in params {
            if k != "_dc" {
                map.insert(k.clone(), Value::String(v.clone()));
            }
        }
        let is_template = path_params.is_empty() && e.rule.path.contains('{');
        for (k, v) in path_params {
            map.insert(k, Value::String(v));
        }
        let mut rule = e.rule.clone();
        if is_template {
            // A template path carries no placeholder values; do not ask for them.
            for p in &mut rule.params {
                if e.rule.path.contains(&format!("{{{}}}", p.name)) {
                    p.optional = true;
                }
            }
        }
        rules::validate(&rule, &map).map_err(|errors| {
            errors
                .into_iter()
                .map(|(k, v)| format!("{method} {path}: {k}: {}", v.trim_end()))
                .collect()
        })
    }

    /// Checks the `data` of a successful response against the method's `returns`: JSON types
    /// (booleans as 0/1 integers, Perl's numeric strings accepted for `number`), required
    /// properties present, enumerations, and no extra properties where the schema forbids them.
    ///
    /// # Errors
    /// Every mismatch, with a JSON-pointer-like location.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        data: &Value,
    ) -> Result<(), Vec<String>> {
        let Some((e, _)) = self.find(method, path) else {
            return Err(vec![format!("{method} {path}: not in the schema")]);
        };
        let mut errors = Vec::new();
        check_value(&e.returns, data, "data", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "integer" => v.is_i64() || v.is_u64(),
        "number" => {
            v.is_number()
                || v.as_str()
                    .is_some_and(|s| !s.is_empty() && s.parse::<f64>().is_ok())
        }
        "string" => v.is_string(),
        "boolean" => v.as_u64().is_some_and(|n| n <= 1),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn check_value(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(ty) = schema.get("type").and_then(Value::as_str) else {
        return;
    };
    if v.is_null() && ty != "null" && truthy(schema.get("optional")) {
        return;
    }
    if !type_ok(ty, v) {
        errors.push(format!("{at}: expected {ty}, got {v}"));
        return;
    }
    if let (Some(values), Some(s)) = (schema.get("enum").and_then(Value::as_array), v.as_str())
        && !values.iter().any(|x| x.as_str() == Some(s))
    {
        errors.push(format!("{at}: '{s}' is not one of {values:?}"));
    }
    match ty {
        "array" => {
            if let (Some(items), Some(list)) = (schema.get("items"), v.as_array()) {
                for (i, item) in list.iter().enumerate() {
                    check_value(items, item, &format!("{at}[{i}]"), errors);
                }
            }
        }
        "object" => {
            let Some(obj) = v.as_object() else { return };
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(props) = props {
                for (name, ps) in props {
                    if let Some(family) = name.strip_suffix("[n]") {
                        for (k, val) in obj {
                            let idx = k.strip_prefix(family);
                            if idx.is_some_and(|d| {
                                !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
                            }) {
                                check_value(ps, val, &format!("{at}.{k}"), errors);
                            }
                        }
                        continue;
                    }
                    match obj.get(name) {
                        Some(val) => check_value(ps, val, &format!("{at}.{name}"), errors),
                        None if !truthy(ps.get("optional")) => {
                            errors.push(format!("{at}.{name}: missing (not optional)"));
                        }
                        None => {}
                    }
                }
            }
            let forbids_extra = matches!(schema.get("additionalProperties"), Some(Value::Number(n)) if n.as_u64() == Some(0));
            if forbids_extra {
                for k in obj.keys() {
                    let known = props.is_some_and(|p| {
                        p.contains_key(k)
                            || p.keys().any(|n| {
                                n.strip_suffix("[n]").is_some_and(|f| {
                                    k.strip_prefix(f).is_some_and(|d| {
                                        !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
                                    })
                                })
                            })
                    });
                    if !known {
                        errors.push(format!("{at}.{k}: not allowed by the schema"));
                    }
                }
            }
        }
        _ => {}
    }
}

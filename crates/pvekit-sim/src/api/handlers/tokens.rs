//! The API tokens of a user: pve-access-control src/PVE/API2/User.pm (`token_index`,
//! `read_token`, `generate_token`, `update_token_info`, `remove_token`).
//!
//! A token created here works at once (`Authorization: PVEAPIToken=user@realm!name=value`),
//! one removed fails at once (401). What the methods answer:
//!
//! - the list and a token's read come from the stored configuration, as user.cfg parses it:
//!   `privsep` 0/1 and `expire` (0: never) as integers, `comment` when set, and `tokenid`
//!   in the list;
//! - `POST` answers `{"full-tokenid", "info", "value"}`; `info` holds the parameters as the
//!   handler stored them before writing: `privsep` as sent (a form's `"1"` stays a string,
//!   left out it is the number 1), `expire` only when sent, `comment` only when not empty;
//! - `PUT` answers the stored token with the sent values put over it, in the same way.

use serde_json::{Map, Value, json};

use super::b01;
use crate::api::Call;
use crate::error::ApiError;
use crate::usercfg::{TokenCfg, UserCfg, split_list};

/// A parameter as the Perl handler holds it: a string stays a string, a number a number,
/// and a JSON boolean becomes 1/0.
fn as_sent(v: &Value) -> Value {
    match v {
        Value::Bool(b) => b01(*b),
        other => other.clone(),
    }
}

/// Perl truth of a parameter value (`""` and `"0"` are false).
fn truthy(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty() && s != "0",
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::Bool(b) => *b,
        _ => false,
    }
}

/// A token as user.cfg gives it back.
fn stored(t: &TokenCfg) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("privsep".into(), b01(t.privsep));
    m.insert("expire".into(), Value::from(t.expire));
    if let Some(c) = &t.comment {
        m.insert("comment".into(), Value::from(c.clone()));
    }
    m
}

/// `check_user_exist`: `no such user ('<userid>')`.
fn user_exists(cfg: &UserCfg, userid: &str) -> Result<(), ApiError> {
    if cfg.user_exists(userid) {
        Ok(())
    } else {
        Err(ApiError::internal(format!("no such user ('{userid}')\n")))
    }
}

/// `check_token_exist`: the user's error first, then `no such token '<name>' for user
/// '<userid>'`.
fn token_exists<'a>(cfg: &'a UserCfg, userid: &str, name: &str) -> Result<&'a TokenCfg, ApiError> {
    user_exists(cfg, userid)?;
    cfg.token(userid, name)
        .ok_or_else(|| ApiError::internal(format!("no such token '{name}' for user '{userid}'\n")))
}

fn ids(call: &Call<'_>) -> (String, String) {
    (
        call.str("userid").unwrap_or_default(),
        call.str("tokenid").unwrap_or_default(),
    )
}

/// GET /access/users/{userid}/token: the user's tokens, by name.
pub(crate) fn list(call: &Call<'_>) -> Result<Value, ApiError> {
    let (userid, _) = ids(call);
    let cfg = call.state.auth.cfg();
    user_exists(&cfg, &userid)?;
    let tokens = &cfg.users[&userid].tokens;
    Ok(Value::Array(
        tokens
            .iter()
            .map(|(name, t)| {
                let mut m = stored(t);
                m.insert("tokenid".into(), Value::from(name.clone()));
                Value::Object(m)
            })
            .collect(),
    ))
}

/// GET /access/users/{userid}/token/{tokenid}.
pub(crate) fn read(call: &Call<'_>) -> Result<Value, ApiError> {
    let (userid, name) = ids(call);
    let cfg = call.state.auth.cfg();
    Ok(Value::Object(stored(token_exists(&cfg, &userid, &name)?)))
}

/// POST /access/users/{userid}/token/{tokenid}: a new token and its secret (a UUID, as
/// PVE::TokenConfig `generate_token` makes it), shown this once.
pub(crate) fn create(call: &Call<'_>) -> Result<Value, ApiError> {
    let (userid, name) = ids(call);
    let mut cfg = call.state.auth.cfg_mut();
    user_exists(&cfg, &userid)?;
    if cfg.token(&userid, &name).is_some() {
        return Err(ApiError::param("tokenid", "Token already exists."));
    }
    let mut info = Map::new();
    info.insert(
        "privsep".into(),
        call.params.get("privsep").map_or(Value::from(1), as_sent),
    );
    if let Some(e) = call.params.get("expire") {
        info.insert("expire".into(), as_sent(e));
    }
    if let Some(c) = call.params.get("comment").filter(|c| truthy(c)) {
        info.insert("comment".into(), as_sent(c));
    }
    let secret = crate::auth::random_uuid();
    let token = TokenCfg {
        secret: secret.clone(),
        privsep: call.params.get("privsep").is_none_or(truthy),
        expire: call.uint("expire").unwrap_or(0),
        comment: call.str("comment").filter(|c| !c.is_empty() && c != "0"),
    };
    cfg.users
        .get_mut(&userid)
        .map(|u| u.tokens.insert(name.clone(), token));
    Ok(json!({
        "info": info,
        "value": secret,
        "full-tokenid": format!("{userid}!{name}"),
    }))
}

/// PUT /access/users/{userid}/token/{tokenid}: changes `privsep`, `expire`, `comment`;
/// `delete` may name `comment` only (else the update fails as a whole).
pub(crate) fn update(call: &Call<'_>) -> Result<Value, ApiError> {
    let (userid, name) = ids(call);
    let mut cfg = call.state.auth.cfg_mut();
    let mut reply = stored(token_exists(&cfg, &userid, &name)?);
    let mut token = cfg.token(&userid, &name).cloned().ok_or_else(|| {
        ApiError::internal(format!("no such token '{name}' for user '{userid}'\n"))
    })?;
    if let Some(v) = call.params.get("privsep") {
        reply.insert("privsep".into(), as_sent(v));
        token.privsep = truthy(v);
    }
    if let Some(v) = call.params.get("expire") {
        reply.insert("expire".into(), as_sent(v));
        token.expire = call.uint("expire").unwrap_or(0);
    }
    if let Some(v) = call.params.get("comment") {
        reply.insert("comment".into(), as_sent(v));
        token.comment = call.str("comment");
    }
    if token.comment.as_deref().is_some_and(str::is_empty) {
        reply.remove("comment");
        token.comment = None;
    }
    for key in split_list(&call.str("delete").unwrap_or_default()) {
        if key != "comment" {
            // raise_param_exc inside lock_user_config: the exception is stringified into
            // a plain 500 error after the lock's message.
            return Err(ApiError::internal(format!(
                "updating token info failed: 400 Parameter verification failed.\ndelete: unknown option '{key}'\n"
            )));
        }
        reply.remove("comment");
        token.comment = None;
    }
    if let Some(u) = cfg.users.get_mut(&userid) {
        u.tokens.insert(name, token);
    }
    Ok(Value::Object(reply))
}

/// DELETE /access/users/{userid}/token/{tokenid}: the token stops working at once.
pub(crate) fn remove(call: &Call<'_>) -> Result<Value, ApiError> {
    let (userid, name) = ids(call);
    let mut cfg = call.state.auth.cfg_mut();
    token_exists(&cfg, &userid, &name)?;
    cfg.remove_token(&userid, &name);
    Ok(Value::Null)
}

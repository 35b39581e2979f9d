//! User ids (`user@realm`) and API token ids (`user@realm!token`).

use std::fmt;
use std::str::FromStr;

/// An authenticated identity: a user, or one of a user's API tokens.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuthId {
    user: String,
    realm: String,
    token: Option<String>,
}

/// Why a user or token id could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id has no `@realm` part.
    #[error("'{0}' has no realm: write it as user@realm (for example root@pam)")]
    MissingRealm(String),
    /// A part is empty, too long or holds characters Proxmox VE does not allow.
    #[error("'{0}' is not a valid {1}")]
    Invalid(String, &'static str),
    /// A token id was required but no `!tokenname` was given.
    #[error("'{0}' is not a token id: write it as user@realm!tokenname")]
    NotAToken(String),
}

impl AuthId {
    /// The user name without realm (`root`).
    pub fn user(&self) -> &str {
        &self.user
    }
    /// The realm (`pam`, `pve`, ...).
    pub fn realm(&self) -> &str {
        &self.realm
    }
    /// The token name, for token ids.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
    /// Whether this is an API token id.
    pub fn is_token(&self) -> bool {
        self.token.is_some()
    }
    /// The owning user id, `user@realm`.
    pub fn userid(&self) -> String {
        format!("{}@{}", self.user, self.realm)
    }

    /// Parses a token id and fails unless it has a `!tokenname` part.
    pub fn parse_token(s: &str) -> Result<Self, IdError> {
        let id: AuthId = s.parse()?;
        if id.is_token() {
            Ok(id)
        } else {
            Err(IdError::NotAToken(s.to_string()))
        }
    }

    /// Builds a user id from a user name and a realm, accepting a name that already has one.
    pub fn from_user_realm(user: &str, realm: &str) -> Result<Self, IdError> {
        if user.contains('@') {
            user.parse()
        } else {
            format!("{user}@{realm}").parse()
        }
    }
}

impl FromStr for AuthId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let (userid, token) = match s.split_once('!') {
            Some((u, t)) => (u, Some(t)),
            None => (s, None),
        };
        let (user, realm) = userid
            .rsplit_once('@')
            .ok_or_else(|| IdError::MissingRealm(s.to_string()))?;
        // pve-access-control: user names up to 60 chars without ':', '/', '@' is the realm mark.
        let user_ok = !user.is_empty()
            && user.len() <= 60
            && !user
                .chars()
                .any(|c| c.is_control() || c == ':' || c == '/' || c == '@');
        if !user_ok {
            return Err(IdError::Invalid(s.to_string(), "user name"));
        }
        // Realm ids: [A-Za-z][A-Za-z\d\.\-_]+ (pve-realm format).
        if !crate::names::is_realm(realm) {
            return Err(IdError::Invalid(s.to_string(), "realm"));
        }
        if let Some(t) = token
            && !crate::names::is_token_name(t)
        {
            return Err(IdError::Invalid(
                s.to_string(),
                "token name (letters, digits, '.', '-', '_', starting with a letter)",
            ));
        }
        Ok(AuthId {
            user: user.to_string(),
            realm: realm.to_string(),
            token: token.map(str::to_string),
        })
    }
}

impl fmt::Display for AuthId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.realm)?;
        if let Some(t) = &self.token {
            write!(f, "!{t}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for AuthId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_and_tokens() {
        let u: AuthId = "root@pam".parse().unwrap();
        assert_eq!((u.user(), u.realm(), u.token()), ("root", "pam", None));
        let t = AuthId::parse_token("root@pam!pvekit").unwrap();
        assert_eq!(t.token(), Some("pvekit"));
        assert_eq!(t.userid(), "root@pam");
        assert_eq!(t.to_string(), "root@pam!pvekit");
        assert!(matches!(
            "root".parse::<AuthId>(),
            Err(IdError::MissingRealm(_))
        ));
        assert!(matches!(
            AuthId::parse_token("root@pam"),
            Err(IdError::NotAToken(_))
        ));
        assert!("root@pam!1bad".parse::<AuthId>().is_err());
        assert_eq!(
            AuthId::from_user_realm("root", "pam").unwrap().to_string(),
            "root@pam"
        );
        assert_eq!(
            AuthId::from_user_realm("a@pve", "pam").unwrap().to_string(),
            "a@pve"
        );
    }
}

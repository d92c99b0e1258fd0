//! Bearer tokens and roles. The auth file (TOML) lists each token's name,
//! role and the SHA-256 of the token: the token itself is never stored.
//!
//! ```toml
//! [[tokens]]
//! name = "audit-office"
//! role = "auditor"
//! sha256 = "<64 hex digits: printf %s \"$(openssl rand -hex 32)\" | sha256sum>"
//! ```

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;

/// What a caller may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Any account, its history and chain check, the digest, the monthly
    /// reports and the access log.
    Auditor,
    /// Aggregates only (the digest, the monthly reports); no personal data.
    Reporter,
    /// Health and metrics.
    Operator,
    /// Another instance of this ledger, forwarding an account read on its
    /// caller's behalf (`SI-Ledger-Forwarded-For`): it reads nothing on its
    /// own, and the read is checked and recorded as its caller's.
    Instance,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Auditor => "auditor",
            Role::Reporter => "reporter",
            Role::Operator => "operator",
            Role::Instance => "instance",
        })
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tokens: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    role: Role,
    sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("auth file: {0}")]
    Toml(String),
    #[error("auth file: token {index} ({name}): sha256 must be 64 hex digits")]
    Digest { index: usize, name: String },
    #[error("auth file: tokens {first} and {second} have the same sha256")]
    Twice { first: String, second: String },
}

/// The tokens a server accepts, by the SHA-256 of the token.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_digest: HashMap<[u8; 32], Caller>,
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Tokens {
    pub fn parse(text: &str) -> Result<Tokens, AuthFileError> {
        let file: File = toml::from_str(text).map_err(|e| AuthFileError::Toml(e.to_string()))?;
        let mut by_digest = HashMap::new();
        for (index, e) in file.tokens.into_iter().enumerate() {
            let digest = unhex(&e.sha256.to_ascii_lowercase()).ok_or(AuthFileError::Digest {
                index,
                name: e.name.clone(),
            })?;
            let caller = Caller {
                name: e.name,
                role: e.role,
            };
            if let Some(first) = by_digest.insert(digest, caller.clone()) {
                return Err(AuthFileError::Twice {
                    first: first.name,
                    second: caller.name,
                });
            }
        }
        Ok(Tokens { by_digest })
    }

    /// The caller a bearer token belongs to. The token is hashed and the
    /// digest looked up: no comparison runs over the secret itself.
    pub fn caller(&self, token: &str) -> Option<&Caller> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.by_digest.get(&digest)
    }
}

/// The auth-file line for a token (for operators creating one).
pub fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_by_digest_only() {
        let text = format!(
            "[[tokens]]\nname = \"a\"\nrole = \"auditor\"\nsha256 = \"{}\"\n\n\
             [[tokens]]\nname = \"r\"\nrole = \"reporter\"\nsha256 = \"{}\"\n",
            token_digest("secret-a"),
            token_digest("secret-r").to_uppercase()
        );
        let t = Tokens::parse(&text).unwrap();
        assert_eq!(t.caller("secret-a").unwrap().role, Role::Auditor);
        assert_eq!(t.caller("secret-r").unwrap().name, "r");
        assert!(t.caller("secret-x").is_none());
        assert!(
            t.caller(&token_digest("secret-a")).is_none(),
            "the digest is not a token"
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let e = Tokens::parse("[[tokens]]\nname = \"a\"\nrole = \"admin\"\nsha256 = \"00\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("admin"), "{e}");
        let e = Tokens::parse("[[tokens]]\nname = \"a\"\nrole = \"auditor\"\nsha256 = \"00\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("64 hex digits"), "{e}");
        let e = Tokens::parse("[[tokens]]\nname = \"a\"\nrole = \"auditor\"\ntoken = \"x\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("token"), "{e}");
    }
}

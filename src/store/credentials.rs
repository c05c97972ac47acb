//! Credentials for the object service, never from `config.toml`.
//!
//! Order (the first that gives a key wins, as in the AWS CLI and SDKs):
//! 1. the environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!    `AWS_SESSION_TOKEN` (read by `object_store` itself);
//! 2. the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//!    `~/.aws/credentials`), profile `AWS_PROFILE` or `default`: read
//!    here, because `object_store` does not read it;
//! 3. what `object_store` finds without a key: web identity
//!    (`AWS_WEB_IDENTITY_TOKEN_FILE`), the ECS container endpoint, then
//!    the EC2 instance metadata service.

use std::path::PathBuf;

/// A key pair read from the shared credentials file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// The profile's keys from the shared credentials file, when the
/// environment has none of its own; `None` otherwise.
pub fn from_shared_file() -> Option<FileCredentials> {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        return None;
    }
    let path = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws/credentials")))?;
    let text = std::fs::read_to_string(&path).ok()?;
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let found = parse_profile(&text, &profile);
    if found.is_none() {
        tracing::debug!(file = %path.display(), profile, "no keys for the profile in the shared credentials file");
    }
    found
}

/// The keys of `[profile]` in an INI-style credentials file.
fn parse_profile(text: &str, profile: &str) -> Option<FileCredentials> {
    let (mut id, mut secret, mut token) = (None, None, None);
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == profile;
            continue;
        }
        let Some((key, value)) = line.split_once('=').filter(|_| inside) else {
            continue;
        };
        let value = value.trim().to_string();
        match key.trim() {
            "aws_access_key_id" => id = Some(value),
            "aws_secret_access_key" => secret = Some(value),
            "aws_session_token" => token = Some(value),
            _ => {}
        }
    }
    Some(FileCredentials {
        access_key_id: id?,
        secret_access_key: secret?,
        session_token: token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_profile_only() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[other]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=T\n";
        assert_eq!(
            parse_profile(text, "default").unwrap(),
            FileCredentials {
                access_key_id: "A".into(),
                secret_access_key: "B".into(),
                session_token: None
            }
        );
        assert_eq!(
            parse_profile(text, "other")
                .unwrap()
                .session_token
                .as_deref(),
            Some("T")
        );
        assert!(parse_profile(text, "missing").is_none());
        assert!(parse_profile("[default]\naws_access_key_id = A\n", "default").is_none());
    }
}

//! `store.url`: where the objects live. Empty means the store folder
//! (`store.path`), as before there was a choice; a bare path or a
//! `file://` URL is another folder; `s3://bucket/prefix` is a bucket on an
//! S3-compatible service (`[store.s3]` says how to reach it).

use std::path::PathBuf;

use crate::config::StoreConfig;

/// Where `store.url` puts the objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectsAt {
    Folder(PathBuf),
    S3 {
        bucket: String,
        /// Key prefix without slashes at either end; may be empty.
        prefix: String,
    },
}

impl ObjectsAt {
    /// Reads `store.url`; the error says what is wrong and what is allowed.
    pub fn parse(config: &StoreConfig) -> Result<ObjectsAt, String> {
        let text = config.url.trim();
        if text.is_empty() {
            return Ok(ObjectsAt::Folder(config.path.clone()));
        }
        if !text.contains("://") {
            return Ok(ObjectsAt::Folder(PathBuf::from(text)));
        }
        let url = url::Url::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
        match url.scheme() {
            "file" => url
                .to_file_path()
                .map(ObjectsAt::Folder)
                .map_err(|()| format!("`{text}`: not a local folder (write file:///absolute/path)")),
            "s3" => {
                let bucket = url.host_str().unwrap_or_default().to_string();
                if bucket.is_empty() {
                    return Err(format!("`{text}`: no bucket (write s3://bucket/prefix)"));
                }
                let prefix = url.path().trim_matches('/').to_string();
                if prefix.split('/').any(|s| s == "." || s == "..") {
                    return Err(format!("`{text}`: the prefix may not contain . or .."));
                }
                Ok(ObjectsAt::S3 { bucket, prefix })
            }
            other => Err(format!(
                "`{text}`: scheme `{other}` is not supported (use a folder, file:///path or s3://bucket/prefix)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(url: &str) -> Result<ObjectsAt, String> {
        let config = StoreConfig {
            url: url.into(),
            ..StoreConfig::default()
        };
        ObjectsAt::parse(&config)
    }

    #[test]
    fn folders_and_buckets() {
        assert_eq!(
            at("").unwrap(),
            ObjectsAt::Folder(PathBuf::from("archive-store"))
        );
        assert_eq!(at("/srv/o").unwrap(), ObjectsAt::Folder("/srv/o".into()));
        assert_eq!(
            at("file:///srv/o").unwrap(),
            ObjectsAt::Folder("/srv/o".into())
        );
        assert_eq!(
            at("s3://media/archive/a/").unwrap(),
            ObjectsAt::S3 {
                bucket: "media".into(),
                prefix: "archive/a".into()
            }
        );
        assert_eq!(
            at("s3://media").unwrap(),
            ObjectsAt::S3 {
                bucket: "media".into(),
                prefix: String::new()
            }
        );
        assert!(at("gs://media").unwrap_err().contains("not supported"));
        assert!(at("s3:///x").unwrap_err().contains("no bucket"));
    }
}

//! `[store.s3]`: how to reach an S3-compatible object service when
//! `store.url` is `s3://bucket/prefix`. Credentials are deliberately not
//! here: they come from the standard AWS environment variables or the
//! shared credentials file ([`crate::store::credentials`]), so a
//! `config.toml` can be shared and checked in.

use serde::{Deserialize, Serialize};

/// The object service's address and behaviour.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// The service's URL (`http://127.0.0.1:9000` for a local MinIO);
    /// empty for AWS itself (or `AWS_ENDPOINT_URL` from the environment).
    pub endpoint: String,
    /// The region; empty for `AWS_REGION` from the environment, else
    /// `us-east-1`.
    pub region: String,
    /// Path-style requests (`endpoint/bucket/key`), which MinIO, Ceph,
    /// Garage and moto expect; false for virtual-hosted style
    /// (`bucket.endpoint/key`).
    pub path_style: bool,
    /// Allow plain `http://` endpoints (a service on the same host).
    pub allow_http: bool,
    /// Bodies larger than this are sent as multipart uploads.
    #[serde(deserialize_with = "super::bounds::multipart_threshold")]
    pub multipart_threshold: u64,
    /// Size of each part of a multipart upload (S3 wants 5 MiB to 5 GiB).
    #[serde(deserialize_with = "super::bounds::part_size")]
    pub part_size: u64,
    /// Tries of one request after the first, with exponential backoff.
    #[serde(deserialize_with = "super::bounds::s3_max_retries")]
    pub max_retries: u32,
    /// Give up retrying a request after this many seconds.
    #[serde(deserialize_with = "super::bounds::s3_retry_timeout_secs")]
    pub retry_timeout_secs: f64,
    /// Time one request may take, in seconds.
    #[serde(deserialize_with = "super::bounds::s3_request_timeout_secs")]
    pub request_timeout_secs: f64,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: String::new(),
            region: String::new(),
            path_style: true,
            allow_http: false,
            multipart_threshold: 16 * 1024 * 1024,
            part_size: 8 * 1024 * 1024,
            max_retries: 5,
            retry_timeout_secs: 60.0,
            request_timeout_secs: 120.0,
        }
    }
}

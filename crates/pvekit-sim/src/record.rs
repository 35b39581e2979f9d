//! The request and rejection log of a running simulator.

use std::sync::Mutex;

use crate::{RecordedRequest, Rejection};

/// Parameter names whose values never reach the log.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "vncticket",
    "ticket",
    "secret",
    "otp",
    "tfa-challenge",
];

/// Replaces secret values by `<redacted>`.
pub(crate) fn redact(params: &[(String, String)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| {
            if SECRET_PARAMS.contains(&k.as_str())
                || v.starts_with("PVE:")
                || v.starts_with("PVEVNC:")
            {
                (k.clone(), "<redacted>".to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

/// At most this many requests (and rejections) are kept, so a long-running demo does not grow
/// without bound; later ones are dropped.
const MAX_RECORDS: usize = 200_000;

/// Everything received and rejected, in order.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    requests: Mutex<Vec<RecordedRequest>>,
    rejections: Mutex<Vec<Rejection>>,
}

impl Recorder {
    pub fn request(&self, r: RecordedRequest) {
        if let Ok(mut v) = self.requests.lock()
            && v.len() < MAX_RECORDS
        {
            v.push(r);
        }
    }

    pub fn rejection(&self, r: Rejection) {
        if let Ok(mut v) = self.rejections.lock()
            && v.len() < MAX_RECORDS
        {
            v.push(r);
        }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn rejections(&self) -> Vec<Rejection> {
        self.rejections
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

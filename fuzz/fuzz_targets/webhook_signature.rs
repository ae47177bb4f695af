//! The Standard Webhooks verifier of `POST /webhooks/polar` and `/webhooks/clerk`.
//!
//! Input: `secret \n webhook-id \n webhook-timestamp \n webhook-signature \n now \n body`.
//! Properties: the answer depends only on the input; nothing outside the tolerance verifies;
//! a delivery signed with any key the verifier derives from the secret verifies (also among
//! other entries, as during a rotation), and stops verifying once its body changes.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use tollgate_sync::fuzzing::{Headers, verify_webhook, webhook_keys};
use tollgate_sync::signature::{SignatureError, sign_legacy};

const TOLERANCE_SECS: u64 = 300;

fn sign(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(6, |b| *b == b'\n');
    let mut text = || fields.next().and_then(|f| std::str::from_utf8(f).ok());
    let (Some(secret), Some(id), Some(timestamp), Some(signature), Some(now)) =
        (text(), text(), text(), text(), text())
    else {
        return;
    };
    let body = fields.next().unwrap_or_default();
    let sent_at = timestamp.trim().parse::<i64>().ok();
    let now = now.trim().parse::<i64>().ok().or(sent_at).unwrap_or(0);
    let headers = Headers {
        id,
        timestamp,
        signature,
    };

    let outcome = verify_webhook(secret, headers, body, now);
    assert_eq!(outcome, verify_webhook(secret, headers, body, now));
    let _ = outcome.as_ref().map_err(ToString::to_string);
    if secret.is_empty() {
        assert_eq!(outcome, Err(SignatureError::EmptySecret));
        return;
    }
    match sent_at {
        None => assert_eq!(outcome, Err(SignatureError::InvalidTimestamp)),
        Some(sent) if now.abs_diff(sent) > TOLERANCE_SECS => {
            assert_eq!(outcome, Err(SignatureError::TimestampOutOfTolerance));
        }
        Some(_) => {}
    }

    let keys = webhook_keys(secret).expect("a non-empty secret has keys");
    assert_eq!(keys.last().map(Vec::as_slice), Some(secret.as_bytes()));
    let Some(sent) = sent_at else { return };
    for key in &keys {
        let genuine = sign(key, id, timestamp, body);
        let signed = Headers {
            signature: &genuine,
            ..headers
        };
        assert_eq!(verify_webhook(secret, signed, body, sent), Ok(()));
        let rotated = format!("{signature} {genuine}");
        let among = Headers {
            signature: &rotated,
            ..headers
        };
        assert_eq!(verify_webhook(secret, among, body, sent), Ok(()));
        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert_eq!(
            verify_webhook(secret, signed, &tampered, sent),
            Err(SignatureError::NoMatchingSignature)
        );
    }
    if sent.to_string() == timestamp {
        let legacy = sign_legacy(secret, id, sent, body);
        assert_eq!(legacy, sign(secret.as_bytes(), id, timestamp, body));
    }
});

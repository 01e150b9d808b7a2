//! Compact JWTs signed with HS256 under a key the emulator owns. Real Entra ID signs with
//! RS256 and publishes its keys; clients never verify ARM tokens themselves, so a
//! symmetric key keeps the emulator small while the checks stay real.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwtError {
    Malformed,
    UnsupportedAlgorithm(String),
    BadSignature,
}

pub(crate) struct JwtKey {
    key: [u8; 32],
    kid: String,
}

impl JwtKey {
    pub fn random(kid: &str) -> Self {
        let mut key = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut key);
        Self {
            key,
            kid: kid.to_string(),
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = hmac_sha256(&self.key, signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Verifies the signature and returns the claims; time and audience checks are the
    /// caller's, because their error answers differ per endpoint.
    pub fn verify(&self, token: &str) -> Result<Value, JwtError> {
        let token = token.trim();
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: Value = decode_json(header)?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg != "HS256" {
            return Err(JwtError::UnsupportedAlgorithm(alg.to_string()));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| JwtError::Malformed)?;
        let expected = hmac_sha256(
            &self.key,
            format!("{}.{}", header_part(token), payload).as_bytes(),
        );
        if !constant_time_eq(&signature, &expected) {
            return Err(JwtError::BadSignature);
        }
        decode_json(payload)
    }

    /// A MAC over arbitrary text, for the export links' `sig` parameter.
    pub fn mac(&self, text: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.key, text.as_bytes()))
    }
}

fn header_part(token: &str) -> &str {
    token.split('.').next().unwrap_or("")
}

fn decode_json(part: &str) -> Result<Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let mut inner_pad = [0x36u8; BLOCK];
    let mut outer_pad = [0x5cu8; BLOCK];
    for i in 0..BLOCK {
        inner_pad[i] ^= block_key[i];
        outer_pad[i] ^= block_key[i];
    }
    let inner = Sha256::new()
        .chain_update(inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_with_long_key_matches_rfc4231_case_6() {
        let key = [0xaau8; 131];
        let mac = hmac_sha256(
            &key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn sign_then_verify_and_reject_tampering_and_other_keys() {
        let key = JwtKey::random("k1");
        let token = key.sign(&json!({"sub": "me", "n": 1}));
        assert_eq!(key.verify(&token).unwrap()["sub"], "me");
        let other = JwtKey::random("k2");
        assert_eq!(other.verify(&token), Err(JwtError::BadSignature));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(json!({"sub": "admin", "n": 1}).to_string());
        parts[1] = &forged;
        assert_eq!(key.verify(&parts.join(".")), Err(JwtError::BadSignature));
        assert_eq!(key.verify("a.b"), Err(JwtError::Malformed));
    }

    #[test]
    fn refuses_alg_none() {
        let key = JwtKey::random("k");
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#);
        assert_eq!(
            key.verify(&format!("{header}.{payload}.")),
            Err(JwtError::UnsupportedAlgorithm("none".into()))
        );
    }
}

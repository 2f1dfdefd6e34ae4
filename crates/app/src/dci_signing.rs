//! DCI message signatures (the standard's HTTP signature over the canonical JSON of header and
//! message, ed25519): signing, verifying, key generation — shared by the server's DCI endpoints
//! and `vamos dci keygen` / `vamos dci sign`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer, Verifier};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// Allowed clock skew of signatures and timestamps, seconds.
pub const SKEW_SECS: i64 = 300;

/// Canonical JSON: object keys sorted, no insignificant whitespace. The digest
/// of a message is taken over `{"header":…,"message":…}` in this form, so re-serialisation by
/// either side does not break a signature.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The text an ed25519 signature covers (the standard's `headers="(created) (expires) digest"`):
///
/// ```text
/// (created): <unix seconds>
/// (expires): <unix seconds>
/// digest: SHA-256=<base64 of SHA-256 of canonical_json({"header":…,"message":…})>
/// ```
pub fn signing_string(created: i64, expires: i64, header: &Value, message: &Value) -> String {
    let body = canonical_json(&json!({"header": header, "message": message}));
    let digest = B64.encode(Sha256::digest(body.as_bytes()));
    format!("(created): {created}\n(expires): {expires}\ndigest: SHA-256={digest}")
}

/// A `signature` value for `header` + `message`, valid for `ttl_secs` from `now`.
pub fn sign(
    key: &ed25519_dalek::SigningKey,
    sender_id: &str,
    key_id: &str,
    header: &Value,
    message: &Value,
    now: i64,
    ttl_secs: i64,
) -> String {
    let expires = now + ttl_secs;
    let sig = key.sign(signing_string(now, expires, header, message).as_bytes());
    format!(
        "Signature: namespace=\"spdci\", kidId=\"{sender_id}|{key_id}|ed25519\", algorithm=\"ed25519\", created=\"{now}\", expires=\"{expires}\", headers=\"(created) (expires) digest\", signature=\"{}\"",
        B64.encode(sig.to_bytes())
    )
}

/// The `key="value"` parameters of a signature string.
fn signature_params(s: &str) -> Map<String, Value> {
    let s = s.trim();
    let s = s.strip_prefix("Signature:").unwrap_or(s);
    let mut out = Map::new();
    for part in s.split(',') {
        if let Some((k, v)) = part.split_once('=') {
            let v = v.trim().trim_matches('"');
            out.insert(k.trim().to_string(), Value::String(v.to_string()));
        }
    }
    out
}

/// Checks `signature` against the sender's base64 public key; `Err` says why in Spanish.
pub fn verify(
    signature: &str,
    public_key_b64: &str,
    sender_id: &str,
    header: &Value,
    message: &Value,
    now: i64,
) -> Result<(), String> {
    let p = signature_params(signature);
    let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
    let key_id = if get("kidId").is_empty() {
        get("keyId")
    } else {
        get("kidId")
    };
    if key_id.split('|').next() != Some(sender_id) {
        return Err(format!("la firma no es de {sender_id} (kidId «{key_id}»)"));
    }
    if !get("algorithm").eq_ignore_ascii_case("ed25519") {
        return Err("algoritmo de firma no admitido: use ed25519".into());
    }
    let (Ok(created), Ok(expires)) = (get("created").parse::<i64>(), get("expires").parse::<i64>())
    else {
        return Err("faltan created/expires numéricos en la firma".into());
    };
    if created > now + SKEW_SECS {
        return Err("la firma fue creada en el futuro".into());
    }
    if expires < now {
        return Err("la firma venció".into());
    }
    let key_bytes: [u8; 32] = B64
        .decode(public_key_b64)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("la clave pública registrada del emisor es inválida")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes)
        .map_err(|_| "la clave pública registrada del emisor es inválida")?;
    let sig_bytes: [u8; 64] = B64
        .decode(get("signature"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("la firma no es base64 de 64 bytes")?;
    key.verify(
        signing_string(created, expires, header, message).as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&sig_bytes),
    )
    .map_err(|_| "la firma no corresponde al mensaje".to_string())
}

/// A new signing key: (base64 seed — secret, base64 public key).
pub fn keygen() -> anyhow::Result<(String, String)> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("sin azar del sistema: {e}"))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    Ok((B64.encode(seed), B64.encode(key.verifying_key().to_bytes())))
}

/// Reads a signing key written by [`keygen`] (base64 seed, surrounding blanks ignored).
pub fn read_signing_key(text: &str) -> anyhow::Result<ed25519_dalek::SigningKey> {
    let seed: [u8; 32] = B64
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("la clave de firma no es base64 de 32 bytes"))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// Checks a base64 ed25519 public key.
pub fn check_public_key(b64: &str) -> Result<(), String> {
    let bytes: [u8; 32] = B64
        .decode(b64.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("la clave pública no es base64 de 32 bytes")?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map(|_| ())
        .map_err(|_| "la clave pública no es una clave ed25519 válida".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_detect_tampering() {
        let (seed, public) = keygen().unwrap();
        let key = read_signing_key(&seed).unwrap();
        let header = json!({"message_id": "1", "action": "search", "sender_id": "his.mspbs"});
        let message = json!({"transaction_id": "t", "search_request": []});
        let now = 1_800_000_000;
        let sig = sign(&key, "his.mspbs", "k1", &header, &message, now, 600);
        assert!(verify(&sig, &public, "his.mspbs", &header, &message, now).is_ok());
        // Key order does not matter (canonical JSON).
        let reordered: Value =
            serde_json::from_str(r#"{"sender_id":"his.mspbs","action":"search","message_id":"1"}"#)
                .unwrap();
        assert!(verify(&sig, &public, "his.mspbs", &reordered, &message, now).is_ok());
        let tampered = json!({"transaction_id": "t2", "search_request": []});
        assert!(verify(&sig, &public, "his.mspbs", &header, &tampered, now).is_err());
        assert!(verify(&sig, &public, "otro", &header, &message, now).is_err());
        assert!(verify(&sig, &public, "his.mspbs", &header, &message, now + 601).is_err());
        let (_, other_public) = keygen().unwrap();
        assert!(verify(&sig, &other_public, "his.mspbs", &header, &message, now).is_err());
        assert!(check_public_key(&public).is_ok() && check_public_key("abc").is_err());
    }
}

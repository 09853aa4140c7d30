//! Secrets at rest and token hashing.
//!
//! Provider secrets are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from
//! `GATEHOUSE_AUTH_SECRET`; API keys and virtual-key tokens are stored as SHA-256 digests
//! (they are long random strings, so a fast hash is the right tool).

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::distributions::Alphanumeric;
use rand::{Rng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
const HKDF_INFO: &[u8] = b"gatehouse provider-key encryption v1";
const HKDF_KEY_ID_INFO: &[u8] = b"gatehouse provider-key encryption key id v1";

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("deriving the encryption key failed")]
    KeyDerivation,
    #[error("encryption failed")]
    Seal,
    #[error(
        "stored secret cannot be decrypted: GATEHOUSE_AUTH_SECRET changed without the old \
         value in GATEHOUSE_PREVIOUS_AUTH_SECRETS"
    )]
    Open,
    #[error("auth secret file {path}: {source}")]
    SecretFile {
        path: String,
        source: std::io::Error,
    },
}

/// One encryption key and the id stored beside everything sealed under it.
#[derive(Clone)]
struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn derive(auth_secret: &SecretString) -> Result<Self, CryptoError> {
        let hk = hkdf::Hkdf::<Sha256>::new(None, auth_secret.expose_secret().as_bytes());
        let mut key = [0u8; 32];
        hk.expand(HKDF_INFO, &mut key)
            .map_err(|_| CryptoError::KeyDerivation)?;
        let mut id = [0u8; 8];
        hk.expand(HKDF_KEY_ID_INFO, &mut id)
            .map_err(|_| CryptoError::KeyDerivation)?;
        Ok(Key {
            id: hex::encode(id),
            cipher: Aes256Gcm::new(&key.into()),
        })
    }

    fn open(&self, sealed: &[u8]) -> Option<String> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// Seals provider secrets under the current auth secret and opens what was sealed under it
/// or under one of the previous ones (a keyring, so the auth secret can be rotated).
#[derive(Clone)]
pub struct SecretBox {
    current: Key,
    previous: Vec<Key>,
}

/// A sealed secret: `nonce || ciphertext || tag`, and the id of the key it is sealed under.
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub key_id: String,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// Derives the current key from `auth_secret` and one more key from each previous secret.
    pub fn new(auth_secret: &SecretString, previous: &[SecretString]) -> Result<Self, CryptoError> {
        Ok(Self {
            current: Key::derive(auth_secret)?,
            previous: previous.iter().map(Key::derive).collect::<Result<_, _>>()?,
        })
    }

    /// The id of the key [`SecretBox::seal`] uses.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals under the current key.
    pub fn seal(&self, plaintext: &str) -> Result<Sealed, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| CryptoError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(Sealed {
            ciphertext: out,
            key_id: self.current.id.clone(),
        })
    }

    /// Opens what [`SecretBox::seal`] produced under the key `key_id` (empty: unknown, every
    /// key of the ring is tried).
    pub fn open(&self, key_id: &str, sealed: &[u8]) -> Result<String, CryptoError> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .filter(|k| key_id.is_empty() || k.id == key_id)
            .find_map(|k| k.open(sealed))
            .ok_or(CryptoError::Open)
    }
}

/// A provider secret's fingerprint (see [`api_types::secret_fingerprint`]).
pub use api_types::secret_fingerprint as fingerprint;

/// SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A random token: `prefix` followed by 43 alphanumeric characters (> 256 bits).
pub fn random_token(prefix: &str) -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    format!("{prefix}{body}")
}

/// The auth secret from the environment, or the one kept in `data_dir/auth_secret`,
/// generated (mode 0600) on first use.
pub fn load_or_create_auth_secret(
    configured: Option<SecretString>,
    data_dir: &Path,
) -> Result<SecretString, CryptoError> {
    if let Some(secret) = configured {
        return Ok(secret);
    }
    let path = data_dir.join("auth_secret");
    let err = |source| CryptoError::SecretFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(SecretString::from(s.trim().to_owned())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    std::fs::create_dir_all(data_dir).map_err(err)?;
    let secret = random_token("");
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(err)?;
    file.write_all(secret.as_bytes()).map_err(err)?;
    tracing::info!(path = %path.display(), "generated GATEHOUSE_AUTH_SECRET and stored it");
    Ok(SecretString::from(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_under_the_same_auth_secret() {
        let a = SecretBox::new(&SecretString::from("a".repeat(32)), &[]).unwrap();
        let b = SecretBox::new(&SecretString::from("b".repeat(32)), &[]).unwrap();
        let sealed = a.seal("sk-live-123").unwrap();
        assert!(!sealed.ciphertext.windows(11).any(|w| w == b"sk-live-123"));
        assert_eq!(
            a.open(&sealed.key_id, &sealed.ciphertext).unwrap(),
            "sk-live-123"
        );
        assert_eq!(a.open("", &sealed.ciphertext).unwrap(), "sk-live-123");
        assert!(matches!(
            b.open("", &sealed.ciphertext),
            Err(CryptoError::Open)
        ));
        assert!(matches!(
            a.open("", &sealed.ciphertext[..5]),
            Err(CryptoError::Open)
        ));
        assert_ne!(
            a.seal("x").unwrap().ciphertext,
            a.seal("x").unwrap().ciphertext,
            "nonces must differ"
        );
    }

    #[test]
    fn a_rotated_ring_opens_old_secrets_and_seals_under_the_new_key() {
        let old = SecretString::from("o".repeat(32));
        let before = SecretBox::new(&old, &[]).unwrap();
        let sealed = before.seal("sk-old").unwrap();
        let after = SecretBox::new(&SecretString::from("n".repeat(32)), &[old]).unwrap();
        assert_ne!(after.current_key_id(), before.current_key_id());
        assert_eq!(
            after.open(&sealed.key_id, &sealed.ciphertext).unwrap(),
            "sk-old"
        );
        assert_eq!(after.seal("x").unwrap().key_id, after.current_key_id());
        assert!(after.open("0000000000000000", &sealed.ciphertext).is_err());
        assert_eq!(fingerprint("sk-old").len(), "sha256:".len() + 16);
    }

    #[test]
    fn generated_auth_secret_is_persisted_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_auth_secret(None, dir.path()).unwrap();
        let second = load_or_create_auth_secret(None, dir.path()).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert!(first.expose_secret().len() >= 32);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("auth_secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn tokens_are_prefixed_random_and_compared_exactly() {
        let t = random_token("gh_vk_");
        assert!(t.starts_with("gh_vk_") && t.len() == 49);
        assert_ne!(t, random_token("gh_vk_"));
        assert!(api_types::secrets_equal(&t, &t.clone()));
        assert!(!api_types::secrets_equal(&t, &t[..48]));
    }
}

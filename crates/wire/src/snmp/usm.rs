//! The User-based Security Model (RFC 3414) as a notification receiver needs it: HMAC-MD5-96 and HMAC-SHA-96
//! authentication, AES-128-CFB privacy (RFC 3826). Passwords become keys once, at [`Usm::new`] (the 1 MiB
//! expansion of RFC 3414 A.2); the keys localised to each engine ID are cached, up to
//! [`MAX_ENGINES_PER_USER`] per user.
//!
//! Not done: DES privacy, the SHA-2 protocols of RFC 7860, and the timeliness window (engine boots and time
//! are decoded but not compared with a notion of the sender's clock, so replays are not detected).

use std::collections::HashMap;
use std::ops::Range;

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::{Digest, Sha1};

use super::SnmpError;

/// Engine IDs whose localised keys are kept per user; when full, an arbitrary one is dropped.
pub const MAX_ENGINES_PER_USER: usize = 1024;
/// net-snmp refuses shorter passwords; RFC 3414 11.2 recommends at least eight characters.
pub const MIN_PASSWORD_LEN: usize = 8;
/// SnmpAdminString (SIZE(1..32)) for user names.
pub const MAX_USER_NAME_LEN: usize = 32;
/// RFC 3414 A.2: the password is repeated over one megabyte before hashing.
const EXPANSION: usize = 1 << 20;
/// HMAC-96: the first 12 bytes of the MAC are sent.
const MAC_LEN: usize = 12;
/// RFC 3826: msgPrivacyParameters is the 64-bit salt.
const SALT_LEN: usize = 8;
const AES128_KEY_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthProtocol {
    /// usmHMACMD5AuthProtocol (RFC 3414 6).
    HmacMd5,
    /// usmHMACSHAAuthProtocol (RFC 3414 7).
    HmacSha,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivProtocol {
    /// usmAesCfb128Protocol (RFC 3826).
    Aes128Cfb,
}

/// A configured user: its name and the passwords of the protocols it uses.
#[derive(Clone, PartialEq, Eq)]
pub struct UsmUser {
    pub name: Vec<u8>,
    pub auth: Option<(AuthProtocol, Vec<u8>)>,
    pub privacy: Option<(PrivProtocol, Vec<u8>)>,
}

impl std::fmt::Debug for UsmUser {
    /// Passwords stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsmUser")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("auth", &self.auth.as_ref().map(|a| a.0))
            .field("privacy", &self.privacy.as_ref().map(|p| p.0))
            .finish()
    }
}

/// A user list that cannot be used; each variant names the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsmError {
    #[error("USM user `{0}`: password shorter than 8 characters")]
    ShortPassword(String),
    #[error("USM user `{0}`: privacy needs authentication")]
    PrivacyWithoutAuth(String),
    #[error("USM user `{0}` is defined twice")]
    DuplicateUser(String),
    #[error("USM user name `{0}` is empty or longer than 32 bytes")]
    BadName(String),
}

/// The configured users and their keys.
#[derive(Debug, Default)]
pub struct Usm {
    users: HashMap<Vec<u8>, User>,
}

/// A user's un-localised keys (Ku) and the keys localised per engine ID (Kul).
#[derive(Debug)]
struct User {
    auth: Option<(AuthProtocol, Vec<u8>)>,
    privacy: Option<(PrivProtocol, Vec<u8>)>,
    localised: HashMap<Vec<u8>, LocalKeys>,
}

/// Keys localised to one authoritative engine.
#[derive(Debug, Clone)]
pub(crate) struct LocalKeys {
    auth: Option<(AuthProtocol, Vec<u8>)>,
    privacy: Option<(PrivProtocol, Vec<u8>)>,
}

impl Usm {
    pub fn new(users: Vec<UsmUser>) -> Result<Self, UsmError> {
        let mut map = HashMap::with_capacity(users.len());
        for u in users {
            let name = String::from_utf8_lossy(&u.name).into_owned();
            let user = User::new(&u, &name)?;
            if map.insert(u.name, user).is_some() {
                return Err(UsmError::DuplicateUser(name));
            }
        }
        Ok(Self { users: map })
    }

    /// The keys of `user` localised to `engine_id`, computed on first use.
    pub(crate) fn keys(&mut self, user: &[u8], engine_id: &[u8]) -> Result<&LocalKeys, SnmpError> {
        let u = self.users.get_mut(user).ok_or(SnmpError::UnknownUser)?;
        if !u.localised.contains_key(engine_id) {
            let keys = u.localise(engine_id);
            evict_one_if_full(&mut u.localised);
            u.localised.insert(engine_id.to_vec(), keys);
        }
        u.localised.get(engine_id).ok_or(SnmpError::UnknownUser)
    }
}

/// What is wrong with a user, if anything; the caller names the user.
fn check(u: &UsmUser) -> Result<(), fn(String) -> UsmError> {
    let short = |pw: &Vec<u8>| pw.len() < MIN_PASSWORD_LEN;
    if u.name.is_empty() || u.name.len() > MAX_USER_NAME_LEN {
        return Err(UsmError::BadName);
    }
    if u.auth.as_ref().is_some_and(|a| short(&a.1))
        || u.privacy.as_ref().is_some_and(|p| short(&p.1))
    {
        return Err(UsmError::ShortPassword);
    }
    match (&u.auth, &u.privacy) {
        (None, Some(_)) => Err(UsmError::PrivacyWithoutAuth),
        _ => Ok(()),
    }
}

fn evict_one_if_full(cache: &mut HashMap<Vec<u8>, LocalKeys>) {
    if cache.len() >= MAX_ENGINES_PER_USER {
        if let Some(victim) = cache.keys().next().cloned() {
            cache.remove(&victim);
        }
    }
}

impl User {
    fn new(u: &UsmUser, name: &str) -> Result<Self, UsmError> {
        check(u).map_err(|e| e(name.to_owned()))?;
        let auth = u.auth.as_ref();
        // RFC 3414 and RFC 3826: the privacy key is derived with the authentication protocol's hash.
        let privacy = u
            .privacy
            .as_ref()
            .zip(auth)
            .map(|((p, pw), (a, _))| (*p, a.password_to_key(pw)));
        Ok(Self {
            auth: auth.map(|(a, pw)| (*a, a.password_to_key(pw))),
            privacy,
            localised: HashMap::new(),
        })
    }

    fn localise(&self, engine_id: &[u8]) -> LocalKeys {
        let Some((proto, ku)) = &self.auth else {
            return LocalKeys {
                auth: None,
                privacy: None,
            };
        };
        LocalKeys {
            auth: Some((*proto, proto.localise(ku, engine_id))),
            privacy: self
                .privacy
                .as_ref()
                .map(|(p, k)| (*p, proto.localise(k, engine_id))),
        }
    }
}

impl AuthProtocol {
    /// RFC 3414 A.2: Ku, the digest of the password repeated over 1 MiB.
    pub fn password_to_key(self, password: &[u8]) -> Vec<u8> {
        match self {
            Self::HmacMd5 => expand::<Md5>(password),
            Self::HmacSha => expand::<Sha1>(password),
        }
    }

    /// RFC 3414 2.6: Kul = H(Ku || engine ID || Ku).
    pub fn localise(self, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
        match self {
            Self::HmacMd5 => localise::<Md5>(ku, engine_id),
            Self::HmacSha => localise::<Sha1>(ku, engine_id),
        }
    }

    /// Whether `mac` is the first 12 bytes of HMAC(key, msg); compared in constant time.
    fn verify(self, key: &[u8], msg: &[u8], mac: &[u8]) -> bool {
        match self {
            Self::HmacMd5 => hmac_matches::<Hmac<Md5>>(key, msg, mac),
            Self::HmacSha => hmac_matches::<Hmac<Sha1>>(key, msg, mac),
        }
    }
}

fn expand<D: Digest>(password: &[u8]) -> Vec<u8> {
    let mut d = D::new();
    let mut block = [0u8; 64];
    let mut cycle = password.iter().cycle();
    for _ in 0..EXPANSION / block.len() {
        block.iter_mut().zip(&mut cycle).for_each(|(b, p)| *b = *p);
        d.update(block);
    }
    d.finalize().to_vec()
}

fn localise<D: Digest>(ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
    D::new()
        .chain_update(ku)
        .chain_update(engine_id)
        .chain_update(ku)
        .finalize()
        .to_vec()
}

fn hmac_matches<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8], mac: &[u8]) -> bool {
    let Ok(mut m) = <M as Mac>::new_from_slice(key) else {
        return false;
    };
    m.update(msg);
    mac.len() == MAC_LEN && m.verify_truncated_left(mac).is_ok()
}

impl LocalKeys {
    /// Fails with `NoKey` unless the user has the keys a message of this level needs.
    pub(crate) fn require(&self, privacy: bool) -> Result<(), SnmpError> {
        match (&self.auth, &self.privacy, privacy) {
            (None, _, _) | (_, None, true) => Err(SnmpError::NoKey),
            _ => Ok(()),
        }
    }

    /// RFC 3414 6.3.2 / 7.3.2: `mac` locates msgAuthenticationParameters in `msg`, which must be the 12
    /// bytes of HMAC-96 over `msg` with those bytes zeroed.
    pub(crate) fn authenticate(&self, msg: &[u8], mac: Range<usize>) -> Result<(), SnmpError> {
        let (proto, key) = self.auth.as_ref().ok_or(SnmpError::NoKey)?;
        let mut zeroed = msg.to_vec();
        let field = zeroed.get_mut(mac).ok_or(SnmpError::AuthFailed)?;
        let sent: [u8; MAC_LEN] = field.try_into().map_err(|_| SnmpError::AuthFailed)?;
        field.fill(0);
        match proto.verify(key, &zeroed, &sent) {
            true => Ok(()),
            false => Err(SnmpError::AuthFailed),
        }
    }

    /// RFC 3826 3.1.4: AES-128 in CFB-128 mode, IV = engine boots || engine time || salt.
    pub(crate) fn decrypt(&self, iv: Iv, salt: &[u8], data: &[u8]) -> Result<Vec<u8>, SnmpError> {
        let Some((PrivProtocol::Aes128Cfb, key)) = &self.privacy else {
            return Err(SnmpError::NoKey);
        };
        let salt: [u8; SALT_LEN] = salt.try_into().map_err(|_| SnmpError::DecryptionFailed)?;
        let iv = iv.with_salt(salt);
        let key = key.get(..AES128_KEY_LEN).ok_or(SnmpError::NoKey)?;
        let cfb = cfb_mode::Decryptor::<aes::Aes128>::new_from_slices(key, &iv)
            .map_err(|_| SnmpError::NoKey)?;
        let mut plain = data.to_vec();
        cfb.decrypt(&mut plain);
        Ok(plain)
    }
}

/// The engine boots and time that, with the salt, make the AES IV.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Iv {
    pub boots: u32,
    pub time: u32,
}

impl Iv {
    fn with_salt(self, salt: [u8; SALT_LEN]) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..4].copy_from_slice(&self.boots.to_be_bytes());
        iv[4..8].copy_from_slice(&self.time.to_be_bytes());
        iv[8..].copy_from_slice(&salt);
        iv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_ENGINE: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rfc3414_a3_key_localisation() {
        let md5 = AuthProtocol::HmacMd5;
        let ku = md5.password_to_key(b"maplesyrup");
        assert_eq!(hex(&ku), "9faf3283884e92834ebc9847d8edd963");
        assert_eq!(
            hex(&md5.localise(&ku, &RFC_ENGINE)),
            "526f5eed9fcce26f8964c2930787d82b"
        );
        let sha = AuthProtocol::HmacSha;
        let ku = sha.password_to_key(b"maplesyrup");
        assert_eq!(hex(&ku), "9fb5cc0381497b3793528939ff788d5d79145211");
        assert_eq!(
            hex(&sha.localise(&ku, &RFC_ENGINE)),
            "6695febc9288e36282235fc7151f128497b38f3f"
        );
    }

    fn user(name: &str, auth: Option<&str>, privacy: Option<&str>) -> UsmUser {
        UsmUser {
            name: name.into(),
            auth: auth.map(|p| (AuthProtocol::HmacSha, p.into())),
            privacy: privacy.map(|p| (PrivProtocol::Aes128Cfb, p.into())),
        }
    }

    #[test]
    fn bad_user_lists_are_errors_naming_the_user() {
        let err = |u: Vec<UsmUser>| Usm::new(u).unwrap_err();
        assert_eq!(
            err(vec![user("a", Some("short"), None)]),
            UsmError::ShortPassword("a".into())
        );
        assert_eq!(
            err(vec![user("a", Some(""), None)]),
            UsmError::ShortPassword("a".into())
        );
        assert_eq!(
            err(vec![user("b", Some("longenough"), Some("1234567"))]),
            UsmError::ShortPassword("b".into())
        );
        assert_eq!(
            err(vec![user("c", None, Some("longenough"))]),
            UsmError::PrivacyWithoutAuth("c".into())
        );
        assert_eq!(
            err(vec![user("", None, None)]),
            UsmError::BadName("".into())
        );
        assert!(matches!(
            err(vec![user(&"x".repeat(33), None, None)]),
            UsmError::BadName(_)
        ));
        assert_eq!(
            err(vec![user("d", None, None), user("d", None, None)]),
            UsmError::DuplicateUser("d".into())
        );
        let debug = format!("{:?}", user("e", Some("secret-password"), None));
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn localised_keys_are_cached_and_bounded() {
        let mut usm = Usm::new(vec![user("u", Some("maplesyrup"), None)]).unwrap();
        assert_eq!(
            usm.keys(b"nobody", &RFC_ENGINE).unwrap_err(),
            SnmpError::UnknownUser
        );
        let k = usm.keys(b"u", &RFC_ENGINE).unwrap();
        assert_eq!(
            hex(&k.auth.as_ref().unwrap().1),
            "6695febc9288e36282235fc7151f128497b38f3f"
        );
        assert_eq!(k.require(true), Err(SnmpError::NoKey));
        for i in 0..MAX_ENGINES_PER_USER as u32 + 10 {
            usm.keys(b"u", &i.to_be_bytes()).unwrap();
        }
        assert_eq!(usm.users[&b"u"[..]].localised.len(), MAX_ENGINES_PER_USER);
    }

    #[test]
    fn authenticate_checks_the_zeroed_copy() {
        let mut usm = Usm::new(vec![user("u", Some("maplesyrup"), None)]).unwrap();
        let k = usm.keys(b"u", &RFC_ENGINE).unwrap().clone();
        let mut msg = b"header............trailer".to_vec();
        let key = &k.auth.as_ref().unwrap().1;
        let mut m = Hmac::<Sha1>::new_from_slice(key).unwrap();
        m.update(b"header\0\0\0\0\0\0\0\0\0\0\0\0trailer");
        msg[6..18].copy_from_slice(&m.finalize().into_bytes()[..12]);
        assert_eq!(k.authenticate(&msg, 6..18), Ok(()));
        assert_eq!(k.authenticate(&msg, 5..17), Err(SnmpError::AuthFailed));
        assert_eq!(
            k.authenticate(&msg, 6..17),
            Err(SnmpError::AuthFailed),
            "11 bytes"
        );
        assert_eq!(
            k.authenticate(&msg, 20..32),
            Err(SnmpError::AuthFailed),
            "past the end"
        );
        msg[24] ^= 1;
        assert_eq!(k.authenticate(&msg, 6..18), Err(SnmpError::AuthFailed));
    }
}

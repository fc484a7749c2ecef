//! The User-based Security Model (RFC 3414) as a notification receiver and an inform sender need it:
//! HMAC-MD5-96 and HMAC-SHA-96
//! (RFC 3414), HMAC-SHA-2 (RFC 7860) authentication; DES-CBC (RFC 3414 8), AES-128-CFB (RFC 3826) and
//! AES-192/256-CFB privacy, with either key extension Net-SNMP offers for keys longer than the hash
//! (draft-blumenthal-aes-usm-04 3.1.2.1, and the one of draft-reeder-snmpv3-usm-3desede that Cisco uses for
//! AES). Passwords become keys once, at [`Usm::new`] (the 1 MiB expansion of RFC 3414 A.2); the keys localised
//! to each engine ID are cached, up to [`MAX_ENGINES_PER_USER`] per user.
//!
//! A user may be bound to one authoritative engine (Net-SNMP's `createUser -e`); such an entry wins over an
//! unbound one of the same name. Timeliness (RFC 3414 3.2 step 7) is checked per engine as snmptrapd checks
//! it: the latest authenticated boots/time of each engine is kept (up to [`MAX_CLOCKS`] engines) and messages
//! older than it by more than the window are refused.

use std::collections::HashMap;
use std::ops::Range;

use aes::cipher::{AsyncStreamCipher, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::{Digest, Sha1};
use sha2::{Sha224, Sha256, Sha384, Sha512};

use super::v3::SecurityLevel;

/// Engine IDs whose localised keys are kept per user; when full, an arbitrary one is dropped.
pub const MAX_ENGINES_PER_USER: usize = 1024;
/// Engines whose latest boots/time are kept for the time window; when full, an arbitrary one is dropped.
pub const MAX_CLOCKS: usize = 4096;
/// net-snmp refuses shorter passwords; RFC 3414 11.2 recommends at least eight characters.
pub const MIN_PASSWORD_LEN: usize = 8;
/// SnmpAdminString (SIZE(1..32)) for user names.
pub const MAX_USER_NAME_LEN: usize = 32;
/// SnmpEngineID is at most 32 bytes (RFC 3411).
pub const MAX_ENGINE_ID_LEN: usize = 32;
/// RFC 3414 A.2: the password is repeated over one megabyte before hashing.
const EXPANSION: usize = 1 << 20;
/// RFC 3414 2.2.3: a message whose time lags the engine's by more than this is outside the window.
const TIME_WINDOW_SECS: u64 = 150;
/// RFC 3414 2.2.2: an engine whose boots reached this value must be re-keyed; nothing from it is timely.
const MAX_BOOTS: u32 = 2_147_483_647;
/// RFC 3414 8.1.1.1 and RFC 3826 3.1.2.1: msgPrivacyParameters is the 64-bit salt.
pub(crate) const SALT_LEN: usize = 8;
const DES_KEY_LEN: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthProtocol {
    /// usmHMACMD5AuthProtocol (RFC 3414 6).
    HmacMd5,
    /// usmHMACSHAAuthProtocol (RFC 3414 7).
    HmacSha,
    /// usmHMAC128SHA224AuthProtocol (RFC 7860).
    HmacSha224,
    /// usmHMAC192SHA256AuthProtocol (RFC 7860).
    HmacSha256,
    /// usmHMAC256SHA384AuthProtocol (RFC 7860).
    HmacSha384,
    /// usmHMAC384SHA512AuthProtocol (RFC 7860).
    HmacSha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivProtocol {
    /// usmDESPrivProtocol (RFC 3414 8): DES-CBC.
    Des,
    /// usmAesCfb128Protocol (RFC 3826).
    Aes128Cfb,
    /// AES-192-CFB, key extended as in draft-blumenthal-aes-usm-04 (Net-SNMP `AES-192`).
    Aes192Cfb,
    /// AES-256-CFB, key extended as in draft-blumenthal-aes-usm-04 (Net-SNMP `AES-256`).
    Aes256Cfb,
    /// AES-192-CFB, key extended as in draft-reeder-snmpv3-usm-3desede (Cisco; Net-SNMP `AES-192-C`).
    Aes192CfbCisco,
    /// AES-256-CFB, key extended as in draft-reeder-snmpv3-usm-3desede (Cisco; Net-SNMP `AES-256-C`).
    Aes256CfbCisco,
}

/// How a localised key shorter than the cipher needs is lengthened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extension {
    /// Kul || H(Kul) || H(Kul || H(Kul)) ...: each step hashes all the key so far.
    Blumenthal,
    /// Kul || localise(password_to_key(Kul)) ...: each step treats all the key so far as a password.
    Reeder,
}

/// A configured user: its name, the engine it is bound to if any, and the passwords of its protocols.
#[derive(Clone, PartialEq, Eq)]
pub struct UsmUser {
    pub name: Vec<u8>,
    /// The only authoritative engine these passwords apply to; `None` for every engine.
    pub engine_id: Option<Vec<u8>>,
    pub auth: Option<(AuthProtocol, Vec<u8>)>,
    pub privacy: Option<(PrivProtocol, Vec<u8>)>,
}

impl std::fmt::Debug for UsmUser {
    /// Passwords stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsmUser")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("engine_id", &self.engine_id.as_deref().map(hex))
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
    #[error("USM user `{0}` is defined twice (for the same engine, or for every engine)")]
    DuplicateUser(String),
    #[error("USM user name `{0}` is empty or longer than 32 bytes")]
    BadName(String),
    #[error("USM user `{0}`: engine ID must be 1 to 32 bytes")]
    BadEngineId(String),
}

/// Why an authenticated message could not be read (the usmStats counters of RFC 3414 name most of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsmReason {
    /// usmStatsUnknownUserNames: no user of that name is configured.
    UnknownUser,
    /// The user is configured, but only for other engines.
    UnknownEngine,
    /// usmStatsUnsupportedSecLevels: the user has no key for the message's security level.
    NoKey,
    /// msgAuthenticationParameters are not as long as the user's protocol makes them: the sender uses another
    /// authentication protocol.
    WrongAuthProtocol,
    /// usmStatsWrongDigests: the MAC does not match (a different password, or tampering).
    WrongDigest,
    /// usmStatsNotInTimeWindows: older than what the engine already sent (a replay, or a clock set back).
    NotInTimeWindow,
    /// usmStatsDecryptionErrors: a salt of the wrong size, or plaintext that is no scoped PDU.
    DecryptionFailed,
}

impl UsmReason {
    /// A short name, as counters spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::UnknownEngine => "unknown_engine",
            Self::NoKey => "no_key",
            Self::WrongAuthProtocol => "wrong_auth_protocol",
            Self::WrongDigest => "wrong_digest",
            Self::NotInTimeWindow => "not_in_time_window",
            Self::DecryptionFailed => "decryption_failed",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown USM user",
            Self::UnknownEngine => "USM user not configured for this engine",
            Self::NoKey => "no key for the message's security level",
            Self::WrongAuthProtocol => {
                "unsupported authentication: the MAC is not as long as the user's protocol makes it \
                 (the sender uses another algorithm)"
            }
            Self::WrongDigest => "authentication failed (wrong password or algorithm)",
            Self::NotInTimeWindow => "not in time window (older than what this engine sent before)",
            Self::DecryptionFailed => "decryption failed (wrong privacy password or algorithm)",
        }
    }
}

/// A USM failure with the user and engine it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsmFailure {
    pub reason: UsmReason,
    pub user: Vec<u8>,
    pub engine_id: Vec<u8>,
}

impl std::fmt::Display for UsmFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "snmp: {} (user ", self.reason.describe())?;
        match std::str::from_utf8(&self.user) {
            Ok(s) if !s.chars().any(char::is_control) => write!(f, "\"{}\"", s.escape_debug())?,
            _ => write!(f, "0x{}", hex(&self.user))?,
        }
        write!(f, ", engine 0x{})", hex(&self.engine_id))
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The configured users, their keys, and the latest time of each engine.
#[derive(Debug, Default)]
pub struct Usm {
    users: HashMap<Vec<u8>, Entries>,
    clocks: HashMap<Vec<u8>, Clock>,
}

/// The entries of one user name: one for every engine, and one per engine it is bound to.
#[derive(Debug, Default)]
struct Entries {
    any_engine: Option<User>,
    per_engine: HashMap<Vec<u8>, User>,
}

/// A user's un-localised keys (Ku) and the keys localised per engine ID (Kul).
#[derive(Debug)]
struct User {
    auth: Option<(AuthProtocol, Vec<u8>)>,
    privacy: Option<(PrivProtocol, Vec<u8>)>,
    localised: HashMap<Vec<u8>, LocalKeys>,
}

/// Keys localised to one authoritative engine; the privacy key has the cipher's length (for DES, key and
/// pre-IV).
#[derive(Debug, Clone)]
pub struct LocalKeys {
    auth: Option<(AuthProtocol, Vec<u8>)>,
    privacy: Option<(PrivProtocol, Vec<u8>)>,
}

/// The latest authenticated boots and time of one engine, and the receive time (seconds) they came at.
#[derive(Debug, Clone, Copy)]
struct Clock {
    boots: u32,
    time: u32,
    received: Option<u64>,
}

impl Usm {
    /// What [`Usm::new`] would refuse in `users`, found without turning passwords into keys (which costs a
    /// megabyte of hashing per password): for checking a configuration.
    pub fn check(users: &[UsmUser]) -> Result<(), UsmError> {
        let mut seen = std::collections::HashSet::with_capacity(users.len());
        for u in users {
            let name = || String::from_utf8_lossy(&u.name).into_owned();
            check(u).map_err(|e| e(name()))?;
            if !seen.insert((&u.name, &u.engine_id)) {
                return Err(UsmError::DuplicateUser(name()));
            }
        }
        Ok(())
    }

    pub fn new(users: Vec<UsmUser>) -> Result<Self, UsmError> {
        let mut map: HashMap<Vec<u8>, Entries> = HashMap::with_capacity(users.len());
        for u in users {
            let name = String::from_utf8_lossy(&u.name).into_owned();
            let user = User::new(&u, &name)?;
            let entries = map.entry(u.name).or_default();
            let taken = match u.engine_id {
                None => entries.any_engine.replace(user).is_some(),
                Some(e) => entries.per_engine.insert(e, user).is_some(),
            };
            if taken {
                return Err(UsmError::DuplicateUser(name));
            }
        }
        Ok(Self {
            users: map,
            clocks: HashMap::new(),
        })
    }

    /// The keys of `user` localised to `engine_id`, computed on first use: the entry bound to that engine,
    /// else the one for every engine.
    pub(crate) fn keys(&mut self, user: &[u8], engine_id: &[u8]) -> Result<&LocalKeys, UsmReason> {
        let entries = self.users.get_mut(user).ok_or(UsmReason::UnknownUser)?;
        let u = match entries.per_engine.get_mut(engine_id) {
            Some(bound) => bound,
            None => entries
                .any_engine
                .as_mut()
                .ok_or(UsmReason::UnknownEngine)?,
        };
        if !u.localised.contains_key(engine_id) {
            let keys = u.localise(engine_id);
            evict_one_if_full(&mut u.localised, MAX_ENGINES_PER_USER);
            u.localised.insert(engine_id.to_vec(), keys);
        }
        u.localised.get(engine_id).ok_or(UsmReason::UnknownUser)
    }

    /// RFC 3414 3.2 step 7b, for an authenticated message of `engine_id` received at `received` (seconds), as
    /// snmptrapd applies it: refused when the engine's boots are at their maximum, when the message's boots are
    /// older than the latest seen, or when with the same boots its time is older than the latest seen and lags
    /// the engine's estimated time (the latest time plus what elapsed since, when receive times are known) by
    /// more than 150 s. A message at least as new as the latest is never refused, so an engine whose clock runs
    /// slower than the receiver's is not cut off; a newer one becomes the latest.
    pub(crate) fn timely(
        &mut self,
        engine_id: &[u8],
        boots: u32,
        time: u32,
        received: Option<u64>,
    ) -> Result<(), UsmReason> {
        let now = Clock {
            boots,
            time,
            received,
        };
        let Some(latest) = self.clocks.get_mut(engine_id) else {
            if boots == MAX_BOOTS {
                return Err(UsmReason::NotInTimeWindow);
            }
            evict_one_if_full(&mut self.clocks, MAX_CLOCKS);
            self.clocks.insert(engine_id.to_vec(), now);
            return Ok(());
        };
        if latest.boots == MAX_BOOTS || boots < latest.boots {
            return Err(UsmReason::NotInTimeWindow);
        }
        if boots > latest.boots || time >= latest.time {
            *latest = now;
            return Ok(());
        }
        let elapsed = match (latest.received, received) {
            (Some(then), Some(now)) => now.saturating_sub(then),
            _ => 0,
        };
        let estimated = u64::from(latest.time) + elapsed;
        match u64::from(time) + TIME_WINDOW_SECS < estimated {
            true => Err(UsmReason::NotInTimeWindow),
            false => Ok(()),
        }
    }
}

/// What is wrong with a user, if anything; the caller names the user.
fn check(u: &UsmUser) -> Result<(), fn(String) -> UsmError> {
    let short = |pw: &Vec<u8>| pw.len() < MIN_PASSWORD_LEN;
    if u.name.is_empty() || u.name.len() > MAX_USER_NAME_LEN {
        return Err(UsmError::BadName);
    }
    if u.engine_id
        .as_ref()
        .is_some_and(|e| !(1..=MAX_ENGINE_ID_LEN).contains(&e.len()))
    {
        return Err(UsmError::BadEngineId);
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

fn evict_one_if_full<V>(cache: &mut HashMap<Vec<u8>, V>, max: usize) {
    if cache.len() >= max {
        if let Some(victim) = cache.keys().next().cloned() {
            cache.remove(&victim);
        }
    }
}

/// One user's keys (Ku), for a sender that localises them to each engine it discovers.
#[derive(Debug)]
pub struct UserKeys {
    pub name: Vec<u8>,
    user: User,
}

impl UserKeys {
    /// The user's keys (the password expansion takes a few milliseconds per password).
    pub fn new(u: &UsmUser) -> Result<Self, UsmError> {
        let user = User::new(u, &String::from_utf8_lossy(&u.name))?;
        Ok(Self {
            name: u.name.clone(),
            user,
        })
    }

    /// The keys for the authoritative engine `engine_id`.
    pub fn localise(&self, engine_id: &[u8]) -> LocalKeys {
        self.user.localise(engine_id)
    }

    /// The highest level this user's keys allow.
    pub fn level(&self) -> SecurityLevel {
        match (&self.user.auth, &self.user.privacy) {
            (None, _) => SecurityLevel::NoAuthNoPriv,
            (Some(_), None) => SecurityLevel::AuthNoPriv,
            (Some(_), Some(_)) => SecurityLevel::AuthPriv,
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
                .map(|(p, ku)| (*p, p.localise(*proto, ku, engine_id))),
        }
    }
}

impl AuthProtocol {
    /// RFC 3414 A.2: Ku, the digest of the password repeated over 1 MiB.
    pub fn password_to_key(self, password: &[u8]) -> Vec<u8> {
        match self {
            Self::HmacMd5 => expand::<Md5>(password),
            Self::HmacSha => expand::<Sha1>(password),
            Self::HmacSha224 => expand::<Sha224>(password),
            Self::HmacSha256 => expand::<Sha256>(password),
            Self::HmacSha384 => expand::<Sha384>(password),
            Self::HmacSha512 => expand::<Sha512>(password),
        }
    }

    /// RFC 3414 2.6: Kul = H(Ku || engine ID || Ku).
    pub fn localise(self, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
        self.hash(&[ku, engine_id, ku])
    }

    /// The length of msgAuthenticationParameters: 12 for HMAC-96 (RFC 3414), 16 to 48 bytes for the SHA-2
    /// protocols (RFC 7860 4.2.1).
    pub fn mac_len(self) -> usize {
        match self {
            Self::HmacMd5 | Self::HmacSha => 12,
            Self::HmacSha224 => 16,
            Self::HmacSha256 => 24,
            Self::HmacSha384 => 32,
            Self::HmacSha512 => 48,
        }
    }

    /// H(parts concatenated).
    fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Self::HmacMd5 => digest::<Md5>(parts),
            Self::HmacSha => digest::<Sha1>(parts),
            Self::HmacSha224 => digest::<Sha224>(parts),
            Self::HmacSha256 => digest::<Sha256>(parts),
            Self::HmacSha384 => digest::<Sha384>(parts),
            Self::HmacSha512 => digest::<Sha512>(parts),
        }
    }

    /// The first [`Self::mac_len`] bytes of HMAC(key, msg).
    fn mac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut full = match self {
            Self::HmacMd5 => hmac_of::<Hmac<Md5>>(key, msg),
            Self::HmacSha => hmac_of::<Hmac<Sha1>>(key, msg),
            Self::HmacSha224 => hmac_of::<Hmac<Sha224>>(key, msg),
            Self::HmacSha256 => hmac_of::<Hmac<Sha256>>(key, msg),
            Self::HmacSha384 => hmac_of::<Hmac<Sha384>>(key, msg),
            Self::HmacSha512 => hmac_of::<Hmac<Sha512>>(key, msg),
        };
        full.truncate(self.mac_len());
        full
    }

    /// Whether `mac` is the first [`Self::mac_len`] bytes of HMAC(key, msg); compared in constant time.
    fn verify(self, key: &[u8], msg: &[u8], mac: &[u8]) -> bool {
        mac.len() == self.mac_len()
            && match self {
                Self::HmacMd5 => hmac_matches::<Hmac<Md5>>(key, msg, mac),
                Self::HmacSha => hmac_matches::<Hmac<Sha1>>(key, msg, mac),
                Self::HmacSha224 => hmac_matches::<Hmac<Sha224>>(key, msg, mac),
                Self::HmacSha256 => hmac_matches::<Hmac<Sha256>>(key, msg, mac),
                Self::HmacSha384 => hmac_matches::<Hmac<Sha384>>(key, msg, mac),
                Self::HmacSha512 => hmac_matches::<Hmac<Sha512>>(key, msg, mac),
            }
    }
}

impl PrivProtocol {
    /// The key material the cipher takes: DES a key and a pre-IV of 8 bytes each (RFC 3414 8.1.1.1).
    pub fn key_len(self) -> usize {
        match self {
            Self::Des | Self::Aes128Cfb => 16,
            Self::Aes192Cfb | Self::Aes192CfbCisco => 24,
            Self::Aes256Cfb | Self::Aes256CfbCisco => 32,
        }
    }

    fn extension(self) -> Extension {
        match self {
            Self::Aes192CfbCisco | Self::Aes256CfbCisco => Extension::Reeder,
            _ => Extension::Blumenthal,
        }
    }

    /// The privacy key for `engine_id`: Ku localised with the authentication hash, extended when the hash is
    /// shorter than the cipher needs, then cut to [`Self::key_len`].
    pub fn localise(self, auth: AuthProtocol, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
        let need = self.key_len();
        let mut key = auth.localise(ku, engine_id);
        while key.len() < need {
            let more = match self.extension() {
                Extension::Blumenthal => auth.hash(&[&key]),
                Extension::Reeder => auth.localise(&auth.password_to_key(&key), engine_id),
            };
            let take = more.len().min(need - key.len());
            key.extend_from_slice(&more[..take]);
        }
        key.truncate(need);
        key
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

fn digest<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
    let mut d = D::new();
    parts.iter().for_each(|p| d.update(p));
    d.finalize().to_vec()
}

fn hmac_matches<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8], mac: &[u8]) -> bool {
    let Ok(mut m) = <M as Mac>::new_from_slice(key) else {
        return false;
    };
    m.update(msg);
    m.verify_truncated_left(mac).is_ok()
}

fn hmac_of<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: the error cannot happen.
    let Ok(mut m) = <M as Mac>::new_from_slice(key) else {
        return Vec::new();
    };
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

impl LocalKeys {
    /// The security level these keys allow.
    pub fn level(&self) -> SecurityLevel {
        match (&self.auth, &self.privacy) {
            (None, _) => SecurityLevel::NoAuthNoPriv,
            (Some(_), None) => SecurityLevel::AuthNoPriv,
            (Some(_), Some(_)) => SecurityLevel::AuthPriv,
        }
    }

    pub(crate) fn is_des(&self) -> bool {
        matches!(self.privacy, Some((PrivProtocol::Des, _)))
    }

    /// The length of msgAuthenticationParameters for these keys (0 without authentication).
    pub(crate) fn mac_len(&self) -> usize {
        self.auth.as_ref().map_or(0, |(p, _)| p.mac_len())
    }

    /// Writes the MAC of `msg` (whose `mac` range holds zeros) into that range (RFC 3414 6.3.1 / 7.3.1).
    pub(crate) fn sign(&self, msg: &mut [u8], mac: Range<usize>) {
        if let Some((proto, key)) = &self.auth {
            let digest = proto.mac(key, msg);
            if let Some(field) = msg.get_mut(mac) {
                if field.len() == digest.len() {
                    field.copy_from_slice(&digest);
                }
            }
        }
    }

    /// Encrypts a scoped PDU (RFC 3414 8.1.1.2 / RFC 3826 3.1.3): DES-CBC pads it with zeros to whole blocks.
    /// `None` without a privacy key.
    pub(crate) fn encrypt(&self, iv: Iv, salt: [u8; SALT_LEN], plain: &[u8]) -> Option<Vec<u8>> {
        let (proto, key) = self.privacy.as_ref()?;
        let mut data = plain.to_vec();
        match proto {
            PrivProtocol::Des => {
                data.resize(plain.len().next_multiple_of(DES_KEY_LEN), 0);
                des_cbc_encrypt(key, salt, &mut data)?;
            }
            PrivProtocol::Aes128Cfb => {
                aes_cfb_encrypt::<aes::Aes128>(key, iv.with_salt(salt), &mut data)?
            }
            PrivProtocol::Aes192Cfb | PrivProtocol::Aes192CfbCisco => {
                aes_cfb_encrypt::<aes::Aes192>(key, iv.with_salt(salt), &mut data)?
            }
            PrivProtocol::Aes256Cfb | PrivProtocol::Aes256CfbCisco => {
                aes_cfb_encrypt::<aes::Aes256>(key, iv.with_salt(salt), &mut data)?
            }
        }
        Some(data)
    }

    /// Fails with `NoKey` unless the user has the keys a message of this level needs.
    pub(crate) fn require(&self, privacy: bool) -> Result<(), UsmReason> {
        match (&self.auth, &self.privacy, privacy) {
            (None, _, _) | (_, None, true) => Err(UsmReason::NoKey),
            _ => Ok(()),
        }
    }

    /// RFC 3414 6.3.2 / 7.3.2, RFC 7860 4.2.2: `mac` locates msgAuthenticationParameters in `msg`, which
    /// must be the truncated HMAC over `msg` with those bytes zeroed.
    pub(crate) fn authenticate(&self, msg: &[u8], mac: Range<usize>) -> Result<(), UsmReason> {
        let (proto, key) = self.auth.as_ref().ok_or(UsmReason::NoKey)?;
        if mac.len() != proto.mac_len() {
            return Err(UsmReason::WrongAuthProtocol);
        }
        let mut zeroed = msg.to_vec();
        let field = zeroed.get_mut(mac).ok_or(UsmReason::WrongDigest)?;
        let sent = field.to_vec();
        field.fill(0);
        match proto.verify(key, &zeroed, &sent) {
            true => Ok(()),
            false => Err(UsmReason::WrongDigest),
        }
    }

    /// Decrypts the encryptedPDU: DES-CBC with IV = pre-IV XOR salt (RFC 3414 8.1.1.1), or AES-CFB-128 with
    /// IV = engine boots || engine time || salt (RFC 3826 3.1.2.1).
    pub(crate) fn decrypt(&self, iv: Iv, salt: &[u8], data: &[u8]) -> Result<Vec<u8>, UsmReason> {
        let (proto, key) = self.privacy.as_ref().ok_or(UsmReason::NoKey)?;
        let salt: [u8; SALT_LEN] = salt.try_into().map_err(|_| UsmReason::DecryptionFailed)?;
        let mut plain = data.to_vec();
        let fail = |_| UsmReason::DecryptionFailed;
        match proto {
            PrivProtocol::Des => des_cbc(key, salt, &mut plain)?,
            PrivProtocol::Aes128Cfb => {
                aes_cfb::<aes::Aes128>(key, iv.with_salt(salt), &mut plain).map_err(fail)?
            }
            PrivProtocol::Aes192Cfb | PrivProtocol::Aes192CfbCisco => {
                aes_cfb::<aes::Aes192>(key, iv.with_salt(salt), &mut plain).map_err(fail)?
            }
            PrivProtocol::Aes256Cfb | PrivProtocol::Aes256CfbCisco => {
                aes_cfb::<aes::Aes256>(key, iv.with_salt(salt), &mut plain).map_err(fail)?
            }
        }
        Ok(plain)
    }
}

fn aes_cfb<C>(key: &[u8], iv: [u8; 16], data: &mut [u8]) -> Result<(), aes::cipher::InvalidLength>
where
    C: aes::cipher::BlockEncrypt + aes::cipher::BlockCipher + aes::cipher::KeyInit,
{
    let cfb = cfb_mode::Decryptor::<C>::new_from_slices(key, &iv)?;
    cfb.decrypt(data);
    Ok(())
}

fn aes_cfb_encrypt<C>(key: &[u8], iv: [u8; 16], data: &mut [u8]) -> Option<()>
where
    C: aes::cipher::BlockEncrypt + aes::cipher::BlockCipher + aes::cipher::KeyInit,
{
    let cfb = cfb_mode::Encryptor::<C>::new_from_slices(key, &iv).ok()?;
    cfb.encrypt(data);
    Some(())
}

/// DES-CBC encryption of whole blocks with IV = pre-IV XOR salt.
fn des_cbc_encrypt(key: &[u8], salt: [u8; SALT_LEN], data: &mut [u8]) -> Option<()> {
    let (des_key, pre_iv) = key.split_at_checked(DES_KEY_LEN)?;
    let iv: Vec<u8> = pre_iv.iter().zip(salt).map(|(p, s)| p ^ s).collect();
    let cbc = cbc::Encryptor::<des::Des>::new_from_slices(des_key, &iv).ok()?;
    let len = data.len();
    cbc.encrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(data, len)
        .ok()?;
    Some(())
}

/// DES-CBC over whole 8-byte blocks; the key is the first 8 bytes, the pre-IV the next 8.
fn des_cbc(key: &[u8], salt: [u8; SALT_LEN], data: &mut [u8]) -> Result<(), UsmReason> {
    let fail = UsmReason::DecryptionFailed;
    let (des_key, pre_iv) = key.split_at_checked(DES_KEY_LEN).ok_or(fail)?;
    if pre_iv.len() != SALT_LEN || !data.len().is_multiple_of(DES_KEY_LEN) {
        return Err(fail);
    }
    let iv: Vec<u8> = pre_iv.iter().zip(salt).map(|(p, s)| p ^ s).collect();
    let cbc = cbc::Decryptor::<des::Des>::new_from_slices(des_key, &iv).map_err(|_| fail)?;
    cbc.decrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(data)
        .map_err(|_| fail)?;
    Ok(())
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
            engine_id: None,
            auth: auth.map(|p| (AuthProtocol::HmacSha, p.into())),
            privacy: privacy.map(|p| (PrivProtocol::Aes128Cfb, p.into())),
        }
    }

    #[test]
    fn bad_user_lists_are_errors_naming_the_user() {
        // the check without keys refuses what building the keys refuses, with the same error
        let err = |u: Vec<UsmUser>| {
            let e = Usm::new(u.clone()).unwrap_err();
            assert_eq!(Usm::check(&u), Err(e.clone()));
            e
        };
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
            UsmReason::UnknownUser
        );
        let k = usm.keys(b"u", &RFC_ENGINE).unwrap();
        assert_eq!(
            hex(&k.auth.as_ref().unwrap().1),
            "6695febc9288e36282235fc7151f128497b38f3f"
        );
        assert_eq!(k.require(true), Err(UsmReason::NoKey));
        for i in 0..MAX_ENGINES_PER_USER as u32 + 10 {
            usm.keys(b"u", &i.to_be_bytes()).unwrap();
        }
        let any = usm.users[&b"u"[..]].any_engine.as_ref().unwrap();
        assert_eq!(any.localised.len(), MAX_ENGINES_PER_USER);
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
        assert_eq!(k.authenticate(&msg, 5..17), Err(UsmReason::WrongDigest));
        assert_eq!(
            k.authenticate(&msg, 6..17),
            Err(UsmReason::WrongAuthProtocol),
            "11 bytes"
        );
        assert_eq!(
            k.authenticate(&msg, 20..32),
            Err(UsmReason::WrongDigest),
            "past the end"
        );
        msg[24] ^= 1;
        assert_eq!(k.authenticate(&msg, 6..18), Err(UsmReason::WrongDigest));
    }

    #[test]
    fn time_window_per_engine() {
        let mut usm = Usm::default();
        let e = &RFC_ENGINE[..];
        assert_eq!(usm.timely(e, 5, 1000, None), Ok(()));
        assert_eq!(usm.timely(e, 5, 850, None), Ok(()), "150 s behind");
        assert_eq!(usm.timely(e, 5, 849, None), Err(UsmReason::NotInTimeWindow));
        assert_eq!(
            usm.timely(e, 4, 5000, None),
            Err(UsmReason::NotInTimeWindow),
            "older boots"
        );
        assert_eq!(usm.timely(b"other", 4, 0, None), Ok(()), "engines apart");
        assert_eq!(usm.timely(e, 6, 3, None), Ok(()), "a reboot");
        assert_eq!(
            usm.timely(e, 5, 1000, None),
            Err(UsmReason::NotInTimeWindow)
        );
        // With receive times the engine's clock runs on: time 3 at t=100 is time 152 at t=249.
        let c = &b"clock"[..];
        assert_eq!(usm.timely(c, 6, 3, Some(100)), Ok(()));
        assert_eq!(
            usm.timely(c, 6, 2, Some(249)),
            Ok(()),
            "older, 152 - 2 behind"
        );
        assert_eq!(
            usm.timely(c, 6, 2, Some(250)),
            Err(UsmReason::NotInTimeWindow)
        );
        assert_eq!(
            usm.timely(c, 6, 3, Some(100_000)),
            Ok(()),
            "as new as the latest: a slow clock, never refused"
        );
        assert_eq!(usm.timely(c, 6, 40, Some(100_000)), Ok(()));
        assert_eq!(
            usm.timely(c, 6, 39, Some(100_149)),
            Ok(()),
            "the latest is now 40 at t=100000"
        );
        assert_eq!(usm.timely(c, 6, 39, Some(100_112)), Ok(()));
        assert_eq!(
            usm.timely(c, 6, 39, Some(100_200)),
            Err(UsmReason::NotInTimeWindow)
        );
        assert_eq!(
            usm.timely(b"max", MAX_BOOTS, 0, None),
            Err(UsmReason::NotInTimeWindow)
        );
        for i in 0..MAX_CLOCKS as u32 + 10 {
            usm.timely(&i.to_be_bytes(), 1, 1, None).unwrap();
        }
        assert_eq!(usm.clocks.len(), MAX_CLOCKS);
    }
}

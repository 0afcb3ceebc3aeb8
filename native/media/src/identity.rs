//! The engine's DTLS identity: a certificate, its key, and the OpenSSL
//! contexts built on it. Generated (ECDSA P-256, like browsers and rtpengine)
//! or loaded from PEM. Pipelines hold an `Arc<DtlsIdentity>`, so a rotated
//! identity serves new calls while live calls keep the one they advertised.
use std::sync::Arc;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509NameBuilder, X509};

use crate::fingerprint::{Fingerprint, HashAlg};

pub struct DtlsIdentity {
    pub cert: X509,
    pub key: PKey<Private>,
    fingerprints: Vec<Fingerprint>,
}

#[derive(Debug)]
pub struct IdentityError(pub String);

impl std::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> IdentityError + '_ {
    move |e| IdentityError(format!("{what}: {e}"))
}

impl DtlsIdentity {
    /// A fresh self-signed ECDSA P-256 certificate, valid `days` days.
    pub fn generate_ecdsa(days: u32) -> Result<Arc<DtlsIdentity>, IdentityError> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(err("ec group"))?;
        let key = PKey::from_ec_key(EcKey::generate(&group).map_err(err("ec key"))?).map_err(err("pkey"))?;
        Self::self_signed(key, days)
    }

    /// A fresh self-signed RSA certificate (tests use 4096 bits to check that
    /// handshake flights still fit the MTU).
    pub fn generate_rsa(bits: u32, days: u32) -> Result<Arc<DtlsIdentity>, IdentityError> {
        let rsa = openssl::rsa::Rsa::generate(bits).map_err(err("rsa key"))?;
        Self::self_signed(PKey::from_rsa(rsa).map_err(err("pkey"))?, days)
    }

    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<DtlsIdentity>, IdentityError> {
        let cert = X509::from_pem(cert_pem).map_err(err("certificate PEM"))?;
        let key = PKey::private_key_from_pem(key_pem).map_err(err("private key PEM"))?;
        let public = cert.public_key().map_err(err("certificate public key"))?;
        if !public.public_eq(&key) {
            return Err(IdentityError("private key does not match the certificate".into()));
        }
        Ok(Arc::new(Self::with(cert, key)))
    }

    fn self_signed(key: PKey<Private>, days: u32) -> Result<Arc<DtlsIdentity>, IdentityError> {
        let mut name = X509NameBuilder::new().map_err(err("name"))?;
        name.append_entry_by_nid(Nid::COMMONNAME, "esbc").map_err(err("name"))?;
        let name = name.build();
        let mut b = X509::builder().map_err(err("x509"))?;
        b.set_version(2).map_err(err("version"))?;
        let mut serial = BigNum::new().map_err(err("serial"))?;
        serial.rand(64, MsbOption::MAYBE_ZERO, false).map_err(err("serial"))?;
        let serial = serial.to_asn1_integer().map_err(err("serial"))?;
        b.set_serial_number(&serial).map_err(err("serial"))?;
        b.set_subject_name(&name).map_err(err("subject"))?;
        b.set_issuer_name(&name).map_err(err("issuer"))?;
        b.set_pubkey(&key).map_err(err("pubkey"))?;
        // Start a day early: peers with a slightly slow clock must not reject it.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let not_before = Asn1Time::from_unix(now - 86_400).map_err(err("time"))?;
        b.set_not_before(&not_before).map_err(err("time"))?;
        let not_after = Asn1Time::days_from_now(days).map_err(err("time"))?;
        b.set_not_after(&not_after).map_err(err("time"))?;
        b.sign(&key, MessageDigest::sha256()).map_err(err("sign"))?;
        Ok(Arc::new(Self::with(b.build(), key)))
    }

    fn with(cert: X509, key: PKey<Private>) -> DtlsIdentity {
        let fingerprints = HashAlg::ALL.iter().map(|h| Fingerprint::of_cert(&cert, *h)).collect();
        DtlsIdentity { cert, key, fingerprints }
    }

    /// Our fingerprint in the hash the peer asked for.
    pub fn fingerprint(&self, hash: HashAlg) -> &Fingerprint {
        // `fingerprints` holds every HashAlg in ALL order.
        let i = HashAlg::ALL.iter().position(|h| *h == hash).unwrap_or(2);
        &self.fingerprints[i]
    }
}

//! Strict Ed25519 verification (RFC 8032 §5.1.7, with ed25519-dalek's
//! `verify_strict` rules) for the few keys of a trust file, about twice as
//! fast per signature as `verify_strict` by precomputing, once per key, the
//! multiples its scalar multiplication needs (issue 30).
//!
//! **Decisions.** [`StrictKey::verify`] accepts exactly what
//! `VerifyingKey::verify_strict` of ed25519-dalek 2 accepts, for every key
//! `VerifyingKey::from_bytes` takes and every 64-byte signature:
//!
//! - `S` must be canonical (`S < ℓ`): no malleable signatures;
//! - `A` must not be of small order;
//! - `R` must decode to a point that is not of small order;
//! - `encode([S]B − [k]A)` must equal the signature's `R` bytes, where
//!   `k = SHA-512(R ‖ A ‖ M) mod ℓ` over the key's own 32 bytes (the
//!   cofactorless equation, compared as encodings).
//!
//! `verify_strict` decompresses `R` to check its order. Here the order is
//! checked on the computed point `P = [S]B − [k]A` once its encoding equals
//! `R`'s bytes: those bytes then decode to `P` itself (`P`'s encoding is
//! canonical and decompression inverts it), so "`R` is of small order" and
//! "`P` is of small order" are the same statement, and one square root is
//! saved. When the encodings differ both refuse. The tests check the
//! decisions against `verify_strict` on the twelve edge cases of "Taming the
//! many EdDSAs" (Chalkias, Garillot, Nikolaenko, SSR 2020) and on random,
//! mixed-order, small-order and non-canonical inputs.
//!
//! **Speed.** `verify_strict` computes `[S]B − [k]A` with about 253 point
//! doublings shared by both scalars. Here both are sums of table entries
//! with no doubling at all: for each point (`B`, shared by all keys, and
//! each key's `−A`) a table holds `d·256^i·P` for the 33 signed radix-256
//! digits `i` of a scalar and `d` in 1..=128 (4,224 points, 660 KiB), so a
//! multiplication is at most 32 additions of variable time (`S` and `k`
//! are below ℓ < 2^253: their 33rd digit is 0). A key's table is built
//! when it first verifies (about a millisecond). Variable time is right
//! here: verification handles only public values.
//!
//! Written here because no maintained crate offers variable-time
//! fixed-base tables for an arbitrary point (curve25519-dalek's
//! `EdwardsBasepointTable` is constant-time, its `VartimePrecomputedMultiscalarMul`
//! still doubles 256 times, and `ring` and `aws-lc-rs` measured slower
//! than `verify_strict` here); the point arithmetic, encoding and scalar
//! reduction are curve25519-dalek's own.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity as _;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha512};
use std::sync::{Arc, LazyLock, OnceLock};

/// Signed radix-256 digits of a scalar: 32 bytes give 33 digits.
const DIGITS: usize = 33;
/// Multiples per digit position: `1..=128` (the sign is applied by subtracting).
const MULTIPLES: usize = 128;

/// `d·256^i·P` for every digit position `i` and `d` in 1..=128.
struct FixedBase(Vec<[EdwardsPoint; MULTIPLES]>);

impl FixedBase {
    fn new(point: &EdwardsPoint) -> FixedBase {
        let mut rows = Vec::with_capacity(DIGITS);
        let mut base = *point;
        for _ in 0..DIGITS {
            let mut row = [EdwardsPoint::identity(); MULTIPLES];
            let mut acc = base;
            for slot in row.iter_mut() {
                *slot = acc;
                acc += base;
            }
            rows.push(row);
            // 256·base: eight doublings.
            for _ in 0..8 {
                base = base + base;
            }
        }
        FixedBase(rows)
    }

    /// Adds `[scalar]P` to `acc`, `scalar` as 32 little-endian bytes.
    fn add_multiple(&self, scalar: &[u8; 32], acc: &mut EdwardsPoint) {
        let mut carry = 0i16;
        for (i, row) in self.0.iter().enumerate() {
            let byte = scalar.get(i).copied().unwrap_or(0);
            let mut d = i16::from(byte) + carry;
            carry = 0;
            if d >= 128 {
                d -= 256;
                carry = 1;
            }
            match d {
                0 => {}
                d if d > 0 => *acc += row[d as usize - 1],
                d => *acc -= row[(-d) as usize - 1],
            }
        }
        // The top digit (i = 32) absorbs the last carry: a 32-byte value is
        // below 2^256 = 256^32, so no carry is left over.
        debug_assert_eq!(carry, 0);
    }
}

/// The basepoint's table, shared by every key.
static BASEPOINT: LazyLock<FixedBase> = LazyLock::new(|| FixedBase::new(&ED25519_BASEPOINT_POINT));

/// One public key, ready to verify strictly and fast. Cheap to clone (the
/// table is shared and built on first use).
#[derive(Clone)]
pub struct StrictKey {
    /// The key's 32 bytes as given (hashed into `k`, as `verify_strict` does).
    compressed: [u8; 32],
    /// Whether `A` is of small order: every signature is then refused.
    weak: bool,
    minus_a: EdwardsPoint,
    table: Arc<OnceLock<FixedBase>>,
}

impl std::fmt::Debug for StrictKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrictKey")
            .field("key", &self.compressed)
            .finish_non_exhaustive()
    }
}

impl StrictKey {
    /// The key `key` verifies with.
    pub fn new(key: &VerifyingKey) -> StrictKey {
        let compressed = key.to_bytes();
        // `VerifyingKey` holds the decompression of its bytes.
        let a = CompressedEdwardsY(compressed)
            .decompress()
            .expect("a VerifyingKey's bytes decompress");
        StrictKey {
            compressed,
            weak: a.is_small_order(),
            minus_a: -a,
            table: Arc::new(OnceLock::new()),
        }
    }

    /// Whether `signature` (`R ‖ S`, 64 bytes) is this key's valid strict
    /// signature of the message `parts` concatenated (passed in pieces so a
    /// domain prefix needs no copy). Decides as `verify_strict` (module docs).
    pub fn verify(&self, parts: &[&[u8]], signature: &[u8; 64]) -> bool {
        if self.weak {
            return false;
        }
        let (r, s) = signature.split_at(32);
        let s: [u8; 32] = s.try_into().expect("32 bytes");
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
            return false;
        };
        let mut h = Sha512::new();
        h.update(r);
        h.update(self.compressed);
        for p in parts {
            h.update(p);
        }
        let k = Scalar::from_hash(h);
        let table = self.table.get_or_init(|| FixedBase::new(&self.minus_a));
        let mut p = EdwardsPoint::identity();
        BASEPOINT.add_multiple(s.as_bytes(), &mut p);
        table.add_multiple(k.as_bytes(), &mut p);
        p.compress().as_bytes() == r && !p.is_small_order()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::traits::IsIdentity as _;
    use ed25519_dalek::{Signer as _, SigningKey};
    use proptest::prelude::*;

    fn strict(key: &VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> bool {
        key.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok()
    }

    /// Both verifiers' decisions on one input, key given as bytes (`None`
    /// when `VerifyingKey::from_bytes` refuses it, so neither can be asked).
    fn both(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<(bool, bool)> {
        let vk = VerifyingKey::from_bytes(key).ok()?;
        let fast = StrictKey::new(&vk);
        // The message in two pieces, split anywhere: the same bytes hashed.
        let cut = msg.len() / 3;
        Some((
            strict(&vk, msg, sig),
            fast.verify(&[&msg[..cut], &msg[cut..]], sig),
        ))
    }

    fn hex32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// The twelve test vectors of "Taming the many EdDSAs" (Chalkias,
    /// Garillot, Nikolaenko, SSR 2020; novifinancial/ed25519-speccheck's
    /// `cases.json`): small-order and mixed-order keys and `R`s,
    /// non-canonical `S`, `R` and `A`, cofactored against cofactorless
    /// equations. `verify_strict` accepts case 3 alone, as the paper's
    /// table and the repository's `results.md` say of "Dalek strict".
    #[test]
    fn the_taming_the_many_eddsas_vectors_decide_as_verify_strict() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../tests/data/taming-eddsa-cases.json")).unwrap();
        assert_eq!(cases.len(), 12);
        let mut decided = Vec::new();
        for (i, c) in cases.iter().enumerate() {
            let msg = hex::decode(c["message"].as_str().unwrap()).unwrap();
            let key = hex32(c["pub_key"].as_str().unwrap());
            let sig: [u8; 64] = hex::decode(c["signature"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            match both(&key, &msg, &sig) {
                Some((want, got)) => {
                    assert_eq!(got, want, "case {i}");
                    decided.push(if got { "accept" } else { "refuse" });
                }
                None => decided.push("key refused"),
            }
        }
        assert_eq!(
            decided,
            [
                "refuse", "refuse", "refuse", "accept", "refuse", "refuse", "refuse", "refuse",
                "refuse", "refuse", "refuse", "refuse"
            ]
        );
    }

    /// A signature by `seed`'s key of `msg`, and the key.
    fn signed(seed: [u8; 32], msg: &[u8]) -> (VerifyingKey, [u8; 64]) {
        let sk = SigningKey::from_bytes(&seed);
        (sk.verifying_key(), sk.sign(msg).to_bytes())
    }

    /// `R`'s point moved by a torsion point: a mixed-order `R`, canonical.
    fn with_torsion(r: &[u8], t: usize) -> Option<[u8; 32]> {
        let p = CompressedEdwardsY(r.try_into().ok()?).decompress()?;
        Some((p + EIGHT_TORSION[t % 8]).compress().to_bytes())
    }

    /// ℓ, little-endian.
    const ELL: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    /// `a + b` on 32 little-endian bytes, mod 2^256.
    fn add_le(a: &[u8], b: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(a[i]) + u16::from(b[i]) + carry;
            out[i] = v as u8;
            carry = v >> 8;
        }
        out
    }

    /// Every non-canonical point encoding: `y + p` for the field elements
    /// `y` < 19 (those whose `y + p` still fits in 255 bits), with either
    /// sign bit; `decompress` reads them as `y` mod p. (A random `y` has no
    /// such spelling.)
    fn non_canonical_encodings() -> Vec<[u8; 32]> {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut out = Vec::new();
        for y in 0u8..19 {
            let mut y_bytes = [0u8; 32];
            y_bytes[0] = y;
            let v = add_le(&y_bytes, &p);
            assert_eq!(v[31] & 0x80, 0, "y + p fits in 255 bits");
            for sign in [0u8, 0x80] {
                let mut e = v;
                e[31] |= sign;
                out.push(e);
            }
        }
        out
    }

    /// Signatures whose `R`, or whose key, is spelled non-canonically: both
    /// verifiers decide alike for each of the 38 spellings (as `R` with a
    /// valid signature's `S`, and as the key where `from_bytes` takes it).
    /// Such a key decodes to a point with `y` < 19, whose discrete log no
    /// one knows (or a small-order point), so no valid signature under it
    /// can be made to test which bytes of it are hashed: both hash the
    /// key's bytes as given.
    #[test]
    fn non_canonical_encodings_of_r_and_of_the_key_decide_as_verify_strict() {
        let (vk, sig) = signed([7; 32], b"non-canonical");
        let mut decided_keys = 0;
        for e in non_canonical_encodings() {
            let mut t = sig;
            t[..32].copy_from_slice(&e);
            assert_eq!(
                both(&vk.to_bytes(), b"non-canonical", &t),
                Some((false, false))
            );
            if let Some(d) = both(&e, b"non-canonical", &sig) {
                assert_eq!(d.1, d.0, "{e:?}");
                decided_keys += 1;
            }
        }
        assert!(decided_keys > 0, "no non-canonical key was decided");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Valid signatures, and each of them tampered with in every way
        /// the strict rules care about: both verifiers decide alike, and
        /// the valid ones are accepted (so the test cannot pass by refusing
        /// everything).
        #[test]
        fn decides_as_verify_strict(
            seed in any::<[u8; 32]>(),
            msg in proptest::collection::vec(any::<u8>(), 0..300),
            other in any::<[u8; 64]>(),
            flip in 0usize..512,
            torsion in 1usize..8,
        ) {
            let (vk, sig) = signed(seed, &msg);
            let key = vk.to_bytes();
            // Valid.
            prop_assert_eq!(both(&key, &msg, &sig), Some((true, true)));
            // One bit flipped anywhere in the signature.
            let mut t = sig;
            t[flip / 8] ^= 1 << (flip % 8);
            let d = both(&key, &msg, &t).unwrap();
            prop_assert_eq!(d.1, d.0);
            // Another message.
            let mut m2 = msg.clone();
            m2.push(0);
            let d = both(&key, &m2, &sig).unwrap();
            prop_assert_eq!(d, (false, false));
            // S + ℓ (malleated: equation still holds, S not canonical).
            let mut t = sig;
            t[32..].copy_from_slice(&add_le(&sig[32..], &ELL));
            let d = both(&key, &msg, &t).unwrap();
            prop_assert_eq!(d, (false, false));
            // R with a torsion component (mixed order).
            if let Some(r) = with_torsion(&sig[..32], torsion) {
                let mut t = sig;
                t[..32].copy_from_slice(&r);
                let d = both(&key, &msg, &t).unwrap();
                prop_assert_eq!(d.1, d.0);
            }
            // R a small-order point, every one of them.
            let mut t = sig;
            t[..32].copy_from_slice(EIGHT_TORSION[torsion].compress().as_bytes());
            let d = both(&key, &msg, &t).unwrap();
            prop_assert_eq!(d.1, d.0);
            // The key with a torsion component.
            if let Some(a) = with_torsion(&key, torsion) {
                if let Some(d) = both(&a, &msg, &sig) {
                    prop_assert_eq!(d.1, d.0);
                }
            }
            // Random bytes for the signature.
            let d = both(&key, &msg, &other).unwrap();
            prop_assert_eq!(d.1, d.0);
        }

        /// Signatures built to pass the cofactorless equation with a
        /// small-order `R` or a mixed-order key: `R = [S]B − [k]A` made to
        /// hold by choosing `S` after `R`, so the order checks alone decide.
        #[test]
        fn equation_holding_with_small_or_mixed_order_parts(
            a_scalar in any::<[u8; 32]>(),
            msg in proptest::collection::vec(any::<u8>(), 0..64),
            t_a in 0usize..8,
            t_r in 0usize..8,
            r_scalar in any::<[u8; 32]>(),
        ) {
            let a_secret = Scalar::from_bytes_mod_order(a_scalar);
            let a = EdwardsPoint::mul_base(&a_secret) + EIGHT_TORSION[t_a];
            let key = a.compress().to_bytes();
            // R = [r]B (+ torsion), or a small-order point alone.
            let r_point = if r_scalar[0] & 1 == 0 {
                EdwardsPoint::mul_base(&Scalar::from_bytes_mod_order(r_scalar)) + EIGHT_TORSION[t_r]
            } else {
                EIGHT_TORSION[t_r]
            };
            let r = r_point.compress().to_bytes();
            let mut h = Sha512::new();
            h.update(r);
            h.update(key);
            h.update(&msg);
            let k = Scalar::from_hash(h);
            let r_secret = if r_scalar[0] & 1 == 0 {
                Scalar::from_bytes_mod_order(r_scalar)
            } else {
                Scalar::ZERO
            };
            // S = r + k·a: [S]B − [k]A = R − torsion terms.
            let s = r_secret + k * a_secret;
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&r);
            sig[32..].copy_from_slice(s.as_bytes());
            if let Some(d) = both(&key, &msg, &sig) {
                prop_assert_eq!(d.1, d.0);
                // Torsion-free parts and a prime-order R: valid.
                if t_a == 0 && t_r == 0 && r_scalar[0] & 1 == 0 && !r_point.is_identity() {
                    prop_assert_eq!(d, (true, true));
                }
            }
        }
    }
}

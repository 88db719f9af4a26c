//! Issuers registered over the admin API by X.509 trust anchor: their COSE statements carry
//! an `x5chain` that must lead to the anchor.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use ciborium::value::Value;
use sbomit_crypto::PrivateKey;
use sbomit_scitt::cose::{CoseSign1, CwtClaims, HeaderMap};
use serde_json::json;

fn pki() -> (String, Vec<u8>, PrivateKey) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_params = || {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, "vendor root");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params().self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["vendor.example".into()])
        .unwrap()
        .signed_by(&leaf_key, &Issuer::new(ca_params(), &ca_key))
        .unwrap();
    let ours = PrivateKey::from_pem(leaf_key.serialize_pem().as_bytes(), None).unwrap();
    (ca.pem(), leaf.der().to_vec(), ours)
}

fn statement(key: &PrivateKey, leaf: &[u8]) -> Vec<u8> {
    let mut protected = HeaderMap::new();
    protected.insert(3, Value::Text("application/json".into()));
    protected.insert(33, Value::Bytes(leaf.to_vec()));
    CwtClaims {
        iss: Some("https://vendor.example".into()),
        sub: Some("pkg:npm/app@1".into()),
        iat: None,
    }
    .insert_into(&mut protected);
    CoseSign1::sign(protected, HeaderMap::new(), b"{}", false, key)
        .unwrap()
        .encode()
        .unwrap()
}

#[test]
fn an_issuer_registered_by_trust_anchor_registers_statements_with_its_chain() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let admin = srv
            .store
            .create_token(sbomit_store::backend::Scope::Admin, "ops")
            .unwrap();
        let (ca_pem, leaf, leaf_key) = pki();
        let (_, other_leaf, other_key) = pki();
        let url = srv.url("/v1/admin/issuers");
        let auth = bearer(&admin);
        let body =
            json!({"iss": "https://vendor.example", "role": "attester", "trustAnchorPem": ca_pem});
        let r = post(
            &url,
            Some("application/json"),
            body.to_string().as_bytes(),
            &[("Authorization", &auth)],
        );
        assert_eq!(r.status, 201, "{}", r.text());
        assert!(r.json()["entryId"].is_string());
        // Both a key and an anchor, or neither: 400.
        let both =
            json!({"iss": "x", "role": "attester", "trustAnchorPem": "a", "publicKeyPem": "b"});
        let r = post(
            &url,
            Some("application/json"),
            both.to_string().as_bytes(),
            &[("Authorization", &auth)],
        );
        assert_eq!(r.status, 400);
        let junk = json!({"iss": "x", "role": "attester", "trustAnchorPem": "not a certificate"});
        let r = post(
            &url,
            Some("application/json"),
            junk.to_string().as_bytes(),
            &[("Authorization", &auth)],
        );
        assert_eq!(r.status, 400);

        let entries = srv.url("/entries");
        let r = post(
            &entries,
            Some("application/cose"),
            &statement(&leaf_key, &leaf),
            &[],
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let before = srv.checkpoint_size();
        let r = post(
            &entries,
            Some("application/cose"),
            &statement(&other_key, &other_leaf),
            &[],
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(srv.checkpoint_size(), before);
    });
}

//! Verification outcomes as data: a document whose inspections did or did not run, and a SIT
//! verified light (against the verifier's keys) and full (against its document), with each
//! check's result in the outcome rather than an error.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use sbomit_crypto::{KeyKind, PrivateKey, PublicKey};
use sbomit_intoto::digest::{ArtifactPath, DigestSet, Sha256};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_intoto::model::{Inspection, Link};
use sbomit_intoto::verify::{InspectionRunner, SourceError, VerifyOptions};
use sbomit_sbom::document::Document;
use sbomit_sbom::jsonpatch::Patch;
use sbomit_sbom::sit::sign::SitSignatureError;
use sbomit_sbom::sit::{self, Format, SitOptions};
use sbomit_sbom::verification::document::{
    verify_document, DocumentOutcome, DocumentVerification, InspectionMode, InspectionNotRun,
    NotRunReason,
};
use sbomit_sbom::verification::sit::{
    verify_sit, Against, ContentOutcome, DocumentCheck, JsfOutcome, Level, OverrideOutcome,
    ReceivedSit, SignatureOutcome, SitVerifyError, SitVerifyInput,
};

const APP: &[u8] = b"\x7fELF app";

/// A one-step build of `target/app`, a `sbomit-sit` step authorizing `signer`, and (when
/// `inspect`) an inspection `check` of the product.
struct Fixture {
    doc: Document,
    owner: PrivateKey,
    signer: PrivateKey,
}

fn fixture(inspect: bool) -> Fixture {
    let owner = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let func = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let signer = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let key = |k: &PrivateKey| {
        let mut v = k.public_key().to_securesystemslib();
        v["keyid"] = json!(k.public_key().keyid().as_str());
        v
    };
    let fid = func.public_key().keyid().clone();
    let sid = signer.public_key().keyid().clone();
    let mut build = Link {
        name: "build".into(),
        command: vec!["make".into()],
        ..Link::default()
    };
    build.products.insert(
        ArtifactPath::from("target/app"),
        DigestSet::sha256(Sha256::digest(APP)),
    );
    build.byproducts.insert("return-value".into(), 0.into());
    let inspections = if inspect {
        json!([{"_type": "inspection", "name": "check", "run": ["true"],
                "expected_materials": [["MATCH", "*", "WITH", "PRODUCTS", "FROM", "build"]],
                "expected_products": []}])
    } else {
        json!([])
    };
    let layout = json!({
        "_type": "layout", "expires": "2030-01-01T00:00:00Z", "readme": "",
        "keys": {fid.as_str(): key(&func), sid.as_str(): key(&signer)},
        "steps": [
            {"_type": "step", "name": "build", "pubkeys": [fid.as_str()], "threshold": 1,
             "expected_command": ["make"], "expected_materials": [],
             "expected_products": [["CREATE", "target/app"], ["DISALLOW", "*"]]},
            {"_type": "step", "name": "sbomit-sit", "pubkeys": [sid.as_str()], "threshold": 1,
             "expected_command": [], "expected_materials": [], "expected_products": []},
            {"_type": "step", "name": "sbomit-mutate", "pubkeys": [sid.as_str()], "threshold": 1,
             "expected_command": [], "expected_materials": [], "expected_products": []}
        ],
        "inspect": inspections
    });
    let mut le = Envelope::new(EnvelopeKind::Classic, &layout).unwrap();
    le.sign(&owner).unwrap();
    let mut doc = Document::new(&le.to_file_bytes()).unwrap();
    let mut e = Envelope::new(EnvelopeKind::Dsse, &build.to_value()).unwrap();
    e.sign(&func).unwrap();
    doc.add_metadata(&format!("build.{}.link", fid.short()), &e.to_file_bytes())
        .unwrap();
    sbomit_sbom::roles::seal(&mut doc, "sbomit-mutate", &signer).unwrap();
    Fixture { doc, owner, signer }
}

/// Runs inspection `check` as if in the final product: `target/app` is there, it exits 0.
struct InProduct;
impl InspectionRunner for InProduct {
    fn run(&self, i: &Inspection) -> Result<Link, SourceError> {
        let mut link = Link {
            name: i.name.clone(),
            command: i.run.clone(),
            ..Link::default()
        };
        link.materials.insert(
            ArtifactPath::from("target/app"),
            DigestSet::sha256(Sha256::digest(APP)),
        );
        link.products = link.materials.clone();
        link.byproducts.insert("return-value".into(), 0.into());
        Ok(link)
    }
}

fn at(year: i32) -> VerifyOptions {
    VerifyOptions::at(Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap())
}

fn verify(f: &Fixture, runner: Option<&dyn InspectionRunner>) -> DocumentVerification {
    verify_document(
        &f.doc,
        &[f.owner.public_key().clone()],
        &[],
        &at(2025),
        runner,
    )
    .unwrap()
}

/// The SIT the document yields (CycloneDX 1.6), as file bytes, and its envelope by `key`.
fn signed_sit(f: &Fixture, key: &PrivateKey) -> (Vec<u8>, Envelope) {
    signed_sit_in(f, key, Format::CycloneDx16)
}

/// [`signed_sit`] in `format`.
fn signed_sit_in(f: &Fixture, key: &PrivateKey, format: Format) -> (Vec<u8>, Envelope) {
    let v = verify(f, Some(&InProduct));
    let options = SitOptions::at(Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap());
    let inventory = sit::derive(&f.doc, v.report().unwrap(), &BTreeMap::new(), &options).unwrap();
    let generated = sit::generate(&f.doc, &inventory, format, &options).unwrap();
    let envelope = sit::sign::sign(format, &generated.value, &[], key).unwrap();
    (generated.to_bytes(), envelope)
}

fn light<'a>(
    sit: &'a ReceivedSit<'a>,
    envelope: Option<&'a Envelope>,
    keys: &'a [PublicKey],
) -> SitVerifyInput<'a> {
    SitVerifyInput {
        sit,
        envelope,
        against: Against::Keys(keys),
        allow_in_toto_override: false,
    }
}

fn full<'a>(
    sit: &'a ReceivedSit<'a>,
    envelope: Option<&'a Envelope>,
    f: &'a Fixture,
    verification: &'a DocumentVerification,
    lockfiles: &'a BTreeMap<String, Vec<u8>>,
) -> SitVerifyInput<'a> {
    SitVerifyInput {
        sit,
        envelope,
        against: Against::Document {
            document: &f.doc,
            verification,
            lockfiles,
        },
        allow_in_toto_override: false,
    }
}

// ---- documents

#[test]
fn document_inspections_that_ran_are_listed() {
    let f = fixture(true);
    let v = verify(&f, Some(&InProduct));
    assert!(v.passed(), "{:?}", v.outcome);
    assert_eq!(v.inspections.mode, InspectionMode::Run);
    assert_eq!(v.inspections.ran, ["check"]);
}

#[test]
fn document_inspections_not_run_make_the_outcome_incomplete_not_an_error() {
    let f = fixture(true);
    let v = verify(&f, None);
    assert!(!v.passed());
    assert_eq!(
        v.inspections.mode,
        InspectionMode::NotRun(NotRunReason::NoProduct)
    );
    assert!(v.inspections.ran.is_empty());
    let DocumentOutcome::Incomplete(n) = &v.outcome else {
        panic!("{:?}", v.outcome);
    };
    assert_eq!(
        n,
        &InspectionNotRun {
            inspection: "check".into(),
            reason: NotRunReason::NoProduct
        }
    );
}

#[test]
fn document_without_inspections_verifies_fully_without_a_runner() {
    let f = fixture(false);
    let v = verify(&f, None);
    assert!(v.passed(), "{:?}", v.outcome);
    assert!(v.inspections.ran.is_empty());
}

#[test]
fn document_failing_verification_is_a_report_not_an_error() {
    let f = fixture(false);
    // The layout expired in 2030.
    let v = verify_document(
        &f.doc,
        &[f.owner.public_key().clone()],
        &[],
        &at(2031),
        None,
    )
    .unwrap();
    assert!(!v.passed());
    assert!(matches!(&v.outcome, DocumentOutcome::Report(r) if r.failure.is_some()));
}

// ---- SITs, light

#[test]
fn sit_light_passes_with_the_signers_key() {
    let f = fixture(false);
    let (bytes, env) = signed_sit(&f, &f.signer);
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let keys = [f.signer.public_key().clone()];
    let v = verify_sit(light(&sit, Some(&env), &keys)).unwrap();
    assert_eq!(v.level, Level::Light);
    assert_eq!(v.document, DocumentCheck::NotGiven);
    assert!(matches!(&v.signature, SignatureOutcome::Verified(s)
        if s.signed_by == [f.signer.public_key().keyid().clone()]));
    assert!(matches!(v.jsf, JsfOutcome::Absent));
    assert_eq!(v.content, ContentOutcome::SignedPredicate);
    assert!(v.passed());
}

#[test]
fn sit_light_fails_with_a_wrong_key() {
    let f = fixture(false);
    let (bytes, env) = signed_sit(&f, &f.signer);
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let keys = [f.owner.public_key().clone()];
    let v = verify_sit(light(&sit, Some(&env), &keys)).unwrap();
    assert!(matches!(
        v.signature,
        SignatureOutcome::Failed(SitSignatureError::Threshold {
            needed: 1,
            found: 0,
            ..
        })
    ));
    assert_eq!(v.content, ContentOutcome::NotChecked);
    assert!(!v.passed());
}

#[test]
fn sit_light_fails_on_tampered_content() {
    let f = fixture(false);
    let (bytes, env) = signed_sit(&f, &f.signer);
    let mut value: Value = serde_json::from_slice(&bytes).unwrap();
    value["metadata"]["timestamp"] = json!("2025-06-02T12:00:00Z");
    let tampered = sit::sign::sit_bytes(&value);
    let sit = ReceivedSit::parse(&tampered).unwrap();
    let keys = [f.signer.public_key().clone()];
    let v = verify_sit(light(&sit, Some(&env), &keys)).unwrap();
    assert!(matches!(
        v.signature,
        SignatureOutcome::Failed(SitSignatureError::ContentDiffers { .. })
    ));
    assert!(!v.passed());
}

#[test]
fn sit_light_without_an_envelope_is_an_error() {
    let f = fixture(false);
    let (bytes, _) = signed_sit(&f, &f.signer);
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let keys = [f.signer.public_key().clone()];
    let e = verify_sit(light(&sit, None, &keys)).unwrap_err();
    assert!(matches!(e, SitVerifyError::NoEnvelope), "{e}");
}

#[test]
fn sit_that_is_not_json_or_not_a_sit_is_an_error() {
    assert!(matches!(
        ReceivedSit::parse(b"{").unwrap_err(),
        SitVerifyError::NotJson(_)
    ));
    assert!(matches!(
        ReceivedSit::parse(b"{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.1\"}")
            .unwrap_err(),
        SitVerifyError::UnknownFormat
    ));
}

// ---- SITs, full

#[test]
fn sit_full_passes_when_regenerated_and_signed_by_the_layouts_key() {
    let f = fixture(true);
    let (bytes, env) = signed_sit(&f, &f.signer);
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let dv = verify(&f, Some(&InProduct));
    let lockfiles = BTreeMap::new();
    let v = verify_sit(full(&sit, Some(&env), &f, &dv, &lockfiles)).unwrap();
    assert_eq!(v.level, Level::Full);
    assert_eq!(v.document, DocumentCheck::Passed);
    assert!(matches!(v.signature, SignatureOutcome::Verified(_)));
    assert!(matches!(
        v.content,
        ContentOutcome::Regenerated { components, .. } if components > 0
    ));
    assert_eq!(v.overrides, OverrideOutcome::None);
    assert!(v.passed());
}

/// CycloneDX 1.2 to 1.4 SITs (no `formulation`; 1.2 without `properties`, its `sbomit:*`
/// pairs and document reference in external references) read back their format, document
/// and generation options, and verify light and full like the newer versions.
#[test]
fn sit_in_cyclonedx_1_2_to_1_4_verifies_light_and_full() {
    let f = fixture(true);
    let dv = verify(&f, Some(&InProduct));
    let lockfiles = BTreeMap::new();
    let keys = [f.signer.public_key().clone()];
    for format in [
        Format::CycloneDx12,
        Format::CycloneDx13,
        Format::CycloneDx14,
    ] {
        let (bytes, env) = signed_sit_in(&f, &f.signer, format);
        let sit = ReceivedSit::parse(&bytes).unwrap();
        assert_eq!(sit.format(), format);
        assert_eq!(
            sit::received::document_digest_from_sit(sit.value()),
            Some(f.doc.digest().unwrap()),
            "{format:?}"
        );
        let v = verify_sit(light(&sit, Some(&env), &keys)).unwrap();
        assert!(v.passed(), "{format:?} light: {v:?}");
        let v = verify_sit(full(&sit, Some(&env), &f, &dv, &lockfiles)).unwrap();
        assert_eq!(v.level, Level::Full, "{format:?}");
        assert!(v.passed(), "{format:?} full: {v:?}");
        // Changed content is caught in every version.
        let mut tampered: Value = serde_json::from_slice(&bytes).unwrap();
        tampered["metadata"]["component"]["name"] = json!("evil");
        let tampered = sit::sign::sit_bytes(&tampered);
        let sit = ReceivedSit::parse(&tampered).unwrap();
        let v = verify_sit(full(&sit, Some(&env), &f, &dv, &lockfiles)).unwrap();
        assert!(!v.passed(), "{format:?} tampered");
    }
}

#[test]
fn sit_full_rejects_a_signer_the_layout_does_not_authorize() {
    let f = fixture(false);
    let (bytes, env) = signed_sit(&f, &f.owner);
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let dv = verify(&f, None);
    let lockfiles = BTreeMap::new();
    let v = verify_sit(full(&sit, Some(&env), &f, &dv, &lockfiles)).unwrap();
    assert!(matches!(
        v.signature,
        SignatureOutcome::Failed(SitSignatureError::Threshold { .. })
    ));
    assert!(!v.passed());
}

/// Issue 11: a SIT nobody the layout names vouches for (no envelope, no generator link in the
/// document) fails full verification, even when it is exactly what the document yields.
#[test]
fn sit_full_unsigned_and_unrecorded_fails() {
    let f = fixture(false);
    let (bytes, _) = signed_sit(&f, &f.signer);
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let dv = verify(&f, None);
    let lockfiles = BTreeMap::new();
    let v = verify_sit(full(&sit, None, &f, &dv, &lockfiles)).unwrap();
    assert!(matches!(v.signature, SignatureOutcome::Absent));
    assert_eq!(v.content, ContentOutcome::NotChecked);
    assert!(!v.passed());
}

/// The authorized generator signs a SIT that is not what the document yields: the
/// regeneration catches it.
#[test]
fn sit_full_signed_by_the_generator_with_tampered_content_differs() {
    let f = fixture(false);
    let (bytes, _) = signed_sit(&f, &f.signer);
    let mut value: Value = serde_json::from_slice(&bytes).unwrap();
    value["metadata"]["component"]["hashes"][0]["content"] = json!("0".repeat(64));
    let tampered = sit::sign::sit_bytes(&value);
    let env = sit::sign::sign(Format::CycloneDx16, &value, &[], &f.signer).unwrap();
    let sit = ReceivedSit::parse(&tampered).unwrap();
    let dv = verify(&f, None);
    let lockfiles = BTreeMap::new();
    let v = verify_sit(full(&sit, Some(&env), &f, &dv, &lockfiles)).unwrap();
    let ContentOutcome::Differs {
        format,
        timestamp,
        difference,
    } = &v.content
    else {
        panic!("{:?}", v.content);
    };
    assert_eq!(*format, Format::CycloneDx16);
    assert_eq!(
        *timestamp,
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
    );
    assert!(
        difference.contains("/metadata/component/hashes"),
        "{difference}"
    );
    assert!(!v.passed());
}

#[test]
fn sit_with_an_incomplete_document_is_light_against_the_layouts_keys() {
    let f = fixture(true);
    let (bytes, env) = signed_sit(&f, &f.signer);
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let dv = verify(&f, None);
    let lockfiles = BTreeMap::new();
    let v = verify_sit(full(&sit, Some(&env), &f, &dv, &lockfiles)).unwrap();
    assert_eq!(v.level, Level::Light);
    assert!(matches!(&v.document, DocumentCheck::Incomplete(n) if n.inspection == "check"));
    assert_eq!(v.content, ContentOutcome::SignedPredicate);
    assert!(v.passed());
    // Nothing is left to check without the signature.
    let e = verify_sit(full(&sit, None, &f, &dv, &lockfiles)).unwrap_err();
    assert!(matches!(e, SitVerifyError::NothingToCheck), "{e}");
}

#[test]
fn sit_against_a_document_that_failed_checks_nothing_else() {
    let f = fixture(false);
    let (bytes, env) = signed_sit(&f, &f.signer);
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let dv = verify_document(
        &f.doc,
        &[f.owner.public_key().clone()],
        &[],
        &at(2031),
        None,
    )
    .unwrap();
    let lockfiles = BTreeMap::new();
    let v = verify_sit(full(&sit, Some(&env), &f, &dv, &lockfiles)).unwrap();
    assert_eq!(v.document, DocumentCheck::Failed);
    assert!(matches!(v.signature, SignatureOutcome::NotChecked));
    assert!(!v.passed());
}

#[test]
fn sit_full_refuses_an_in_toto_override_unless_allowed() {
    let mut f = fixture(false);
    f.doc.set_mutation(
        "cyclonedx",
        Patch::from_value(&json!([
            {"op": "replace", "path": "/metadata/component/hashes/0/content", "value": "0".repeat(64)}
        ]))
        .unwrap(),
    );
    // The mutator signs the document with its mutation.
    sbomit_sbom::roles::seal(&mut f.doc, "sbomit-mutate", &f.signer).unwrap();
    let (bytes, env) = signed_sit(&f, &f.signer);
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let dv = verify(&f, None);
    let lockfiles = BTreeMap::new();
    let mut input = full(&sit, Some(&env), &f, &dv, &lockfiles);
    let v = verify_sit(input).unwrap();
    assert!(matches!(v.content, ContentOutcome::Regenerated { .. }));
    let OverrideOutcome::Refused(w) = &v.overrides else {
        panic!("{:?}", v.overrides);
    };
    assert_eq!(w[0].index, 0);
    assert_eq!(w[0].op, "replace");
    assert!(!v.passed());

    input.allow_in_toto_override = true;
    let v = verify_sit(input).unwrap();
    assert!(matches!(&v.overrides, OverrideOutcome::Accepted(w) if w[0].index == 0));
    assert!(v.passed());
}

// ---- issue 11: generators' links and §5.2.1 regeneration

/// Records a generator link by `key` for a cyclonedx-1.6 SIT with sha256 `sit` (as a
/// generator's addendum) and returns the amended document.
fn with_generator_link(f: &Fixture, sit: Sha256, key: &PrivateKey) -> Document {
    use sbomit_sbom::roles;
    let options = SitOptions::at(Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap());
    let (name, bytes) = roles::generator_link(
        "sbomit-sit",
        Format::CycloneDx16,
        f.doc.digest().unwrap(),
        sit,
        &options,
        key,
    )
    .unwrap();
    let link: Value = serde_json::from_slice(&bytes).unwrap();
    let patch = Patch::from_value(&json!([
        {"op": "add", "path": format!("/metadata/{name}"), "value": link}
    ]))
    .unwrap();
    let mut doc = f.doc.clone();
    doc.amend(patch, key, "2025-06-01T12:00:00Z").unwrap();
    doc
}

fn check(doc: &Document, f: &Fixture) -> sbomit_sbom::verification::sits::SitsCheck {
    let dv = verify_document(doc, &[f.owner.public_key().clone()], &[], &at(2025), None).unwrap();
    assert!(dv.passed(), "{:?}", dv.outcome);
    sbomit_sbom::verification::sits::check_sits(doc, &dv, &BTreeMap::new()).unwrap()
}

#[test]
fn document_verify_regenerates_each_recorded_sit_and_refuses_a_forged_digest() {
    use sbomit_sbom::verification::sits::Regeneration;
    let f = fixture(false);
    let (bytes, _) = signed_sit(&f, &f.signer);
    // The generator recorded the SIT it made: regenerated byte for byte.
    let good = with_generator_link(&f, Sha256::digest(&bytes), &f.signer);
    let c = check(&good, &f);
    assert_eq!(c.sits.len(), 1);
    assert_eq!(c.sits[0].result, Regeneration::Matches);
    assert!(c.passed(false));
    // A generator that signs the digest of some other SIT is caught.
    let forged = with_generator_link(&f, Sha256::digest(b"another SIT"), &f.signer);
    let c = check(&forged, &f);
    assert!(
        matches!(c.sits[0].result, Regeneration::Differs { .. }),
        "{:?}",
        c.sits
    );
    assert!(!c.passed(false));
    // A link by a key that is not the generator is not an addendum the document accepts.
    let stranger = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let bad = with_generator_link(&f, Sha256::digest(&bytes), &stranger);
    let dv = verify_document(&bad, &[f.owner.public_key().clone()], &[], &at(2025), None).unwrap();
    assert!(
        matches!(dv.outcome, DocumentOutcome::Addendum(_)),
        "{:?}",
        dv.outcome
    );
}

#[test]
fn a_recorded_sit_verifies_fully_without_its_envelope() {
    let f = fixture(false);
    let (bytes, _) = signed_sit(&f, &f.signer);
    let doc = with_generator_link(&f, Sha256::digest(&bytes), &f.signer);
    let dv = verify_document(&doc, &[f.owner.public_key().clone()], &[], &at(2025), None).unwrap();
    let sit = ReceivedSit::parse(&bytes).unwrap();
    let lockfiles = BTreeMap::new();
    let v = verify_sit(SitVerifyInput {
        sit: &sit,
        envelope: None,
        against: Against::Document {
            document: &doc,
            verification: &dv,
            lockfiles: &lockfiles,
        },
        allow_in_toto_override: false,
    })
    .unwrap();
    assert!(
        matches!(v.signature, SignatureOutcome::RecordedByGenerator { .. }),
        "{:?}",
        v.signature
    );
    assert!(
        matches!(v.content, ContentOutcome::Regenerated { .. }),
        "{:?}",
        v.content
    );
    assert!(v.passed());
}

//! Verification end to end in memory: layouts and links signed with fresh ed25519 keys, links
//! and inspection results from in-memory sources. One negative test per failure class.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use sbomit_crypto::{KeyId, KeyKind, PrivateKey, PublicKey};
use sbomit_intoto::digest::{ArtifactPath, DigestSet, Sha256};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_intoto::model::{Inspection, Link};
use sbomit_intoto::rule_engine::RuleViolation;
use sbomit_intoto::rules::{ArtifactRule, ArtifactType};
use sbomit_intoto::statement::Statement;
use sbomit_intoto::verify::{
    verify, Failure, InspectionRunner, ItemKind, LinkSource, RejectedLink, Rejection, SignedLink,
    SourceError, VerificationReport, VerifyOptions, Warning,
};

// ---------------------------------------------------------------------------------------
// Fixtures

fn key() -> PrivateKey {
    PrivateKey::generate(KeyKind::Ed25519).unwrap()
}

fn id(k: &PrivateKey) -> KeyId {
    k.public_key().keyid().clone()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

fn digest(s: &str) -> DigestSet {
    DigestSet::sha256(Sha256::digest(s.as_bytes()))
}

fn artifacts(items: &[(&str, &str)]) -> sbomit_intoto::digest::Artifacts {
    items
        .iter()
        .map(|(p, c)| (ArtifactPath::from(*p), digest(c)))
        .collect()
}

fn link(name: &str, materials: &[(&str, &str)], products: &[(&str, &str)]) -> Link {
    let mut l = Link {
        name: name.into(),
        command: vec!["run".into(), name.into()],
        materials: artifacts(materials),
        products: artifacts(products),
        ..Link::default()
    };
    l.byproducts.insert("return-value".into(), 0.into());
    l
}

fn step(
    name: &str,
    keys: &[&PrivateKey],
    threshold: u64,
    materials: Value,
    products: Value,
) -> Value {
    json!({
        "_type": "step",
        "name": name,
        "pubkeys": keys.iter().map(|k| id(k).into_string()).collect::<Vec<_>>(),
        "threshold": threshold,
        "expected_command": ["run", name],
        "expected_materials": materials,
        "expected_products": products,
    })
}

fn layout(functionaries: &[&PrivateKey], steps: Vec<Value>, inspect: Vec<Value>) -> Value {
    let keys: serde_json::Map<String, Value> = functionaries
        .iter()
        .map(|k| {
            let mut v = k.public_key().to_securesystemslib();
            v["keyid"] = json!(id(k).into_string());
            (id(k).into_string(), v)
        })
        .collect();
    json!({
        "_type": "layout",
        "expires": "2030-01-01T00:00:00Z",
        "readme": "",
        "keys": keys,
        "steps": steps,
        "inspect": inspect,
    })
}

fn signed(payload: &Value, kind: EnvelopeKind, keys: &[&PrivateKey]) -> Envelope {
    let mut e = Envelope::new(kind, payload).unwrap();
    for k in keys {
        e.sign(k).unwrap();
    }
    e
}

fn signed_link(l: &Link, k: &PrivateKey) -> Envelope {
    signed(&l.to_value(), EnvelopeKind::Classic, &[k])
}

/// The same classic envelope with its `signed` content changed after signing.
fn tampered(e: &Envelope) -> Envelope {
    let mut v: Value = serde_json::from_slice(&e.to_file_bytes()).unwrap();
    v["signed"]["tampered"] = json!(true);
    Envelope::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
}

#[derive(Default)]
struct MemSource {
    links: HashMap<(String, KeyId), Envelope>,
    subs: HashMap<(String, KeyId), MemSource>,
}

impl MemSource {
    fn with(mut self, step: &str, keyid: KeyId, e: Envelope) -> Self {
        self.links.insert((step.into(), keyid), e);
        self
    }
}

struct Borrowed<'a>(&'a MemSource);

impl LinkSource for Borrowed<'_> {
    fn load(&self, step: &str, keyid: &KeyId) -> Result<Option<SignedLink>, SourceError> {
        self.0.load(step, keyid)
    }
    fn sublayout_source(
        &self,
        step: &str,
        keyid: &KeyId,
    ) -> Result<Box<dyn LinkSource + '_>, SourceError> {
        self.0.sublayout_source(step, keyid)
    }
}

static EMPTY: std::sync::LazyLock<MemSource> = std::sync::LazyLock::new(MemSource::default);

impl LinkSource for MemSource {
    fn load(&self, step: &str, keyid: &KeyId) -> Result<Option<SignedLink>, SourceError> {
        Ok(self
            .links
            .get(&(step.to_owned(), keyid.clone()))
            .cloned()
            .map(SignedLink::new))
    }
    fn sublayout_source(
        &self,
        step: &str,
        keyid: &KeyId,
    ) -> Result<Box<dyn LinkSource + '_>, SourceError> {
        let sub = self
            .subs
            .get(&(step.to_owned(), keyid.clone()))
            .unwrap_or(&EMPTY);
        Ok(Box::new(Borrowed(sub)))
    }
}

#[derive(Default)]
struct Runner(HashMap<String, Link>);

impl InspectionRunner for Runner {
    fn run(&self, inspection: &Inspection) -> Result<Link, SourceError> {
        self.0
            .get(&inspection.name)
            .cloned()
            .ok_or_else(|| format!("no result for {}", inspection.name).into())
    }
}

fn run(
    owner_env: &Envelope,
    owners: &[&PrivateKey],
    source: &MemSource,
    runner: &Runner,
) -> VerificationReport {
    let keys: Vec<PublicKey> = owners.iter().map(|k| k.public_key().clone()).collect();
    verify(owner_env, &keys, &VerifyOptions::at(now()), source, runner).unwrap()
}

fn failure(report: VerificationReport) -> Failure {
    assert!(!report.passed(), "verification passed unexpectedly");
    report.failure.unwrap()
}

fn rule(parts: &[&str]) -> ArtifactRule {
    ArtifactRule::parse(parts).unwrap()
}

/// A one-step layout: step "build" by `f` with the given product rules, and its link.
fn one_step(
    owner: &PrivateKey,
    f: &PrivateKey,
    products: Value,
    link_products: &[(&str, &str)],
) -> (Envelope, MemSource) {
    let lay = layout(
        &[f],
        vec![step("build", &[f], 1, json!([]), products)],
        vec![],
    );
    let env = signed(&lay, EnvelopeKind::Classic, &[owner]);
    let source = MemSource::default().with(
        "build",
        id(f),
        signed_link(&link("build", &[], link_products), f),
    );
    (env, source)
}

// ---------------------------------------------------------------------------------------
// Passing

#[test]
fn passes_three_step_chain_with_match_create_modify_delete() {
    let (owner, alice, bob, carl) = (key(), key(), key(), key());
    let lay = layout(
        &[&alice, &bob, &carl],
        vec![
            step(
                "fetch",
                &[&alice],
                1,
                json!([]),
                json!([["CREATE", "src.c"], ["CREATE", "README"], ["DISALLOW", "*"]]),
            ),
            step(
                "build",
                &[&bob],
                1,
                json!([
                    ["MATCH", "*", "WITH", "PRODUCTS", "FROM", "fetch"],
                    ["DISALLOW", "*"]
                ]),
                json!([
                    ["MATCH", "src.c", "WITH", "PRODUCTS", "FROM", "fetch"],
                    ["MODIFY", "README"],
                    ["CREATE", "out/*"],
                    ["DISALLOW", "*"]
                ]),
            ),
            step(
                "package",
                &[&carl],
                1,
                json!([
                    [
                        "match", "app", "in", "dist", "with", "products", "in", "out", "from",
                        "build"
                    ],
                    ["DELETE", "src.c"],
                    ["DISALLOW", "*"]
                ]),
                json!([["CREATE", "pkg.tar"], ["DISALLOW", "*"]]),
            ),
        ],
        vec![json!({
            "_type": "inspection", "name": "check", "run": ["check"],
            "expected_materials": [["MATCH", "pkg.tar", "WITH", "PRODUCTS", "FROM", "package"], ["DISALLOW", "*"]],
            "expected_products": [["REQUIRE", "report"]],
        })],
    );
    let env = signed(&lay, EnvelopeKind::Dsse, &[&owner]);
    let fetch = link("fetch", &[], &[("src.c", "A"), ("README", "R")]);
    let build = link(
        "build",
        &[("src.c", "A"), ("README", "R")],
        &[("src.c", "A"), ("README", "R2"), ("out/app", "B")],
    );
    let mut package = link(
        "package",
        &[("dist/app", "B"), ("src.c", "A")],
        &[("pkg.tar", "C")],
    );
    package.command = vec!["something".into(), "else".into()];
    let mut check = link("check", &[("pkg.tar", "C")], &[("report", "ok")]);
    check.byproducts.insert("return-value".into(), 0.into());
    let source = MemSource::default()
        // An attestation-format link (Statement v1, link predicate) in DSSE.
        .with(
            "fetch",
            id(&alice),
            signed(
                &Statement::from_link(&fetch).to_value(),
                EnvelopeKind::Dsse,
                &[&alice],
            ),
        )
        .with(
            "build",
            id(&bob),
            signed(&build.to_value(), EnvelopeKind::Dsse, &[&bob]),
        )
        .with("package", id(&carl), signed_link(&package, &carl));
    let runner = Runner([("check".to_owned(), check)].into());
    let report = run(&env, &[&owner], &source, &runner);
    assert_eq!(report.failure, None);
    let summary = report.summary.unwrap();
    assert_eq!(summary.materials, fetch.materials);
    assert_eq!(summary.products, package.products);
    assert_eq!(summary.command, package.command);
    assert_eq!(
        report.warnings,
        vec![Warning::CommandMismatch {
            step: "package".into(),
            keyid: id(&carl),
            command: package.command.clone(),
            expected: vec!["run".into(), "package".into()],
        }]
    );
}

fn sublayout_fixture(inner_products: &[(&str, &str)]) -> (PrivateKey, Envelope, MemSource) {
    let (owner, sub_owner, inner_f, user) = (key(), key(), key(), key());
    let inner = layout(
        &[&inner_f],
        vec![step(
            "compile",
            &[&inner_f],
            1,
            json!([]),
            json!([["CREATE", "lib.a"], ["DISALLOW", "*"]]),
        )],
        vec![],
    );
    let inner_env = signed(&inner, EnvelopeKind::Classic, &[&sub_owner]);
    let outer = layout(
        &[&sub_owner, &user],
        vec![
            step(
                "sub",
                &[&sub_owner],
                1,
                json!([]),
                json!([["CREATE", "lib.a"], ["DISALLOW", "*"]]),
            ),
            step(
                "use",
                &[&user],
                1,
                json!([
                    ["MATCH", "lib.a", "WITH", "PRODUCTS", "FROM", "sub"],
                    ["DISALLOW", "*"]
                ]),
                json!([]),
            ),
        ],
        vec![],
    );
    let env = signed(&outer, EnvelopeKind::Classic, &[&owner]);
    let mut source = MemSource::default()
        .with("sub", id(&sub_owner), inner_env)
        .with(
            "use",
            id(&user),
            signed_link(&link("use", &[("lib.a", "L")], &[]), &user),
        );
    source.subs.insert(
        ("sub".into(), id(&sub_owner)),
        MemSource::default().with(
            "compile",
            id(&inner_f),
            signed_link(&link("compile", &[], inner_products), &inner_f),
        ),
    );
    (owner, env, source)
}

#[test]
fn passes_with_sublayout_replaced_by_its_summary_link() {
    let (owner, env, source) = sublayout_fixture(&[("lib.a", "L")]);
    let report = run(&env, &[&owner], &source, &Runner::default());
    assert_eq!(report.failure, None);
    assert!(report.warnings.iter().all(|w| matches!(
        w,
        Warning::Sublayout { .. } | Warning::CommandMismatch { .. }
    )));
}

#[test]
fn rejects_failing_sublayout() {
    let (owner, env, source) = sublayout_fixture(&[("lib.a", "L"), ("evil", "E")]);
    let Failure::Sublayout { step, failure, .. } =
        failure(run(&env, &[&owner], &source, &Runner::default()))
    else {
        panic!("not a sublayout failure")
    };
    assert_eq!(step, "sub");
    assert_eq!(
        *failure,
        Failure::ArtifactRule {
            item: "compile".into(),
            kind: ItemKind::Step,
            source_type: ArtifactType::Products,
            violation: RuleViolation::Disallowed {
                rule: rule(&["DISALLOW", "*"]),
                artifacts: vec!["evil".into()],
            },
        }
    );
}

// ---------------------------------------------------------------------------------------
// Layout

#[test]
fn rejects_bad_owner_signature() {
    let (owner, f) = (key(), key());
    let (env, source) = one_step(&owner, &f, json!([]), &[]);
    let report = run(&tampered(&env), &[&owner], &source, &Runner::default());
    assert_eq!(
        failure(report),
        Failure::LayoutSignatureBad { keyid: id(&owner) }
    );
}

#[test]
fn rejects_layout_missing_an_owner_signature() {
    let (owner, second, f) = (key(), key(), key());
    let (env, source) = one_step(&owner, &f, json!([]), &[]);
    let report = run(&env, &[&owner, &second], &source, &Runner::default());
    assert_eq!(
        failure(report),
        Failure::LayoutSignatureMissing { keyid: id(&second) }
    );
}

#[test]
fn rejects_expired_layout() {
    let (owner, f) = (key(), key());
    let mut lay = layout(
        &[&f],
        vec![step("build", &[&f], 1, json!([]), json!([]))],
        vec![],
    );
    lay["expires"] = json!("2025-01-01T00:00:00Z");
    let env = signed(&lay, EnvelopeKind::Classic, &[&owner]);
    let source =
        MemSource::default().with("build", id(&f), signed_link(&link("build", &[], &[]), &f));
    assert_eq!(
        failure(run(&env, &[&owner], &source, &Runner::default())),
        Failure::LayoutExpired {
            expires: now(),
            now: now()
        }
    );
}

// ---------------------------------------------------------------------------------------
// Links

#[test]
fn rejects_missing_link() {
    let (owner, f) = (key(), key());
    let (env, _) = one_step(&owner, &f, json!([]), &[]);
    assert_eq!(
        failure(run(
            &env,
            &[&owner],
            &MemSource::default(),
            &Runner::default()
        )),
        Failure::LinkMissing {
            step: "build".into(),
            threshold: 1,
            found: 0
        }
    );
}

#[test]
fn rejects_link_by_unauthorized_key() {
    let (owner, f, mallory) = (key(), key(), key());
    let (env, _) = one_step(&owner, &f, json!([]), &[]);
    let source = MemSource::default().with(
        "build",
        id(&f),
        signed_link(&link("build", &[], &[]), &mallory),
    );
    assert_eq!(
        failure(run(&env, &[&owner], &source, &Runner::default())),
        Failure::LinkUnauthorized {
            step: "build".into(),
            keyid: id(&f),
            signed_by: vec![id(&mallory)]
        }
    );
}

#[test]
fn rejects_link_with_bad_signature() {
    let (owner, f) = (key(), key());
    let (env, _) = one_step(&owner, &f, json!([]), &[]);
    let source = MemSource::default().with(
        "build",
        id(&f),
        tampered(&signed_link(&link("build", &[], &[]), &f)),
    );
    assert_eq!(
        failure(run(&env, &[&owner], &source, &Runner::default())),
        Failure::LinkSignatureBad {
            step: "build".into(),
            keyid: id(&f)
        }
    );
}

#[test]
fn rejects_threshold_not_met_two_of_three() {
    let (owner, a, b, c) = (key(), key(), key(), key());
    let lay = layout(
        &[&a, &b, &c],
        vec![step("build", &[&a, &b, &c], 2, json!([]), json!([]))],
        vec![],
    );
    let env = signed(&lay, EnvelopeKind::Classic, &[&owner]);
    let l = link("build", &[], &[]);
    let source = MemSource::default()
        .with("build", id(&a), signed_link(&l, &a))
        .with("build", id(&b), tampered(&signed_link(&l, &b)));
    assert_eq!(
        failure(run(&env, &[&owner], &source, &Runner::default())),
        Failure::ThresholdNotMet {
            step: "build".into(),
            threshold: 2,
            valid: 1,
            rejected: vec![RejectedLink {
                keyid: id(&b),
                reason: Rejection::BadSignature
            }],
        }
    );
}

#[test]
fn rejects_links_of_one_step_disagreeing() {
    let (owner, a, b) = (key(), key(), key());
    let lay = layout(
        &[&a, &b],
        vec![step("build", &[&a, &b], 2, json!([]), json!([]))],
        vec![],
    );
    let env = signed(&lay, EnvelopeKind::Classic, &[&owner]);
    let source = MemSource::default()
        .with(
            "build",
            id(&a),
            signed_link(&link("build", &[], &[("app", "1")]), &a),
        )
        .with(
            "build",
            id(&b),
            signed_link(&link("build", &[], &[("app", "2")]), &b),
        );
    assert_eq!(
        failure(run(&env, &[&owner], &source, &Runner::default())),
        Failure::LinksDisagree {
            step: "build".into(),
            reference_keyid: id(&a),
            keyid: id(&b)
        }
    );
}

// ---------------------------------------------------------------------------------------
// Rules

#[test]
fn rejects_disallowed_artifact() {
    let (owner, f) = (key(), key());
    let (env, source) = one_step(
        &owner,
        &f,
        json!([["CREATE", "app"], ["DISALLOW", "*"]]),
        &[("app", "1"), ("backdoor", "2")],
    );
    assert_eq!(
        failure(run(&env, &[&owner], &source, &Runner::default())),
        Failure::ArtifactRule {
            item: "build".into(),
            kind: ItemKind::Step,
            source_type: ArtifactType::Products,
            violation: RuleViolation::Disallowed {
                rule: rule(&["DISALLOW", "*"]),
                artifacts: vec!["backdoor".into()]
            },
        }
    );
}

#[test]
fn rejects_missing_required_artifact() {
    let (owner, f) = (key(), key());
    let (env, source) = one_step(
        &owner,
        &f,
        json!([["REQUIRE", "sbom.json"]]),
        &[("app", "1")],
    );
    assert_eq!(
        failure(run(&env, &[&owner], &source, &Runner::default())),
        Failure::ArtifactRule {
            item: "build".into(),
            kind: ItemKind::Step,
            source_type: ArtifactType::Products,
            violation: RuleViolation::RequireMissing {
                rule: rule(&["REQUIRE", "sbom.json"]),
                artifact: "sbom.json".into()
            },
        }
    );
}

#[test]
fn rejects_match_hash_mismatch() {
    let (owner, a, b) = (key(), key(), key());
    let lay = layout(
        &[&a, &b],
        vec![
            step("fetch", &[&a], 1, json!([]), json!([])),
            step(
                "build",
                &[&b],
                1,
                json!([
                    ["MATCH", "*", "WITH", "PRODUCTS", "FROM", "fetch"],
                    ["DISALLOW", "*"]
                ]),
                json!([]),
            ),
        ],
        vec![],
    );
    let env = signed(&lay, EnvelopeKind::Classic, &[&owner]);
    let source = MemSource::default()
        .with(
            "fetch",
            id(&a),
            signed_link(&link("fetch", &[], &[("src.c", "good")]), &a),
        )
        .with(
            "build",
            id(&b),
            signed_link(&link("build", &[("src.c", "evil")], &[]), &b),
        );
    assert_eq!(
        failure(run(&env, &[&owner], &source, &Runner::default())),
        Failure::ArtifactRule {
            item: "build".into(),
            kind: ItemKind::Step,
            source_type: ArtifactType::Materials,
            violation: RuleViolation::MatchHashMismatch {
                match_rule: rule(&["MATCH", "*", "WITH", "PRODUCTS", "FROM", "fetch"]),
                disallow_rule: rule(&["DISALLOW", "*"]),
                artifact: "src.c".into(),
                digest: digest("evil"),
                dest_name: "fetch".into(),
                dest_path: "src.c".into(),
                dest_digest: digest("good"),
            },
        }
    );
}

#[test]
fn match_against_missing_destination_consumes_nothing() {
    let (owner, f) = (key(), key());
    let (env, source) = one_step(
        &owner,
        &f,
        json!([
            ["MATCH", "*", "WITH", "PRODUCTS", "FROM", "nowhere"],
            ["DISALLOW", "app"]
        ]),
        &[("app", "1")],
    );
    let f = failure(run(&env, &[&owner], &source, &Runner::default()));
    assert!(
        matches!(
            f,
            Failure::ArtifactRule {
                violation: RuleViolation::Disallowed { .. },
                ..
            }
        ),
        "{f}"
    );
}

// ---------------------------------------------------------------------------------------
// Inspections and parameters

#[test]
fn rejects_failing_inspection() {
    let (owner, f) = (key(), key());
    let lay = layout(
        &[&f],
        vec![step("build", &[&f], 1, json!([]), json!([]))],
        vec![
            json!({"_type": "inspection", "name": "untar", "run": ["tar", "xf", "x.tar"],
                    "expected_materials": [], "expected_products": []}),
        ],
    );
    let env = signed(&lay, EnvelopeKind::Classic, &[&owner]);
    let source =
        MemSource::default().with("build", id(&f), signed_link(&link("build", &[], &[]), &f));
    let mut result = link("untar", &[], &[]);
    result.byproducts.insert("return-value".into(), 2.into());
    let runner = Runner([("untar".to_owned(), result)].into());
    assert_eq!(
        failure(run(&env, &[&owner], &source, &runner)),
        Failure::InspectionFailed {
            inspection: "untar".into(),
            return_value: Some(json!(2))
        }
    );
}

#[test]
fn substitutes_parameters_before_rules() {
    let (owner, f) = (key(), key());
    let (env, source) = one_step(
        &owner,
        &f,
        json!([["CREATE", "app-{VERSION}"], ["DISALLOW", "*"]]),
        &[("app-1.0", "1")],
    );
    let keys = vec![owner.public_key().clone()];
    let mut options = VerifyOptions::at(now());
    options.parameters = Some([("VERSION".to_owned(), "1.0".to_owned())].into());
    let report = verify(&env, &keys, &options, &source, &Runner::default()).unwrap();
    assert_eq!(report.failure, None);
    options.parameters = Some(Default::default());
    assert!(verify(&env, &keys, &options, &source, &Runner::default()).is_err());
}

// ---------------------------------------------------------------------------------------
// The link view of an envelope

#[test]
fn signed_link_reads_the_link_once_from_the_received_bytes() {
    use sbomit_intoto::model::CompactLink;
    let k = key();
    let l = link("build", &[("src.c", "a")], &[("app", "b")]);
    let want = CompactLink::from_link(&l);
    for kind in [EnvelopeKind::Classic, EnvelopeKind::Dsse] {
        let bytes = signed(&l.to_value(), kind, &[&k]).to_file_bytes();
        let read = SignedLink::new(Envelope::parse(&bytes).unwrap());
        let first = read.compact_link().unwrap();
        assert_eq!(first, &want, "{kind:?}");
        // Cached: the second call returns the same value, not a second parse.
        assert!(std::ptr::eq(first, read.compact_link().unwrap()));
        assert!(read.envelope().verify(k.public_key()).is_ok());
    }
    // A classic envelope built from a value has no received bytes: read its payload instead.
    let built = SignedLink::new(signed(&l.to_value(), EnvelopeKind::Classic, &[&k]));
    assert!(built.compact_link().is_none());
    // A payload that is not a plain link has no link view either.
    let layout_env = signed(&layout(&[&k], vec![], vec![]), EnvelopeKind::Dsse, &[&k]);
    let parsed = Envelope::parse(&layout_env.to_file_bytes()).unwrap();
    assert!(SignedLink::from(parsed).compact_link().is_none());
}

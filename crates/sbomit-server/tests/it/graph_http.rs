//! Issue 5 over HTTP: graph queries on a fixture of real SBOMs (the SBOMit SIT examples in
//! CycloneDX, SPDX 2.3 and SPDX 3, SITs emitted by our own SIT code in the three formats, the
//! CycloneDX upstream examples registered as COSE statements) and generated SBOMs nested
//! three levels deep. Each question is one HTTP
//! request whatever the depth, its database round trips stay bounded, and every answer names
//! the log entries it rests on. Runs on SQLite and, when `SBOMIT_TEST_POSTGRES` is set,
//! PostgreSQL.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde_json::{json, Value};

use crate::common::*;
use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_store::policy::Role;

const CI: &str = "https://ci.example";
const VENDOR: &str = "https://vendor.example";
const CVE: &str = "CVE-2026-0001";

/// `../shared/schemas`, beside the repository.
fn schemas() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/schemas")
}

fn read_json(path: PathBuf) -> Value {
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn sha(name: &str) -> String {
    hex::encode(sbomit_intoto::digest::Sha256::digest(name.as_bytes()).as_bytes())
}

fn key_of(name: &str) -> String {
    format!("sha256:{}", sha(name))
}

fn purl(name: &str) -> String {
    format!("pkg:npm/{name}@1.0.0")
}

/// The sha256 the SIT examples give their artifact (`demo-app`) and its one dependency.
const SIT_APP: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SIT_SERDE: &str = "fcb2bd0ab6c1e5ac1bd0a1cdd0d9b8bc8a3b28b5f4b2c9e3a3f0e5b6c7d8e9f0";
/// The one component of the upstream `valid-component-hashes` example.
const ACME_EXAMPLE: &str = "d88bc4e70bfb34d18b5542136639acbb26a8ae2429aa1e47489332fb389cc964";

fn dsse_about(
    key: &PrivateKey,
    name: &str,
    digest: &str,
    predicate_type: &str,
    predicate: Value,
) -> Vec<u8> {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": digest}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, statement).unwrap();
    env.sign(key).unwrap();
    env.to_file_bytes()
}

fn dsse(key: &PrivateKey, subject: &str, predicate_type: &str, predicate: Value) -> Vec<u8> {
    dsse_about(key, subject, &sha(subject), predicate_type, predicate)
}

fn component(name: &str) -> Value {
    json!({"type": "library", "bom-ref": name, "name": name, "version": "1.0.0",
           "purl": purl(name), "hashes": [{"alg": "SHA-256", "content": sha(name)}]})
}

/// A CycloneDX SBOM of `subject` listing `children`.
fn sbom(key: &PrivateKey, subject: &str, children: &[&str]) -> Vec<u8> {
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "application", "bom-ref": subject, "name": subject,
                     "hashes": [{"alg": "SHA-256", "content": sha(subject)}]}},
        "components": children.iter().map(|c| component(c)).collect::<Vec<_>>(),
    });
    dsse(key, subject, "https://cyclonedx.org/bom", bom)
}

/// One CycloneDX document whose components nest three levels deep:
/// platform ⊃ mod-1 ⊃ mod-2 ⊃ mod-3.
fn nested_sbom(key: &PrivateKey) -> Vec<u8> {
    let mut inner = component("mod-3");
    for name in ["mod-2", "mod-1"] {
        let mut c = component(name);
        c["components"] = json!([inner]);
        inner = c;
    }
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "application", "bom-ref": "platform",
                     "name": "platform",
                     "hashes": [{"alg": "SHA-256", "content": sha("platform")}]}},
        "components": [inner],
    });
    dsse(key, "platform", "https://cyclonedx.org/bom", bom)
}

fn vulns(key: &PrivateKey, subject: &str, id: &str) -> Vec<u8> {
    dsse(
        key,
        subject,
        "https://in-toto.io/attestation/vulns/v0.1",
        json!({"scanner": {"uri": "pkg:github/aquasecurity/trivy", "result": [{"id": id}]}}),
    )
}

fn vex(key: &PrivateKey, product: &str, id: &str, status: &str, n: u32) -> Vec<u8> {
    dsse(
        key,
        product,
        "https://openvex.dev/ns/v0.2.0",
        json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": format!("vex-{n}"),
               "author": "vendor", "timestamp": "2026-11-01T00:00:00Z", "version": n,
               "statements": [{"vulnerability": {"name": id},
                               "products": [{"@id": format!("sha256:{}", sha(product))}],
                               "status": status,
                               "justification": "vulnerable_code_not_in_execute_path"}]}),
    )
}

/// The test's HTTP client: counts every request it makes, so a test can show that one
/// question is one request.
struct Client<'a> {
    srv: &'a TestServer,
    requests: AtomicUsize,
    /// The log size this client's registrations imply (the last index + 1).
    covered: AtomicU64,
}

impl<'a> Client<'a> {
    fn new(srv: &'a TestServer) -> Self {
        Client {
            srv,
            requests: AtomicUsize::new(0),
            covered: AtomicU64::new(0),
        }
    }

    fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn register_dsse(&self, bytes: &[u8]) -> u64 {
        self.requests.fetch_add(1, Ordering::SeqCst);
        // Not polled: a success is the store's 201.
        let reg = self.srv.client().register_dsse(bytes).unwrap();
        self.registered(reg.index)
    }

    fn registered(&self, index: u64) -> u64 {
        self.covered.fetch_max(index + 1, Ordering::SeqCst);
        index
    }

    fn register_cose(&self, bytes: &[u8]) -> u64 {
        self.requests.fetch_add(1, Ordering::SeqCst);
        // Not polled: a success is the store's 201 with the receipt.
        let reg = self.srv.client().register_cose(bytes).unwrap();
        self.registered(reg.entry_id.rsplit('.').next().unwrap().parse().unwrap())
    }

    /// A query, answered once the index covers this client's registrations.
    fn query(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let r = self.query_raw(path, params);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = r.json();
        assert_eq!(v["minIndexedReached"], true, "{v}");
        v
    }

    fn query_raw(&self, path: &str, params: &[(&str, &str)]) -> Resp {
        let covered = self.covered.load(Ordering::SeqCst);
        let mut url = format!("{}?minIndexed={covered}", self.srv.url(path));
        for (k, v) in params {
            url.push_str(&format!("&{k}={}", encode(v)));
        }
        self.requests.fetch_add(1, Ordering::SeqCst);
        get(&url, &[])
    }
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The result node keys of a graph answer.
fn keys(answer: &Value) -> BTreeSet<String> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["node"]["key"].as_str().unwrap().to_owned())
        .collect()
}

/// The result nodes by our fixture names (node keys of other nodes as they are).
fn names(answer: &Value) -> BTreeSet<String> {
    let known = [
        "app", "tool", "lib-b", "lib-c", "lib-d", "lib-e", "platform", "mod-1", "mod-2", "mod-3",
    ];
    keys(answer)
        .into_iter()
        .map(|k| {
            known
                .iter()
                .find(|n| key_of(n) == k)
                .map_or(k, |n| n.to_string())
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn result<'v>(answer: &'v Value, key: &str) -> &'v Value {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["node"]["key"] == key)
        .unwrap_or_else(|| panic!("{key} not in {answer}"))
}

fn indexes(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect()
}

struct Fixture {
    ci: PrivateKey,
    sits: Vec<u64>,
    cdx: Vec<u64>,
    chain: Vec<u64>,
    nested: u64,
    scan: u64,
}

/// Registers the fixture over HTTP.
fn fixture(srv: &TestServer, client: &Client<'_>) -> Fixture {
    let ci = key(KeyKind::Ed25519);
    srv.add_issuer(CI, Role::Attester, &ci);
    let vendor = key(KeyKind::EcdsaP256);
    srv.add_issuer(VENDOR, Role::Attester, &vendor);

    // The SBOMit SITs: one artifact (demo-app) and its dependency, in each format.
    let sit_dir = schemas().join("sit-examples");
    let sits = [
        ("sit-cyclonedx-1.6.json", "https://cyclonedx.org/bom"),
        ("sit-spdx-2.3.json", "https://spdx.dev/Document/v2.3"),
        ("sit-spdx-3.0.1.json", "https://spdx.dev/Document/v3.0"),
    ]
    .iter()
    .map(|(file, predicate_type)| {
        let doc = read_json(sit_dir.join(file));
        client.register_dsse(&dsse_about(&ci, "demo-app", SIT_APP, predicate_type, doc))
    })
    .collect();

    // The CycloneDX project's examples, as COSE statements about a product each.
    let cdx_dir = schemas().join("cyclonedx/examples");
    let cdx = [
        (
            "valid-component-hashes-1.6.json",
            "pkg:generic/acme-hashes@1",
        ),
        (
            "valid-external-reference-1.6.json",
            "pkg:generic/acme-refs@1",
        ),
        ("valid-signatures-1.6.json", "pkg:generic/acme-signed@1"),
    ]
    .iter()
    .map(|(file, sub)| {
        let bytes = std::fs::read(cdx_dir.join(file)).unwrap();
        client.register_cose(&cose_statement(
            &vendor,
            VENDOR,
            sub,
            "application/vnd.cyclonedx+json",
            &bytes,
        ))
    })
    .collect();

    // app ⊃ {lib-b, lib-c}; lib-b ⊃ {lib-d}; lib-d ⊃ {lib-e}: three SBOM levels; tool ⊃ lib-d.
    let chain = vec![
        client.register_dsse(&sbom(&ci, "app", &["lib-b", "lib-c"])),
        client.register_dsse(&sbom(&ci, "lib-b", &["lib-d"])),
        client.register_dsse(&sbom(&ci, "lib-d", &["lib-e"])),
        client.register_dsse(&sbom(&ci, "tool", &["lib-d"])),
    ];
    let nested = client.register_dsse(&nested_sbom(&ci));
    let scan = client.register_dsse(&vulns(&ci, "lib-e", CVE));
    Fixture {
        ci,
        sits,
        cdx,
        chain,
        nested,
        scan,
    }
}

#[test]
fn components_answer_exactly_the_expected_sets_with_transitive_paths() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let client = Client::new(&srv);
        let f = fixture(&srv, &client);

        // The SITs: demo-app contains serde (its own file, of the same digest, is itself).
        let a = client.query("/v1/query/components", &[("digest", SIT_APP)]);
        assert_eq!(keys(&a), set(&[&format!("sha256:{SIT_SERDE}")]));
        let serde = result(&a, &format!("sha256:{SIT_SERDE}"));
        assert_eq!(serde["node"]["purl"], "pkg:cargo/serde@1.0.210");
        assert_eq!(
            serde["path"],
            json!([format!("sha256:{SIT_APP}"), format!("sha256:{SIT_SERDE}")])
        );
        // The oldest statement of the edge is cited, and the answer cites it too.
        assert_eq!(indexes(&serde["evidence"]), vec![f.sits[0]]);
        assert_eq!(indexes(&a["evidence"]), vec![f.sits[0]]);
        // Every SIT is evidence about demo-app.
        let e = client.query("/v1/query/evidence", &[("digest", SIT_APP)]);
        assert_eq!(indexes(&e["evidence"]), f.sits);

        // The CycloneDX examples, by the COSE statements' purl subjects.
        let a = client.query(
            "/v1/query/components",
            &[("purl", "pkg:generic/acme-hashes@1")],
        );
        assert_eq!(keys(&a), set(&[&format!("sha256:{ACME_EXAMPLE}")]));
        assert_eq!(indexes(&a["evidence"]), vec![f.cdx[0]]);
        let a = client.query(
            "/v1/query/components",
            &[("purl", "pkg:generic/acme-refs@1")],
        );
        let component_names: BTreeSet<String> = a["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["node"]["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(component_names, set(&["mylibrary", "dummy"]));
        assert_eq!(indexes(&a["evidence"]), vec![f.cdx[1]]);
        // Without a version the purl names every version of the product.
        let a = client.query(
            "/v1/query/components",
            &[("purl", "pkg:generic/acme-signed")],
        );
        assert_eq!(a["results"][0]["node"]["name"], "amce app");

        // Three SBOM levels.
        let a = client.query("/v1/query/components", &[("digest", &sha("app"))]);
        assert_eq!(names(&a), set(&["lib-b", "lib-c", "lib-d", "lib-e"]));
        let e = result(&a, &key_of("lib-e"));
        assert_eq!(e["depth"], 3);
        assert_eq!(
            e["path"],
            json!([
                key_of("app"),
                key_of("lib-b"),
                key_of("lib-d"),
                key_of("lib-e")
            ])
        );
        assert_eq!(indexes(&e["evidence"]), f.chain[..3].to_vec());
        assert_eq!(e["node"]["purl"], purl("lib-e"));
        assert_eq!(result(&a, &key_of("lib-b"))["artifact"], true);
        assert_eq!(indexes(&a["evidence"]), f.chain[..3].to_vec());
        assert_eq!(a["total"], 4);

        // Three levels nested inside one document.
        let a = client.query("/v1/query/components", &[("name", "platform")]);
        assert_eq!(names(&a), set(&["mod-1", "mod-2", "mod-3"]));
        let m3 = result(&a, &key_of("mod-3"));
        assert_eq!(m3["depth"], 3);
        assert_eq!(
            m3["path"],
            json!([
                key_of("platform"),
                key_of("mod-1"),
                key_of("mod-2"),
                key_of("mod-3")
            ])
        );
        assert_eq!(indexes(&m3["evidence"]), vec![f.nested]);

        // The depth limit and paging.
        let a = client.query(
            "/v1/query/components",
            &[("digest", &sha("app")), ("depth", "1")],
        );
        assert_eq!(names(&a), set(&["lib-b", "lib-c"]));
        let a = client.query(
            "/v1/query/components",
            &[("digest", &sha("app")), ("limit", "3")],
        );
        assert_eq!(
            (
                a["results"].as_array().unwrap().len(),
                &a["total"],
                &a["nextOffset"]
            ),
            (3, &json!(4), &json!(3))
        );
        let rest = client.query(
            "/v1/query/components",
            &[("digest", &sha("app")), ("offset", "3")],
        );
        assert_eq!(rest["results"].as_array().unwrap().len(), 1);
        assert!(rest.get("nextOffset").is_none());
    });
}

#[test]
fn dependents_are_found_by_purl_purl_without_version_and_digest() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let client = Client::new(&srv);
        let f = fixture(&srv, &client);
        let expect = set(&["app", "lib-b", "lib-d", "tool"]);
        for (field, value) in [
            ("purl", purl("lib-e")),
            ("purl", "pkg:npm/lib-e".to_owned()),
            ("digest", sha("lib-e")),
            ("digest", format!("sha256:{}", sha("lib-e"))),
        ] {
            let a = client.query("/v1/query/dependents", &[(field, &value)]);
            assert_eq!(names(&a), expect, "{field}={value}");
            let app = result(&a, &key_of("app"));
            // Paths run from the artifact down to the component.
            assert_eq!(
                app["path"],
                json!([
                    key_of("app"),
                    key_of("lib-b"),
                    key_of("lib-d"),
                    key_of("lib-e")
                ])
            );
            assert_eq!(indexes(&app["evidence"]), f.chain[..3].to_vec());
        }
        let a = client.query("/v1/query/dependents", &[("purl", &purl("lib-c"))]);
        assert_eq!(names(&a), set(&["app"]));
        // Real SBOMs: serde is in demo-app (all three SITs), acme-example in acme-hashes.
        let a = client.query("/v1/query/dependents", &[("purl", "pkg:cargo/serde")]);
        assert_eq!(keys(&a), set(&[&format!("sha256:{SIT_APP}")]));
        let a = client.query("/v1/query/dependents", &[("digest", ACME_EXAMPLE)]);
        assert_eq!(keys(&a), set(&["purl:pkg:generic/acme-hashes@1"]));
        // Nested in one document: mod-3 is in mod-2, mod-1 and platform, but only platform
        // is an artifact (the subject of a statement).
        let a = client.query("/v1/query/dependents", &[("purl", &purl("mod-3"))]);
        assert_eq!(names(&a), set(&["platform"]));
    });
}

#[test]
fn vex_not_affected_removes_an_artifact_and_a_later_affected_brings_it_back() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let client = Client::new(&srv);
        let f = fixture(&srv, &client);
        let affected = |client: &Client<'_>| client.query("/v1/query/affected", &[("vuln", CVE)]);
        let a = affected(&client);
        assert_eq!(names(&a), set(&["app", "lib-b", "lib-d", "lib-e", "tool"]));
        assert_eq!(a["vulnerability"], CVE);
        assert!(indexes(&a["evidence"]).contains(&f.scan));
        let app = result(&a, &key_of("app"));
        assert_eq!(
            app["path"].as_array().unwrap().last().unwrap(),
            &json!(key_of("lib-e"))
        );
        assert_eq!(result(&a, &key_of("lib-e"))["depth"], 0);

        let vex1 = client.register_dsse(&vex(&f.ci, "app", CVE, "not_affected", 1));
        let a = affected(&client);
        assert_eq!(names(&a), set(&["lib-b", "lib-d", "lib-e", "tool"]));
        assert!(indexes(&a["evidence"]).contains(&vex1));

        let vex2 = client.register_dsse(&vex(&f.ci, "app", CVE, "affected", 2));
        let a = affected(&client);
        assert_eq!(names(&a), set(&["app", "lib-b", "lib-d", "lib-e", "tool"]));
        assert!(indexes(&a["evidence"]).contains(&vex2));

        let none = client.query("/v1/query/affected", &[("vuln", "CVE-0000-0000")]);
        assert_eq!(none["results"], json!([]));
        assert_eq!(none["total"], 0);
    });
}

#[test]
fn one_request_per_query_whatever_the_depth_and_round_trips_stay_bounded() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let client = Client::new(&srv);
        fixture(&srv, &client);
        for depth in [1u32, 2, 3, 10, 64] {
            let d = depth.to_string();
            for (path, params) in [
                (
                    "/v1/query/components",
                    vec![("digest", sha("app")), ("depth", d.clone())],
                ),
                (
                    "/v1/query/dependents",
                    vec![("purl", "pkg:npm/lib-e".to_owned()), ("depth", d.clone())],
                ),
                (
                    "/v1/query/affected",
                    vec![("vuln", CVE.to_owned()), ("depth", d.clone())],
                ),
            ] {
                let before = client.count();
                let params: Vec<(&str, &str)> =
                    params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let a = client.query(path, &params);
                assert_eq!(
                    client.count(),
                    before + 1,
                    "{path} took more than one request"
                );
                let trips = a["dbRoundTrips"].as_u64().unwrap();
                assert!(
                    trips <= u64::from(depth) + 4,
                    "{path} depth {depth}: {trips} round trips"
                );
                // The whole walk is in this one answer: the deepest node when the depth
                // allows it.
                if path.ends_with("components") && depth >= 3 {
                    assert_eq!(result(&a, &key_of("lib-e"))["depth"], 3);
                }
            }
        }
        let before = client.count();
        let e = client.query("/v1/query/evidence", &[("iss", CI)]);
        assert_eq!(client.count(), before + 1);
        assert!(e["dbRoundTrips"].as_u64().unwrap() <= 4, "{e}");
    });
}

#[test]
fn evidence_is_filtered_by_type_issuer_time_and_paged_by_index() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let client = Client::new(&srv);
        let f = fixture(&srv, &client);
        let e = client.query("/v1/query/evidence", &[("digest", &sha("lib-e"))]);
        assert_eq!(indexes(&e["evidence"]), vec![f.scan]);
        let entry = &e["entries"][0];
        assert_eq!(entry["index"], f.scan);
        assert_eq!(entry["entryId"], format!("1.{}", f.scan));
        assert_eq!(entry["iss"], CI);
        assert_eq!(entry["sub"], "lib-e");
        assert_eq!(entry["type"], "https://in-toto.io/attestation/vulns/v0.1");
        assert_eq!(entry["subjects"][0]["digest"]["sha256"], sha("lib-e"));
        assert!(entry["registeredAt"].as_str().unwrap().ends_with('Z'));

        // By purl: lib-d's SBOM is about lib-d's digest, which the purl resolves to.
        let e = client.query("/v1/query/evidence", &[("purl", &purl("lib-d"))]);
        assert_eq!(indexes(&e["evidence"]), vec![f.chain[2]]);
        // Types are repeatable.
        let e = client.query(
            "/v1/query/evidence",
            &[
                ("iss", CI),
                ("type", "https://cyclonedx.org/bom"),
                ("type", "https://spdx.dev/Document/v2.3"),
            ],
        );
        let mut expect = vec![f.sits[0], f.sits[1]];
        expect.extend(&f.chain);
        expect.push(f.nested);
        assert_eq!(indexes(&e["evidence"]), expect);
        // The issuer filter, and iss/sub.
        let e = client.query(
            "/v1/query/evidence",
            &[("purl", "pkg:generic/acme-hashes@1"), ("issuer", CI)],
        );
        assert_eq!(e["entries"], json!([]));
        let e = client.query(
            "/v1/query/evidence",
            &[("iss", VENDOR), ("sub", "pkg:generic/acme-refs@1")],
        );
        assert_eq!(indexes(&e["evidence"]), vec![f.cdx[1]]);
        // Time: nothing was registered in 1970 or after 2100; both forms are accepted.
        let e = client.query(
            "/v1/query/evidence",
            &[("iss", CI), ("until", "1970-01-02T00:00:00Z")],
        );
        assert_eq!(e["entries"], json!([]));
        let e = client.query(
            "/v1/query/evidence",
            &[("iss", CI), ("since", "4102444800000")],
        );
        assert_eq!(e["entries"], json!([]));
        let e = client.query(
            "/v1/query/evidence",
            &[("iss", CI), ("since", "2020-01-01T00:00:00Z")],
        );
        assert_eq!(e["entries"].as_array().unwrap().len(), 3 + 4 + 1 + 1);
        // Paging: pages of two, following nextAfter, give every entry once, in order.
        let mut seen = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let after_s = after.map(|a| a.to_string());
            let mut params = vec![("iss", CI), ("limit", "2")];
            if let Some(a) = &after_s {
                params.push(("after", a));
            }
            let page = client.query("/v1/query/evidence", &params);
            seen.extend(indexes(&page["evidence"]));
            match page.get("nextAfter").and_then(Value::as_u64) {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let mut all: Vec<u64> = f.sits.clone();
        all.extend(&f.chain);
        all.push(f.nested);
        all.push(f.scan);
        all.sort_unstable();
        assert_eq!(seen, all);
    });
}

#[test]
fn malformed_sbom_content_is_logged_and_shown_as_unparsed_without_a_server_error() {
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let client = Client::new(&srv);
        let ci = key(KeyKind::Ed25519);
        srv.add_issuer(CI, Role::Attester, &ci);
        let vendor = key(KeyKind::EcdsaP256);
        srv.add_issuer(VENDOR, Role::Attester, &vendor);
        // A validly signed in-toto statement whose CycloneDX predicate is nonsense.
        let bad_dsse = client.register_dsse(&dsse(
            &ci,
            "broken",
            "https://cyclonedx.org/bom",
            json!({"bomFormat": "CycloneDX", "components": "not a list"}),
        ));
        // A validly signed COSE statement whose CycloneDX payload is not JSON at all.
        let bad_cose = client.register_cose(&cose_statement(
            &vendor,
            VENDOR,
            "pkg:generic/broken@1",
            "application/vnd.cyclonedx+json",
            b"{\"bomFormat\": \"CycloneDX\", \"components\": [",
        ));
        // Both are logged: they have receipts.
        for i in [bad_dsse, bad_cose] {
            let r = get(&srv.url(&format!("/v1/entries/{i}/receipt")), &[]);
            assert_eq!(r.status, 200);
        }
        for (params, index) in [
            (vec![("digest", sha("broken"))], bad_dsse),
            (vec![("purl", "pkg:generic/broken@1".to_owned())], bad_cose),
        ] {
            let mut params: Vec<(&str, &str)> =
                params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            params.push(("status", "true"));
            let e = client.query("/v1/query/evidence", &params);
            assert_eq!(indexes(&e["evidence"]), vec![index]);
            let status = &e["entries"][0]["indexStatus"];
            assert_eq!(status["kind"], "sbom", "{e}");
            let reason = status["unparsed"].as_str().unwrap_or_default();
            assert!(!reason.is_empty(), "no reason: {e}");
            // The graph queries about it answer, empty, rather than fail.
            for path in ["/v1/query/components", "/v1/query/dependents"] {
                let r = client.query_raw(path, &params[..1]);
                assert_eq!(r.status, 200, "{path}: {}", r.text());
            }
        }
        // A good SBOM after them is indexed as usual.
        client.register_dsse(&sbom(&ci, "app", &["lib-b"]));
        let a = client.query("/v1/query/components", &[("digest", &sha("app"))]);
        assert_eq!(names(&a), set(&["lib-b"]));
    });
}

#[test]
fn bad_query_parameters_are_problem_details_and_reads_follow_the_token_rules() {
    each_backend(|b| {
        let srv = TestServer::start(
            b,
            sbomit_server::ServerConfig {
                read_public: false,
                ..config()
            },
        );
        let auth = bearer(&srv.admin_token);
        let h = [("Authorization", auth.as_str())];
        for (path, why) in [
            ("/v1/query/components", "no target"),
            ("/v1/query/components?digest=a&purl=b", "two targets"),
            ("/v1/query/components?digest=a&depth=0", "depth 0"),
            ("/v1/query/components?digest=a&depth=65", "depth over 64"),
            ("/v1/query/components?digest=a&limit=0", "limit 0"),
            ("/v1/query/components?digest=a&dpeth=3", "unknown parameter"),
            ("/v1/query/dependents?purl=a&offset=-1", "negative offset"),
            ("/v1/query/affected", "no vuln"),
            ("/v1/query/evidence", "no target"),
            ("/v1/query/evidence?digest=a&iss=b", "target and issuer"),
            ("/v1/query/evidence?digest=a&sub=b", "sub without iss"),
            ("/v1/query/evidence?digest=a&since=yesterday", "bad time"),
            ("/v1/query/evidence?digest=a&status=maybe", "bad status"),
        ] {
            let r = get(&srv.url(path), &h);
            assert_eq!(r.status, 400, "{why}: {}", r.text());
            assert_eq!(r.json_problem_title(), "Bad Request", "{why}");
        }
        // read_public = false: queries need a token, like every GET.
        let r = get(&srv.url("/v1/query/affected?vuln=CVE-1"), &[]);
        assert_eq!(r.status, 401);
        assert_eq!(r.json_problem_title(), "Unauthorized");
        let r = get(&srv.url("/v1/query/affected?vuln=CVE-1"), &h);
        assert_eq!(r.status, 200, "{}", r.text());
        // The OpenAPI description names the query and event routes.
        let r = get(&srv.url("/v1/openapi.json"), &h);
        assert_eq!(r.status, 200);
        let doc = r.json();
        assert_eq!(doc["openapi"], "3.1.0");
        for p in [
            "/v1/query/evidence",
            "/v1/query/components",
            "/v1/query/dependents",
            "/v1/query/affected",
            "/v1/events",
            "/v1/entries",
        ] {
            assert!(doc["paths"].get(p).is_some(), "{p}");
        }
    });
}

/// A SIT inventory as `sbomit sit generate` derives it from a verified document: the final
/// product `target/app`, built from `Cargo.lock`, which pins serde.
fn sit_inventory() -> sbomit_sbom::sit::Inventory {
    use sbomit_intoto::digest::Sha256;
    use sbomit_sbom::sit::lockfile::{Hash, HashAlg};
    use sbomit_sbom::sit::{BuildStep, Component, ComponentKind, Evidence, Inventory};
    let hash = |name: &str| Hash {
        alg: HashAlg::Sha256,
        hex: sha(name),
    };
    let evidence = |name: &str, step: &str| Evidence {
        name: name.into(),
        step: step.into(),
        bytes: b"{}".to_vec(),
        sha256: Sha256::digest(b"{}"),
    };
    let app = format!("file:target/app@sha256:{}", sha("target/app"));
    let lock = format!("file:Cargo.lock@sha256:{}", sha("Cargo.lock"));
    let serde = "pkg:cargo/serde@1.0.210".to_owned();
    Inventory {
        document_sha256: Sha256::digest(b"document"),
        name: "app".into(),
        version: Some("1.2.3".into()),
        supplier: None,
        authors: Vec::new(),
        contacts: Vec::new(),
        license: Some("Apache-2.0".into()),
        timestamp: chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap(),
        layout: evidence("root.layout", ""),
        attestations: vec![evidence("build.0123abcd.link", "build")],
        primary: vec![app.clone()],
        components: vec![
            Component {
                id: app.clone(),
                kind: ComponentKind::Application,
                name: "target/app".into(),
                version: None,
                purl: None,
                hashes: vec![hash("target/app")],
                evidence: vec![0],
                from_lockfile: None,
                unhashed: None,
            },
            Component {
                id: lock.clone(),
                kind: ComponentKind::File,
                name: "Cargo.lock".into(),
                version: None,
                purl: None,
                hashes: vec![hash("Cargo.lock")],
                evidence: vec![0],
                from_lockfile: None,
                unhashed: None,
            },
            Component {
                id: serde.clone(),
                kind: ComponentKind::Library,
                name: "serde".into(),
                version: Some("1.0.210".into()),
                purl: Some(serde),
                hashes: vec![hash("serde")],
                evidence: vec![0],
                from_lockfile: Some(lock.clone()),
                unhashed: None,
            },
        ],
        steps: vec![BuildStep {
            name: "build".into(),
            command: vec!["cargo".into(), "build".into()],
            links: vec![0],
            materials: vec![lock],
            products: vec![app],
        }],
    }
}

#[test]
fn sits_from_the_sit_generator_answer_the_same_components_in_every_format() {
    use sbomit_sbom::sit::{self, Format, SitOptions};
    each_backend(|b| {
        let inv = sit_inventory();
        let options = SitOptions::at(inv.timestamp);
        for format in [Format::CycloneDx16, Format::Spdx23, Format::Spdx301] {
            // One log per format, so each answer rests on that format alone.
            let srv = TestServer::start(b, config());
            let client = Client::new(&srv);
            let ci = key(KeyKind::Ed25519);
            srv.add_issuer(CI, Role::Attester, &ci);
            // As `sbomit sit generate --signing-key` signs it: about the final product.
            let index = client.register_dsse(&dsse(
                &ci,
                "target/app",
                format.predicate_type(),
                sit::emit(&inv, format, &options),
            ));
            let a = client.query("/v1/query/components", &[("digest", &sha("target/app"))]);
            let name = format.name();
            assert_eq!(
                keys(&a),
                set(&[&key_of("Cargo.lock"), &key_of("serde")]),
                "{name}: {a}"
            );
            for r in a["results"].as_array().unwrap() {
                assert_eq!(r["depth"], 1, "{name}: {r}");
                assert_eq!(r["path"][0], key_of("target/app"), "{name}: {r}");
                assert_eq!(indexes(&r["evidence"]), vec![index], "{name}: {r}");
            }
            assert_eq!(
                result(&a, &key_of("serde"))["node"]["purl"],
                "pkg:cargo/serde@1.0.210",
                "{name}"
            );
            let d = client.query("/v1/query/dependents", &[("purl", "pkg:cargo/serde")]);
            assert_eq!(keys(&d), set(&[&key_of("target/app")]), "{name}: {d}");
        }
    });
}

#[test]
fn the_typed_client_reads_every_graph_answer_as_the_store_sent_it() {
    use sbomit_client::{EvidenceQuery, Target, Walk};
    each_backend(|b| {
        let srv = TestServer::start(b, config());
        let client = Client::new(&srv);
        let f = fixture(&srv, &client);
        let walk = Walk {
            min_indexed: Some(client.covered.load(Ordering::SeqCst)),
            ..Walk::default()
        };
        let typed = srv.client();

        let app = sha("app");
        let a = typed.components(Target::Digest(&app), &walk).unwrap();
        let raw = client.query("/v1/query/components", &[("digest", &app)]);
        assert_eq!(a.raw, raw);
        assert_eq!(a.min_indexed_reached, Some(true));
        let typed_keys: BTreeSet<String> = a.results.iter().map(|r| r.node.key.clone()).collect();
        assert_eq!(typed_keys, keys(&raw));
        let lib_e = a
            .results
            .iter()
            .find(|r| r.node.key == key_of("lib-e"))
            .unwrap();
        assert_eq!(lib_e.path.first(), Some(&key_of("app")));
        assert_eq!(lib_e.depth, 3);
        assert_eq!(a.total as usize, a.results.len());

        let lib_e_purl = purl("lib-e");
        let d = typed.dependents(Target::Purl(&lib_e_purl), &walk).unwrap();
        assert_eq!(
            d.raw,
            client.query("/v1/query/dependents", &[("purl", &lib_e_purl)])
        );
        assert!(d.results.iter().any(|r| r.node.key == key_of("app")));

        let v = typed.affected(CVE, &walk).unwrap();
        assert_eq!(v.raw, client.query("/v1/query/affected", &[("vuln", CVE)]));
        assert_eq!(v.vulnerability.as_deref(), Some(CVE));

        let mut q = EvidenceQuery::about(Target::Digest(&sha("lib-e")));
        q.status = true;
        q.min_indexed = walk.min_indexed;
        let e = typed.evidence(&q).unwrap();
        assert_eq!(
            e.raw,
            client.query(
                "/v1/query/evidence",
                &[("digest", &sha("lib-e")), ("status", "true")]
            )
        );
        let scan = e.entries.iter().find(|x| x.index == f.scan).unwrap();
        assert_eq!(scan.iss.as_deref(), Some(CI));
        assert!(scan.index_status.is_some());
        assert!(e.evidence.contains(&f.scan));
    });
}

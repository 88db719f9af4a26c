//! Lockfiles among a build's attested materials, read into package components.
//!
//! Only digests the lockfile records for the package artifact itself are kept, under their
//! real algorithm: Cargo's `checksum` is the sha256 of the `.crate` file; npm's `integrity`
//! is usually sha512 and stays sha512; pip `--hash=sha256:` and poetry/uv file hashes are
//! sha256 of a distribution file. Nothing is ever relabelled as sha256.

use base64::Engine as _;
use serde_json::Value;

/// Which lockfile format a file is, by its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockfileKind {
    Cargo,
    Npm,
    Requirements,
    Poetry,
    Uv,
    /// Go's `go.sum`: module versions with `h1:` hashes (a hash of the module's file list, not
    /// of any file), so a Go package's sha256 is its attested module archive's.
    GoSum,
}

impl LockfileKind {
    /// The lockfile kind of an artifact path, by its last component.
    pub fn from_path(path: &str) -> Option<Self> {
        let base = path.rsplit('/').next().unwrap_or(path);
        match base {
            "Cargo.lock" => Some(Self::Cargo),
            "package-lock.json" | "npm-shrinkwrap.json" => Some(Self::Npm),
            "poetry.lock" => Some(Self::Poetry),
            "uv.lock" => Some(Self::Uv),
            "go.sum" => Some(Self::GoSum),
            b if b.starts_with("requirements") && b.ends_with(".txt") => Some(Self::Requirements),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cargo => "Cargo.lock",
            Self::Npm => "package-lock.json",
            Self::Requirements => "requirements.txt",
            Self::Poetry => "poetry.lock",
            Self::Uv => "uv.lock",
            Self::GoSum => "go.sum",
        }
    }
}

/// A digest algorithm a lockfile records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The in-toto digest-set name.
    pub fn intoto_name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    pub fn from_intoto_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }
}

/// A digest: algorithm and lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash {
    pub alg: HashAlg,
    pub hex: String,
}

impl Hash {
    /// Checks the hex length and case for `alg` (lowercases it).
    pub fn new(alg: HashAlg, hex: &str) -> Option<Self> {
        let hex = hex.to_ascii_lowercase();
        (hex.len() == alg.hex_len() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(Hash { alg, hex })
    }
}

/// A package a lockfile pins.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub purl: String,
    pub hashes: Vec<Hash>,
}

/// Why a lockfile could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LockfileError {
    #[error("{kind} is not valid {syntax}: {reason}")]
    Syntax {
        kind: &'static str,
        syntax: &'static str,
        reason: String,
    },
    #[error("{kind}: {reason}")]
    Shape { kind: &'static str, reason: String },
}

/// Percent-encodes a purl name/version segment (RFC 3986 unreserved kept).
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// PEP 503 normalised name, as the pypi purl type wants it.
fn pypi_name(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn pypi_purl(name: &str, version: &str) -> String {
    format!("pkg:pypi/{}@{}", pct(&pypi_name(name)), pct(version))
}

/// Reads the packages of a lockfile.
pub fn parse(kind: LockfileKind, bytes: &[u8]) -> Result<Vec<Package>, LockfileError> {
    let kname = kind.name();
    let text = std::str::from_utf8(bytes).map_err(|e| LockfileError::Syntax {
        kind: kname,
        syntax: "UTF-8",
        reason: e.to_string(),
    })?;
    let mut pkgs = match kind {
        LockfileKind::Cargo => cargo(text)?,
        LockfileKind::Npm => npm(text)?,
        LockfileKind::Requirements => requirements(text),
        LockfileKind::Poetry => toml_packages(text, kname, false)?,
        LockfileKind::Uv => toml_packages(text, kname, true)?,
        LockfileKind::GoSum => go_sum(text),
    };
    for p in &mut pkgs {
        p.hashes.sort();
        p.hashes.dedup();
    }
    pkgs.sort();
    pkgs.dedup();
    Ok(pkgs)
}

fn toml_doc(text: &str, kind: &'static str) -> Result<toml::Table, LockfileError> {
    text.parse::<toml::Table>()
        .map_err(|e| LockfileError::Syntax {
            kind,
            syntax: "TOML",
            reason: e.to_string(),
        })
}

fn cargo(text: &str) -> Result<Vec<Package>, LockfileError> {
    let doc = toml_doc(text, "Cargo.lock")?;
    let mut out = Vec::new();
    let Some(list) = doc.get("package").and_then(toml::Value::as_array) else {
        return Ok(out);
    };
    for p in list {
        let s = |k: &str| p.get(k).and_then(toml::Value::as_str);
        let (Some(name), Some(version)) = (s("name"), s("version")) else {
            continue;
        };
        // No `source`: a workspace member (the product itself), not a dependency.
        let Some(source) = s("source") else { continue };
        let mut purl = format!("pkg:cargo/{}@{}", pct(name), pct(version));
        if !source.starts_with("registry+https://github.com/rust-lang/crates.io-index")
            && !source.starts_with("sparse+https://index.crates.io/")
        {
            purl.push_str(&format!("?repository_url={}", pct(source)));
        }
        // `checksum` is the sha256 of the downloaded .crate file.
        let hashes = s("checksum")
            .and_then(|c| Hash::new(HashAlg::Sha256, c))
            .into_iter()
            .collect();
        out.push(Package {
            name: name.to_owned(),
            version: version.to_owned(),
            purl,
            hashes,
        });
    }
    Ok(out)
}

/// npm `integrity`: space-separated SRI strings, `alg-base64`.
fn sri(integrity: &str) -> Vec<Hash> {
    integrity
        .split_whitespace()
        .filter_map(|item| {
            let (alg, b64) = item.split_once('-')?;
            let alg = match alg {
                "sha256" => HashAlg::Sha256,
                "sha384" => HashAlg::Sha384,
                "sha512" => HashAlg::Sha512,
                _ => return None, // sha1 and others: not kept
            };
            let b64 = b64.split('?').next().unwrap_or(b64);
            let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            Hash::new(alg, &hex::encode(raw))
        })
        .collect()
}

fn npm_purl(name: &str, version: &str) -> String {
    // Scoped packages: the scope is the purl namespace, `@` encoded.
    match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
        Some((scope, n)) => format!("pkg:npm/%40{}/{}@{}", pct(scope), pct(n), pct(version)),
        None => format!("pkg:npm/{}@{}", pct(name), pct(version)),
    }
}

fn npm(text: &str) -> Result<Vec<Package>, LockfileError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| LockfileError::Syntax {
        kind: "package-lock.json",
        syntax: "JSON",
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    if let Some(pkgs) = doc.get("packages").and_then(Value::as_object) {
        // lockfileVersion 2/3: keys are install paths; "" is the root project.
        for (path, p) in pkgs {
            if path.is_empty() || p.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let Some(version) = p.get("version").and_then(Value::as_str) else {
                continue;
            };
            let name = match p.get("name").and_then(Value::as_str) {
                Some(n) => n,
                None => match path.rfind("node_modules/") {
                    Some(i) => &path[i + "node_modules/".len()..],
                    None => continue, // a workspace folder, not a dependency
                },
            };
            let hashes = p
                .get("integrity")
                .and_then(Value::as_str)
                .map(sri)
                .unwrap_or_default();
            out.push(Package {
                name: name.to_owned(),
                version: version.to_owned(),
                purl: npm_purl(name, version),
                hashes,
            });
        }
    } else if let Some(deps) = doc.get("dependencies").and_then(Value::as_object) {
        // lockfileVersion 1: nested `dependencies`.
        let mut stack: Vec<&serde_json::Map<String, Value>> = vec![deps];
        while let Some(deps) = stack.pop() {
            for (name, p) in deps {
                if let Some(version) = p.get("version").and_then(Value::as_str) {
                    let hashes = p
                        .get("integrity")
                        .and_then(Value::as_str)
                        .map(sri)
                        .unwrap_or_default();
                    out.push(Package {
                        name: name.clone(),
                        version: version.to_owned(),
                        purl: npm_purl(name, version),
                        hashes,
                    });
                }
                if let Some(inner) = p.get("dependencies").and_then(Value::as_object) {
                    stack.push(inner);
                }
            }
        }
    } else {
        return Err(LockfileError::Shape {
            kind: "package-lock.json",
            reason: "neither `packages` nor `dependencies`".into(),
        });
    }
    Ok(out)
}

/// `name==version` requirements, with `--hash=sha256:` options (continuation lines joined).
/// `go.sum`: `MODULE VERSION h1:HASH` per module version, and `MODULE VERSION/go.mod h1:HASH`
/// for modules whose `go.mod` alone was needed (not packages of the build: skipped).
fn go_sum(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(module), Some(version), Some(_hash)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if version.ends_with("/go.mod") {
            continue;
        }
        out.push(Package {
            name: module.to_owned(),
            version: version.to_owned(),
            purl: format!(
                "pkg:golang/{}@{}",
                module.split('/').map(pct).collect::<Vec<_>>().join("/"),
                pct(version)
            ),
            hashes: Vec::new(),
        });
    }
    out
}

/// The module cache's escaping of a module path (`github.com/BurntSushi/toml` →
/// `github.com/!burnt!sushi/toml`): upper-case letters become `!` and the lower-case letter.
pub fn go_escape(module: &str) -> String {
    let mut out = String::with_capacity(module.len());
    for c in module.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn requirements(text: &str) -> Vec<Package> {
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        }
        .trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let Some(spec) = parts.next() else { continue };
        let spec = spec.split(';').next().unwrap_or(spec);
        let Some((name, version)) = spec.split_once("==") else {
            continue; // unpinned: no version to report
        };
        let name = name.split('[').next().unwrap_or(name).trim();
        let mut hashes = Vec::new();
        let mut rest: Vec<&str> = parts.collect();
        // `--hash sha256:...` (space) as well as `--hash=sha256:...`.
        let mut i = 0;
        while i < rest.len() {
            let h = if let Some(h) = rest[i].strip_prefix("--hash=") {
                Some(h)
            } else if rest[i] == "--hash" && i + 1 < rest.len() {
                i += 1;
                Some(rest[i])
            } else {
                None
            };
            if let Some(h) = h.and_then(|h| h.strip_prefix("sha256:")) {
                hashes.extend(Hash::new(HashAlg::Sha256, h));
            }
            i += 1;
        }
        rest.clear();
        out.push(Package {
            name: name.to_owned(),
            version: version.trim().to_owned(),
            purl: pypi_purl(name, version.trim()),
            hashes,
        });
    }
    out
}

/// poetry.lock (`[[package]]` with `files = [{file, hash = "sha256:..."}]`) and uv.lock
/// (`[[package]]` with `sdist`/`wheels` tables holding `hash = "sha256:..."`).
fn toml_packages(text: &str, kind: &'static str, uv: bool) -> Result<Vec<Package>, LockfileError> {
    let doc = toml_doc(text, kind)?;
    let mut out = Vec::new();
    let Some(list) = doc.get("package").and_then(toml::Value::as_array) else {
        return Ok(out);
    };
    for p in list {
        let s = |k: &str| p.get(k).and_then(toml::Value::as_str);
        let (Some(name), Some(version)) = (s("name"), s("version")) else {
            continue;
        };
        if uv {
            // The project itself and path dependencies are not registry packages.
            let source = p.get("source").and_then(toml::Value::as_table);
            let local = source.is_some_and(|t| {
                t.contains_key("editable") || t.contains_key("virtual") || t.contains_key("path")
            });
            if local {
                continue;
            }
        }
        let mut hashes = Vec::new();
        let mut add = |t: &toml::Value| {
            if let Some(h) = t
                .get("hash")
                .and_then(toml::Value::as_str)
                .and_then(|h| h.strip_prefix("sha256:"))
            {
                hashes.extend(Hash::new(HashAlg::Sha256, h));
            }
        };
        if uv {
            if let Some(sdist) = p.get("sdist") {
                add(sdist);
            }
            for w in p
                .get("wheels")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
            {
                add(w);
            }
        } else {
            for f in p
                .get("files")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
            {
                add(f);
            }
        }
        out.push(Package {
            name: name.to_owned(),
            version: version.to_owned(),
            purl: pypi_purl(name, version),
            hashes,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const H: &str = "fcb2bd0ab6c1e5ac1bd0a1cdd0d9b8bc8a3b28b5f4b2c9e3a3f0e5b6c7d8e9f0";

    #[test]
    fn cargo_lock_checksums_are_sha256_and_members_are_skipped() {
        let text = format!(
            "version = 3\n[[package]]\nname = \"me\"\nversion = \"0.1.0\"\n\n\
             [[package]]\nname = \"serde\"\nversion = \"1.0.210\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{H}\"\n\n\
             [[package]]\nname = \"g\"\nversion = \"0.1.0\"\nsource = \"git+https://x/g#abc\"\n"
        );
        let go = "github.com/BurntSushi/toml v1.3.2 h1:o7IhLm0Msx3BaB+n3Ag7L8EVlByGnpq14C4YWiu/gL8=\n\
                  github.com/BurntSushi/toml v1.3.2/go.mod h1:CxXYINrC8qIiEnFrOxCa7Jy5BFHlXnUU2pbicEuybxQ=\n\
                  golang.org/x/mod v0.12.0/go.mod h1:iBbtSCu2XBx23ZKBPSOrRkjjQPZFPuis4dIYUhu/chs=\n";
        let p = parse(LockfileKind::GoSum, go.as_bytes()).unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].purl, "pkg:golang/github.com/BurntSushi/toml@v1.3.2");
        assert!(p[0].hashes.is_empty());
        assert_eq!(
            go_escape("github.com/BurntSushi/toml"),
            "github.com/!burnt!sushi/toml"
        );
        let p = parse(LockfileKind::Cargo, text.as_bytes()).unwrap();
        assert_eq!(p.len(), 2);
        let serde = p.iter().find(|p| p.name == "serde").unwrap();
        assert_eq!(serde.purl, "pkg:cargo/serde@1.0.210");
        assert_eq!(serde.hashes, vec![Hash::new(HashAlg::Sha256, H).unwrap()]);
        let g = p.iter().find(|p| p.name == "g").unwrap();
        assert!(g.hashes.is_empty());
        assert!(g.purl.contains("repository_url=git%2Bhttps"));
    }

    #[test]
    fn npm_integrity_stays_sha512() {
        let text = r#"{"lockfileVersion": 3, "packages": {
            "": {"name": "app", "version": "1.0.0"},
            "node_modules/@scope/x": {"version": "2.0.0",
                "integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="},
            "node_modules/left-pad": {"version": "1.3.0", "integrity": "sha1-W1S2aLTBfztbr3ey3TrGwGBPwEg="},
            "packages/local": {"version": "0.0.1"}
        }}"#;
        let p = parse(LockfileKind::Npm, text.as_bytes()).unwrap();
        assert_eq!(p.len(), 2);
        let x = p.iter().find(|p| p.name == "@scope/x").unwrap();
        assert_eq!(x.purl, "pkg:npm/%40scope/x@2.0.0");
        assert_eq!(x.hashes.len(), 1);
        assert_eq!(x.hashes[0].alg, HashAlg::Sha512);
        assert_eq!(x.hashes[0].hex.len(), 128);
        let lp = p.iter().find(|p| p.name == "left-pad").unwrap();
        assert!(lp.hashes.is_empty(), "sha1 is not kept, never relabelled");
    }

    #[test]
    fn requirements_hashes() {
        let text = format!(
            "# comment\nRequests[socks]==2.31.0 \\\n    --hash=sha256:{H} \\\n    --hash=sha256:{H}\nflask>=2\n-r other.txt\nsix==1.16.0 --hash sha256:{H}\n"
        );
        let p = parse(LockfileKind::Requirements, text.as_bytes()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].purl, "pkg:pypi/requests@2.31.0");
        assert_eq!(p[0].hashes.len(), 1);
        assert_eq!(p[1].name, "six");
        assert_eq!(p[1].hashes.len(), 1);
    }

    #[test]
    fn poetry_and_uv() {
        let poetry = format!(
            "[[package]]\nname = \"Zope.Interface\"\nversion = \"6.0\"\nfiles = [\n  {{file = \"a.whl\", hash = \"sha256:{H}\"}},\n]\n"
        );
        let p = parse(LockfileKind::Poetry, poetry.as_bytes()).unwrap();
        assert_eq!(p[0].purl, "pkg:pypi/zope-interface@6.0");
        assert_eq!(p[0].hashes.len(), 1);
        let uv = format!(
            "version = 1\n[[package]]\nname = \"me\"\nversion = \"0.1.0\"\nsource = {{ editable = \".\" }}\n\n\
             [[package]]\nname = \"idna\"\nversion = \"3.7\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\n\
             sdist = {{ url = \"u\", hash = \"sha256:{H}\", size = 1 }}\nwheels = [{{ url = \"w\", hash = \"sha256:{}\" }}]\n",
            "0".repeat(64)
        );
        let p = parse(LockfileKind::Uv, uv.as_bytes()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].hashes.len(), 2);
    }

    #[test]
    fn names() {
        assert_eq!(
            LockfileKind::from_path("a/b/Cargo.lock"),
            Some(LockfileKind::Cargo)
        );
        assert_eq!(
            LockfileKind::from_path("requirements-dev.txt"),
            Some(LockfileKind::Requirements)
        );
        assert_eq!(LockfileKind::from_path("Cargo.toml"), None);
        assert_eq!(
            LockfileKind::from_path("svc/go.sum"),
            Some(LockfileKind::GoSum)
        );
    }
}

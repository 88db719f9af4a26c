//! `sbomit demo`: the quickstart. Builds a real three-step supply chain (write code → build →
//! package) with fresh keys in a scratch directory, verifies it as a customer would, then
//! tampers with the delivered package and shows the failure report.
//!
//! Every step runs this very binary as a child process with the command line a user would
//! type, and prints it, so the demo doubles as a tutorial.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::Output;
use crate::Outcome;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to build the chain (kept afterwards). Default: a new temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

const LAYOUT_SOURCE: &str = r#"# The project owner's plan for the supply chain, in sbomit's readable layout source.
expires = "2099-01-01T00:00:00Z"
readme = "sbomit demo: write code, build, package"

[keys]
alice = "alice.pub"   # developer
bob = "bob.pub"       # builder
carl = "carl.pub"     # packager

[[steps]]
name = "write-code"
functionaries = ["alice"]
expected_command = ["sh", "-c", "mkdir -p src && printf '#!/bin/sh\\necho \"hello from version @VERSION@\"\\n' > src/hello.sh"]
expected_products = ["CREATE src/hello.sh", "DISALLOW *"]

[[steps]]
name = "build"
functionaries = ["bob"]
expected_command = ["sh", "-c", "mkdir -p dist && sed s/@VERSION@/1.0/ src/hello.sh > dist/hello && chmod +x dist/hello"]
expected_materials = ["MATCH src/* WITH PRODUCTS FROM write-code", "DISALLOW *"]
expected_products = ["CREATE dist/hello", "DISALLOW *"]

[[steps]]
name = "package"
functionaries = ["carl"]
expected_command = ["tar", "czf", "hello.tar.gz", "dist"]
expected_materials = ["MATCH dist/* WITH PRODUCTS FROM build", "DISALLOW *"]
expected_products = ["CREATE hello.tar.gz", "DISALLOW *"]

# Run by the verifier on the delivered package: what is inside must be what was built.
[[inspect]]
name = "untar"
run = ["tar", "xzf", "hello.tar.gz"]
expected_materials = ["MATCH hello.tar.gz WITH PRODUCTS FROM package", "ALLOW *.link", "ALLOW root.layout", "ALLOW owner.pub", "DISALLOW *"]
expected_products = ["MATCH dist/hello WITH PRODUCTS FROM build", "ALLOW hello.tar.gz", "ALLOW *.link", "ALLOW root.layout", "ALLOW owner.pub", "DISALLOW *"]
"#;

struct Runner {
    exe: PathBuf,
    quiet: bool,
}

impl Runner {
    /// Runs `sbomit ARGS` in `dir`, echoing the command line; returns the exit code.
    fn sbomit(&self, dir: &Path, args: &[&str]) -> Result<i32> {
        if !self.quiet {
            eprintln!("\n$ sbomit {}", args.join(" "));
        }
        let status = Command::new(&self.exe)
            .args(args)
            .current_dir(dir)
            .status()
            .with_context(|| format!("cannot run {}", self.exe.display()))?;
        status.code().context("sbomit was killed by a signal")
    }

    fn must(&self, dir: &Path, args: &[&str]) -> Result<()> {
        match self.sbomit(dir, args)? {
            0 => Ok(()),
            code => bail!("`sbomit {}` exited with {code}", args.join(" ")),
        }
    }
}

pub fn run(args: DemoArgs, out: &Output) -> Result<Outcome> {
    let exe = std::env::current_exe().context("cannot find the sbomit executable")?;
    let r = Runner {
        exe,
        quiet: out.quiet,
    };
    let root = match args.dir {
        Some(d) => {
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create {}", d.display()))?;
            d
        }
        None => tempfile_dir()?,
    };
    // Absolute, because the steps below run in different directories.
    let root = root
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", root.display()))?;
    out.info(format!("sbomit demo in {}", root.display()));
    let work = root.join("work");
    let deliver = root.join("delivered");
    for d in [&work, &deliver] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }

    out.info("\n== 1. Keys: the owner signs the layout; alice, bob and carl sign their steps");
    for who in ["owner", "alice", "bob", "carl"] {
        r.must(
            &work,
            &["key", "generate", "--type", "ed25519", "--out", who],
        )?;
    }

    out.info("\n== 2. The owner writes and signs the layout");
    write(&work.join("layout.toml"), LAYOUT_SOURCE)?;
    r.must(
        &work,
        &[
            "layout",
            "create",
            "--from",
            "layout.toml",
            "--out",
            "root.layout",
            "--signing-key",
            "owner",
        ],
    )?;
    r.must(&work, &["layout", "show", "root.layout"])?;

    out.info("\n== 3. The functionaries carry out the steps, each recorded as a signed link");
    let write_code = "mkdir -p src && printf '#!/bin/sh\\necho \"hello from version @VERSION@\"\\n' > src/hello.sh";
    r.must(
        &work,
        &[
            "run",
            "-n",
            "write-code",
            "--signing-key",
            "alice",
            "-p",
            "src",
            "--",
            "sh",
            "-c",
            write_code,
        ],
    )?;
    let build =
        "mkdir -p dist && sed s/@VERSION@/1.0/ src/hello.sh > dist/hello && chmod +x dist/hello";
    r.must(
        &work,
        &[
            "run",
            "-n",
            "build",
            "--signing-key",
            "bob",
            "-m",
            "src",
            "-p",
            "dist",
            "--",
            "sh",
            "-c",
            build,
        ],
    )?;
    r.must(
        &work,
        &[
            "run",
            "-n",
            "package",
            "--signing-key",
            "carl",
            "-m",
            "dist",
            "-p",
            "hello.tar.gz",
            "--",
            "tar",
            "czf",
            "hello.tar.gz",
            "dist",
        ],
    )?;

    out.info("\n== 4. The customer receives the package, the layout and the links, and verifies");
    copy_delivery(&work, &deliver)?;
    let verify = [
        "verify",
        "--layout",
        "root.layout",
        "--verification-keys",
        "owner.pub",
    ];
    if r.sbomit(&deliver, &verify)? != 0 {
        bail!("the untampered chain did not verify");
    }

    out.info("\n== 5. An attacker swaps the program inside the package; verification must fail");
    let evil = root.join("evil");
    std::fs::create_dir_all(evil.join("dist"))
        .with_context(|| format!("cannot create {}", evil.display()))?;
    write(
        &evil.join("dist/hello"),
        "#!/bin/sh\necho 'all your base'\n",
    )?;
    let status = Command::new("tar")
        .args(["czf"])
        .arg(deliver.join("hello.tar.gz"))
        .arg("dist")
        .current_dir(&evil)
        .status()
        .context("cannot run tar")?;
    anyhow::ensure!(status.success(), "tar failed while tampering");
    std::fs::remove_dir_all(deliver.join("dist")).ok();
    match r.sbomit(&deliver, &verify)? {
        1 => {
            out.info(format!(
                "\nAs expected, the tampered package was caught. Everything is in {}",
                root.display()
            ));
            Ok(Outcome::Ok)
        }
        code => bail!("verifying the tampered package exited with {code}, expected 1"),
    }
}

fn tempfile_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for i in 0..1000u32 {
        let d = base.join(format!("sbomit-demo-{}-{i}", std::process::id()));
        if std::fs::create_dir(&d).is_ok() {
            return Ok(d);
        }
    }
    bail!("cannot create a scratch directory under {}", base.display())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn copy_delivery(from: &Path, to: &Path) -> Result<()> {
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        let n = name.to_string_lossy();
        if n.ends_with(".link") || n == "root.layout" || n == "owner.pub" || n == "hello.tar.gz" {
            std::fs::copy(entry.path(), to.join(&name))
                .with_context(|| format!("cannot copy {n}"))?;
        }
    }
    Ok(())
}

//! `sbomit demo`: the quickstart. Builds a real three-step supply chain (write code → build →
//! package) with fresh keys in a scratch directory, verifies it as a customer would, then
//! tampers with the delivered package and shows the failure report.
//!
//! Every step runs this very binary as a child process with the command line a user would
//! type, and prints it shell-quoted, with the `cd` before it, so the demo doubles as a
//! tutorial: its `$ ` lines pasted into `sh` do the same thing. Each verification runs in a
//! copy of the delivery (inspections unpack the package where they run), so the delivered
//! directory is left as it was, and the demo runs again in the same directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::Output;
use crate::Outcome;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to build the chain (kept afterwards): a new or empty directory, or one an
    /// earlier demo made (whose contents are replaced). Default: a new temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The file that marks a directory as the demo's own, so a second run may clear it.
const MARKER: &str = ".sbomit-demo";

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
    /// The directory the printed commands are in (a `cd` is printed when it changes).
    cwd: std::cell::RefCell<Option<PathBuf>>,
}

impl Runner {
    /// Prints a line of the narrative (stdout, as the results are).
    fn say(&self, text: &str) {
        if !self.quiet {
            println!("{text}");
        }
    }

    /// Prints `$ COMMAND` as a user would type it in `dir`, after a `cd` if needed.
    fn echo(&self, dir: &Path, argv: &[&str]) {
        let line: Vec<String> = argv.iter().map(|a| quote(a)).collect();
        self.echo_line(dir, &line.join(" "));
    }

    fn echo_line(&self, dir: &Path, line: &str) {
        if self.quiet {
            return;
        }
        let mut cwd = self.cwd.borrow_mut();
        if cwd.as_deref() != Some(dir) {
            println!("\n$ cd {}", quote(&dir.to_string_lossy()));
            *cwd = Some(dir.to_owned());
        } else {
            println!();
        }
        println!("$ {line}");
    }

    /// Runs `sbomit ARGS` in `dir`, echoing the command line; returns the exit code.
    fn sbomit(&self, dir: &Path, args: &[&str]) -> Result<i32> {
        self.echo(dir, &[&["sbomit"], args].concat());
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

    /// Runs a shell command line in `dir`, echoing it as is; it must succeed.
    fn shell(&self, dir: &Path, line: &str) -> Result<()> {
        self.echo_line(dir, line);
        let status = Command::new("sh")
            .args(["-c", line])
            .current_dir(dir)
            .status()
            .context("cannot run sh")?;
        anyhow::ensure!(status.success(), "`{line}` failed");
        Ok(())
    }

    /// Runs another program in `dir`, echoing it; it must succeed.
    fn tool(&self, dir: &Path, argv: &[&str]) -> Result<()> {
        self.echo(dir, argv);
        let (program, args) = argv.split_first().context("no command")?;
        let status = Command::new(program)
            .args(args)
            .current_dir(dir)
            .status()
            .with_context(|| format!("cannot run {program}"))?;
        anyhow::ensure!(status.success(), "`{}` failed", argv.join(" "));
        Ok(())
    }
}

/// `arg` quoted for `sh`: as is when it holds only characters no shell treats specially,
/// else in single quotes (a single quote inside written `'\''`).
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Makes `dir` the demo's: created if absent, taken if empty, cleared if an earlier demo
/// made it (it holds the marker); any other directory is refused rather than written into.
fn prepare(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    if !entries.is_empty() {
        if !dir.join(MARKER).is_file() {
            bail!(
                "{} is not empty and not a directory an earlier `sbomit demo` made: give a new or empty --dir",
                dir.display()
            );
        }
        for e in entries.drain(..) {
            let path = e.path();
            let gone = if e.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            gone.with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    write(
        &dir.join(MARKER),
        "made by `sbomit demo`; a new run clears this directory\n",
    )
}

pub fn run(args: DemoArgs, out: &Output) -> Result<Outcome> {
    let exe = std::env::current_exe().context("cannot find the sbomit executable")?;
    let r = Runner {
        exe,
        quiet: out.quiet,
        cwd: std::cell::RefCell::new(None),
    };
    let root = match args.dir {
        Some(d) => {
            prepare(&d)?;
            d
        }
        None => {
            let d = tempfile_dir()?;
            prepare(&d)?;
            d
        }
    };
    // Absolute, because the steps below run in different directories.
    let root = root
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", root.display()))?;
    r.say(&format!("sbomit demo in {}", root.display()));
    let work = root.join("work");
    r.tool(&root, &["mkdir", "-p", "work", "delivered"])?;

    r.say("\n== 1. Keys: the owner signs the layout; alice, bob and carl sign their steps");
    for who in ["owner", "alice", "bob", "carl"] {
        r.must(
            &work,
            &["key", "generate", "--type", "ed25519", "--out", who],
        )?;
    }

    r.say("\n== 2. The owner writes and signs the layout");
    // One line to paste: printf's %b turns the \n back into newlines.
    let encoded = LAYOUT_SOURCE.replace('\\', "\\\\").replace('\n', "\\n");
    r.shell(
        &work,
        &format!("printf '%b' {} > layout.toml", quote(&encoded)),
    )?;
    r.tool(&work, &["cat", "layout.toml"])?;
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

    r.say("\n== 3. The functionaries carry out the steps, each recorded as a signed link");
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

    r.say("\n== 4. The customer receives the package, the layout and the links, and verifies");
    r.shell(
        &work,
        "cp *.link root.layout owner.pub hello.tar.gz ../delivered",
    )?;
    let verify = [
        "verify",
        "--layout",
        "root.layout",
        "--verification-keys",
        "owner.pub",
    ];
    // In a copy: the inspection unpacks the package where it runs.
    let first = root.join("verify-1");
    r.tool(&root, &["cp", "-R", "delivered", "verify-1"])?;
    if r.sbomit(&first, &verify)? != 0 {
        bail!("the untampered chain did not verify");
    }

    r.say("\n== 5. An attacker swaps the program inside the package; verification must fail");
    let evil = root.join("evil");
    r.tool(&root, &["mkdir", "-p", "evil/dist"])?;
    r.shell(
        &evil,
        "printf '#!/bin/sh\\necho all your base\\n' > dist/hello",
    )?;
    r.tool(&evil, &["tar", "czf", "../delivered/hello.tar.gz", "dist"])?;
    r.tool(&root, &["cp", "-R", "delivered", "verify-2"])?;
    match r.sbomit(&root.join("verify-2"), &verify)? {
        1 => {
            r.say(&format!(
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

//! Verifying an SBOMit document (its addenda, then the in-toto chain over its embedded links)
//! with the inspections' fate recorded: which ran, and which did not and why. An inspection
//! that did not run is never counted as passed: verification stops there, and the outcome is
//! [`DocumentOutcome::Incomplete`].

// `DocumentOutcome` carries a `DocumentError` (with its context); a document is verified once
// per run, so the size of the `Err` variant does not matter.
#![allow(clippy::result_large_err)]

use std::cell::RefCell;

use sbomit_crypto::PublicKey;
use sbomit_intoto::model::{Inspection, Link};
use sbomit_intoto::verify::{
    InspectionRunner, SourceError, VerificationReport, VerifyError, VerifyOptions,
};

use crate::document::{Document, DocumentError, DocumentVerifyError};
use crate::roles::{self, Binding, BindingFailure};

/// Why an inspection did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotRunReason {
    /// The verifier gave no final product to run inspections in.
    NoProduct,
}

impl std::fmt::Display for NotRunReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRunReason::NoProduct => f.write_str("no final product to run inspections in"),
        }
    }
}

/// The inspection at which verification stopped because it could not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InspectionNotRun {
    /// Its name, prefixed by the sublayout steps leading to it (`step > inspection`).
    pub inspection: String,
    pub reason: NotRunReason,
}

/// Whether inspections could run at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InspectionMode {
    /// A runner was given: every inspection reached ran.
    Run,
    /// No runner: an inspection reached stops verification ([`DocumentOutcome::Incomplete`]);
    /// a layout without inspections still verifies fully.
    NotRun(NotRunReason),
}

/// Which inspections ran and whether they could.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspections {
    pub mode: InspectionMode,
    /// The inspections that ran, in the order they ran (names as the layouts give them).
    pub ran: Vec<String>,
}

/// How a document's verification ended.
#[derive(Debug)]
pub enum DocumentOutcome {
    /// Verification ran to the end: passed or failed, as the report says.
    Report(Box<VerificationReport>),
    /// An addendum was not acceptable; nothing after it was checked.
    Addendum(DocumentError),
    /// An inspection had to run and could not; it and the rules after it were not checked.
    Incomplete(InspectionNotRun),
    /// The in-toto chain verified, but a part of the base document is not what the layout's
    /// mutator signed (or is signed by no one): see [`crate::roles::check_binding`].
    Unbound(BindingFailure),
}

/// The outcome of verifying a document.
#[derive(Debug)]
pub struct DocumentVerification {
    pub outcome: DocumentOutcome,
    pub inspections: Inspections,
    /// How the base document is bound, when verification passed.
    pub binding: Option<Binding>,
}

impl DocumentVerification {
    /// True when verification ran to the end and passed.
    pub fn passed(&self) -> bool {
        matches!(&self.outcome, DocumentOutcome::Report(r) if r.passed())
    }

    /// The report, when verification ran to the end.
    pub fn report(&self) -> Option<&VerificationReport> {
        match &self.outcome {
            DocumentOutcome::Report(r) => Some(r),
            _ => None,
        }
    }
}

/// Verifies `doc`: its addenda against `layout_keys` and `addendum_keys`, then in-toto
/// verification of its (amended) layout over its embedded links. Inspections run through
/// `inspections`; without a runner, none runs and reaching one makes the outcome
/// [`DocumentOutcome::Incomplete`].
///
/// `Err` is for a document that cannot be verified at all (malformed metadata, no layout
/// keys, ...); an addendum that is not acceptable is an outcome.
pub fn verify_document(
    doc: &Document,
    layout_keys: &[PublicKey],
    addendum_keys: &[PublicKey],
    options: &VerifyOptions,
    inspections: Option<&dyn InspectionRunner>,
) -> Result<DocumentVerification, DocumentVerifyError> {
    let (mode, result, ran) = match inspections {
        Some(runner) => {
            let recording = Recording {
                inner: runner,
                ran: RefCell::new(Vec::new()),
            };
            let result = doc.verify(layout_keys, addendum_keys, options, &recording);
            (InspectionMode::Run, result, recording.ran.into_inner())
        }
        None => {
            let reason = NotRunReason::NoProduct;
            let result = doc.verify(layout_keys, addendum_keys, options, &Refusing(reason));
            (InspectionMode::NotRun(reason), result, Vec::new())
        }
    };
    let inspections = Inspections { mode, ran };
    let outcome = match result {
        Ok(report) if report.passed() => match bind(doc) {
            Ok(binding) => {
                return Ok(DocumentVerification {
                    outcome: DocumentOutcome::Report(Box::new(report)),
                    inspections,
                    binding: Some(binding),
                })
            }
            Err(f) => DocumentOutcome::Unbound(f),
        },
        Ok(report) => DocumentOutcome::Report(Box::new(report)),
        Err(DocumentVerifyError::Document(e @ DocumentError::Addendum { .. })) => {
            DocumentOutcome::Addendum(e)
        }
        Err(DocumentVerifyError::Verify(e)) => match not_run(&e) {
            Some(reason) => DocumentOutcome::Incomplete(InspectionNotRun {
                inspection: inspection_path(&e),
                reason,
            }),
            None => return Err(DocumentVerifyError::Verify(e)),
        },
        Err(e) => return Err(e),
    };
    Ok(DocumentVerification {
        outcome,
        inspections,
        binding: None,
    })
}

/// Checks the base document (without addenda) against its mutator links.
fn bind(doc: &Document) -> Result<Binding, BindingFailure> {
    let base = doc.version(0).unwrap_or_else(|| doc.clone());
    let layout = roles::layout_of(&base).map_err(|_| BindingFailure {
        part: "/layout".into(),
        problem: roles::BindingProblem::NotSigned,
        step: None,
    })?;
    roles::check_binding(&base, &layout)
}

/// Passes inspections to the given runner, noting which ran.
struct Recording<'a> {
    inner: &'a dyn InspectionRunner,
    ran: RefCell<Vec<String>>,
}

impl InspectionRunner for Recording<'_> {
    fn run(&self, inspection: &Inspection) -> Result<Link, SourceError> {
        let link = self.inner.run(inspection)?;
        self.ran.borrow_mut().push(inspection.name.clone());
        Ok(link)
    }
}

/// The runner used when inspections cannot run: it refuses, so that no inspection counts as
/// passed, and its error tells [`verify_document`] why.
struct Refusing(NotRunReason);

#[derive(Debug)]
struct Refused(NotRunReason);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "inspection not run: {}", self.0)
    }
}

impl std::error::Error for Refused {}

impl InspectionRunner for Refusing {
    fn run(&self, _: &Inspection) -> Result<Link, SourceError> {
        Err(Box::new(Refused(self.0)))
    }
}

/// Why verification stopped, when it stopped at an inspection [`Refusing`] refused.
fn not_run(e: &(dyn std::error::Error + 'static)) -> Option<NotRunReason> {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(Refused(reason)) = e.downcast_ref::<Refused>() {
            return Some(*reason);
        }
        cur = e.source();
    }
    None
}

/// `step > ... > inspection` for an inspection error inside sublayouts.
fn inspection_path(e: &VerifyError) -> String {
    match e {
        VerifyError::Inspection { inspection, .. } => inspection.clone(),
        VerifyError::Sublayout { step, source, .. } => {
            format!("{step} > {}", inspection_path(source))
        }
        _ => String::new(),
    }
}
